-- Passkeys (WebAuthn discoverable credentials) and the short-lived
-- server-side state of sign-in ceremonies. Times are microseconds since
-- the Unix epoch.

-- A user's WebAuthn user handle: 32 random bytes, not the account id, so
-- that an authenticator's list of accounts reveals nothing about ours. A
-- discoverable sign-in finds the account by this handle.
CREATE TABLE webauthn_handles (
  user_id TEXT PRIMARY KEY,
  handle {{BYTES}} NOT NULL UNIQUE
);

-- One row per passkey. id is the credential id chosen by the
-- authenticator; credential is the go-webauthn credential record (public
-- key, flags, transports, AAGUID) sealed under the user's data key, so
-- that a write to the store cannot swap in another public key. sign_count
-- is kept in the clear because it is raised by a conditional UPDATE: a
-- counter that does not grow (a cloned authenticator) is refused.
CREATE TABLE passkeys (
  id {{BYTES}} PRIMARY KEY,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  credential {{BYTES}} NOT NULL,
  sign_count BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A ceremony in progress: a WebAuthn registration or sign-in challenge, or
-- a password sign-in waiting for its second factor. binding is the
-- SHA-256 of the cookie the ceremony is bound to (the session cookie for a
-- registration, a ceremony cookie before sign-in); a WebAuthn challenge is
-- taken by DELETE ... RETURNING, so it is used at most once.
CREATE TABLE auth_ceremonies (
  binding {{BYTES}} NOT NULL,
  kind TEXT NOT NULL,
  user_id TEXT,
  data {{BYTES}} NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (binding, kind)
);
CREATE INDEX auth_ceremonies_expiry ON auth_ceremonies (expires_at);
