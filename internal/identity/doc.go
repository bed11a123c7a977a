// Package identity owns accounts, roles, password hashing (argon2id) and
// sessions. Every sign-in, failed sign-in and session end is an audit event.
//
// It must never store or log a password or a session token: only their
// hashes are kept.
package identity
