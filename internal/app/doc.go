// Package app is the composition root: it builds every part of Trustward
// from a Config (store, keys, records, audit, identity, access, web), loads
// the demo hospital, and starts and stops the server. It holds no domain
// logic of its own.
package app
