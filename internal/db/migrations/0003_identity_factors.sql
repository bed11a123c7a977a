-- Second factors of an account: one TOTP authenticator and a set of
-- single-use recovery codes. Times are microseconds since the Unix epoch.

-- A user's TOTP authenticator. Secrets are sealed under the user's own data
-- key (subject "user/<id>"); a pending secret waits for its first correct
-- code and does not replace the active one until then. last_step is the
-- last accepted 30-second time step: a code is accepted only by a
-- conditional UPDATE that raises it, so each step is used at most once.
CREATE TABLE totp_factors (
  user_id TEXT PRIMARY KEY,
  secret {{BYTES}},
  confirmed_at BIGINT,
  last_step BIGINT NOT NULL DEFAULT -1,
  last_used_at BIGINT,
  pending_secret {{BYTES}},
  pending_at BIGINT,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT
);

-- Recovery codes: SHA-256 of the user id and the code (the codes carry 50
-- random bits each, so a fast hash is enough); used_at is set once, by a
-- conditional UPDATE, when a code is spent.
CREATE TABLE recovery_codes (
  code_hash {{BYTES}} PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);
