-- Foundation schema: sealed keys, FHIR resources, the access-control index,
-- users and sessions, break-the-glass grants and the audit event store.
-- Times are microseconds since the Unix epoch (BIGINT) in both engines.

-- Per-subject data keys wrapped by the key-encryption key. A subject is
-- "patient/<id>" or a named directory key. Crypto-shredding empties wrapped.
CREATE TABLE seal_keys (
  subject TEXT PRIMARY KEY,
  kek_id TEXT NOT NULL,
  wrapped {{BYTES}},
  created_at BIGINT NOT NULL,
  destroyed_at BIGINT
);
CREATE INDEX seal_keys_kek ON seal_keys (kek_id);

-- FHIR resources, the JSON sealed with the compartment's data key.
CREATE TABLE resources (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version BIGINT NOT NULL,
  patient_id TEXT,
  updated_at BIGINT NOT NULL,
  body {{BYTES}} NOT NULL,
  PRIMARY KEY (type, id)
);
CREATE INDEX resources_patient ON resources (patient_id, type);

-- Blind index for patient search: HMAC of normalised name, birth date and
-- identifier tokens; never the tokens themselves.
CREATE TABLE patient_search (
  token {{BYTES}} NOT NULL,
  patient_id TEXT NOT NULL,
  PRIMARY KEY (token, patient_id)
);
CREATE INDEX patient_search_patient ON patient_search (patient_id);

-- Care relationships for the policy decision: who is on a patient's care
-- team or an encounter (internal identifiers only).
CREATE TABLE care_links (
  patient_id TEXT NOT NULL,
  practitioner_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  start_at BIGINT,
  end_at BIGINT,
  PRIMARY KEY (patient_id, practitioner_id, source)
);
CREATE INDEX care_links_practitioner ON care_links (practitioner_id);
CREATE INDEX care_links_source ON care_links (source);

-- Encounters by department, for "same department as an open encounter".
CREATE TABLE encounter_units (
  encounter_id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  department_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_at BIGINT,
  end_at BIGINT
);
CREATE INDEX encounter_units_patient ON encounter_units (patient_id, department_id);

-- Staff placement from PractitionerRole.
CREATE TABLE staff_units (
  role_id TEXT PRIMARY KEY,
  practitioner_id TEXT NOT NULL,
  department_id TEXT NOT NULL,
  code TEXT NOT NULL
);
CREATE INDEX staff_units_practitioner ON staff_units (practitioner_id);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  practitioner_id TEXT,
  patient_id TEXT,
  department_id TEXT,
  password_hash TEXT,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT,
  disabled_at BIGINT,
  created_at BIGINT NOT NULL
);
CREATE INDEX users_practitioner ON users (practitioner_id);

CREATE TABLE sessions (
  token_hash {{BYTES}} PRIMARY KEY,
  user_id TEXT NOT NULL,
  area TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  idle_seconds BIGINT NOT NULL,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE break_glass (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  reason_code TEXT NOT NULL,
  reason_text {{BYTES}} NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  reviewed_at BIGINT,
  reviewed_by TEXT,
  review_outcome TEXT
);
CREATE INDEX break_glass_grant ON break_glass (user_id, patient_id, expires_at);
CREATE INDEX break_glass_review ON break_glass (reviewed_at, created_at);

-- Access events. The full canonical event is sealed in body; the plain
-- columns are internal identifiers and codes for queries. ledger_index is
-- the seam for the transparency log: NULL until the event is sequenced.
CREATE TABLE audit_events (
  seq {{SERIAL_PK}},
  id TEXT NOT NULL UNIQUE,
  recorded_at BIGINT NOT NULL,
  occurred_at BIGINT NOT NULL,
  actor_id TEXT NOT NULL,
  patient_id TEXT,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  purpose TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  break_glass INTEGER NOT NULL,
  source TEXT NOT NULL,
  body {{BYTES}} NOT NULL,
  ledger_index BIGINT
);
CREATE INDEX audit_patient_time ON audit_events (patient_id, occurred_at);
CREATE INDEX audit_actor_time ON audit_events (actor_id, occurred_at);
CREATE INDEX audit_time ON audit_events (occurred_at);
CREATE INDEX audit_unledgered ON audit_events (seq) WHERE ledger_index IS NULL;
