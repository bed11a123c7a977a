-- Fresh authentication and known devices (internal/identity reauth.go and
-- devices.go, decisions 0037 and 0038). Times are microseconds since the
-- Unix epoch.

-- auth_at is when the session's owner last proved who they are: the
-- sign-in that opened it (password and second factor, or a passkey), or a
-- later re-authentication. Sensitive actions need it within five minutes.
-- A session opened before this migration counts from its sign-in.
ALTER TABLE sessions ADD COLUMN auth_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET auth_at = created_at;

-- The devices (browsers) each account has signed in from, for the notice
-- of a sign-in from a new one. device_hash is the SHA-256 of the account
-- id and the random id kept in the browser's device cookie: never the
-- cookie itself, and not the same for two accounts that share a browser,
-- so that the table cannot link them. Rows not seen for 400 days (the
-- cookie's lifetime) are swept when the account signs in.
CREATE TABLE known_devices (
  user_id TEXT NOT NULL,
  device_hash {{BYTES}} NOT NULL,
  first_seen_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_hash)
);
