-- Account recovery (internal/identity/recover.go, decision 0039): a
-- patient's link sent by email, and an enrolment code an administrator
-- (or the command line) issues to a person who cannot sign in. Times are
-- microseconds since the Unix epoch.

-- token_hash is the SHA-256 of the link's token or of the code, never the
-- secret itself. kind is 'email' or 'admin'. A row is live while used_at
-- and revoked_at are NULL and expires_at is ahead: a newer request
-- revokes the older one, and completing a recovery spends the row by a
-- conditional UPDATE, so that it completes once. factor_at is when the
-- account's second factor was passed on this row, failures how many wrong
-- second factors were tried on it (five revoke it). issued_by and reason
-- are the administrator (or 'cli') and the reason they gave. Rows stay a
-- day after they expire, for the per-account limit of requests, and are
-- swept when new ones are written.
CREATE TABLE account_recoveries (
  token_hash {{BYTES}} PRIMARY KEY,
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  issued_by TEXT,
  reason TEXT,
  factor_at BIGINT,
  failures INTEGER NOT NULL DEFAULT 0,
  used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX account_recoveries_user ON account_recoveries (user_id, created_at);
CREATE INDEX account_recoveries_expiry ON account_recoveries (expires_at);

-- A recovery request names an email address in whatever case it is typed.
CREATE INDEX users_email ON users (lower(email));
