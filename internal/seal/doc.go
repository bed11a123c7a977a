// Package seal owns envelope encryption of patient data at rest. A
// key-encryption key (KEK) from a key file, behind the KeyEncrypter
// interface so that a KMS can take its place, wraps one random data key per
// subject ("patient/<id>", or a named directory key); data is sealed with
// AES-256-GCM under the subject's data key with the record's identity as
// associated data. Rotating the KEK re-wraps data keys without touching the
// data; destroying a subject's data key (crypto-shredding) makes every record
// sealed under it unreadable for good.
//
// It must never write a key or a plaintext to a log, and never store a data
// key unwrapped.
package seal
