-- Patient portal: invitation codes that link an account to a record, and
-- patients' reports of accesses that look wrong.
CREATE TABLE patient_invitations (
  code_hash {{BYTES}} PRIMARY KEY,
  patient_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT,
  used_by TEXT
);
CREATE INDEX patient_invitations_patient ON patient_invitations (patient_id);

CREATE TABLE access_reports (
  id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  reporter TEXT NOT NULL,
  note {{BYTES}} NOT NULL,
  status TEXT NOT NULL,
  outcome {{BYTES}},
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX access_reports_patient ON access_reports (patient_id, created_at);
CREATE INDEX access_reports_status ON access_reports (status, created_at);
