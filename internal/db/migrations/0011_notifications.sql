-- Notifications to users (internal/notify): shown in the portal and, when
-- the user gave an email address, announced by email. The message (title
-- and body) is sealed under the patient's key (subject_key); the email
-- carries no patient data, only that there is a notice to read.

-- An optional email address per account, for notices and recovery.
ALTER TABLE users ADD COLUMN email TEXT;

CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  subject_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  message {{BYTES}} NOT NULL,
  created_at BIGINT NOT NULL,
  read_at BIGINT,
  -- none (no address), pending, sent or failed (gave up after retries)
  email_state TEXT NOT NULL,
  email_attempts INTEGER NOT NULL DEFAULT 0,
  email_next_at BIGINT,
  email_error TEXT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);
CREATE INDEX notifications_outbox ON notifications (email_state, email_next_at);
