// Package identity owns accounts, roles, passwords (argon2id, the NIST SP
// 800-63B policy with its blocklist, a strength estimate, an optional
// breached-password check), second factors (TOTP, recovery codes and
// passkeys through go-webauthn, tied together by MFA, the second step of
// a password sign-in), invitation codes for patient registration, account
// recovery (a link by email, an administrator's enrolment code), and
// sessions. Sign-ins, failures, registrations, sign-outs and every
// second-factor action are audit events.
//
// It must never store or log a password, a session token, a TOTP secret
// or passkey record in the clear, a recovery code, or the token of a
// recovery link or enrolment code: only hashes or sealed values are kept. It makes no HTTP calls itself (the breach check
// takes a fetcher).
package identity
