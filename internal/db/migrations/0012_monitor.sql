-- Privacy monitoring in the server (internal/monitor/cases).

-- The context that explains accesses: FHIR R4 resources (Organization,
-- Practitioner, PractitionerRole, Patient, RelatedPerson, Encounter,
-- CareTeam, Appointment, ServiceRequest, MedicationRequest), each sealed
-- under the key of the patient it concerns (staff and departments under
-- their own subjects). id is "Type/id"; a resource sent again replaces
-- the stored one and keeps its place (seq) in the load order.
CREATE TABLE monitor_context (
  seq {{SERIAL_PK}},
  id TEXT NOT NULL UNIQUE,
  subject_key TEXT NOT NULL,
  body {{BYTES}} NOT NULL,
  updated_at BIGINT NOT NULL
);

-- The explanation of each access event: a kind from
-- internal/monitor/explain, never patient data.
CREATE TABLE monitor_explanations (
  event_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL
);

-- Alerts raised by the detectors. Reasons are plain text about the
-- relationship and behaviour (never names); score is in hundredths.
-- case_id is empty when an earlier verdict suppressed the alert
-- (suppressed_by names that case).
CREATE TABLE monitor_alerts (
  event_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  patient_id TEXT,
  occurred_at BIGINT NOT NULL,
  score INTEGER NOT NULL,
  reasons TEXT NOT NULL,
  case_id TEXT,
  suppressed_by TEXT
);
CREATE INDEX monitor_alerts_case ON monitor_alerts (case_id, occurred_at);

-- Cases group one user's alerts until a verdict; later alerts open a
-- new case. status: new, investigating, decided. verdict: appropriate,
-- inappropriate, hr.
CREATE TABLE monitor_cases (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  -- the user's name and role as the first alert's event gave them
  user_name TEXT NOT NULL,
  user_role TEXT NOT NULL,
  status TEXT NOT NULL,
  verdict TEXT,
  score INTEGER NOT NULL,
  alerts INTEGER NOT NULL,
  patients INTEGER NOT NULL,
  opened_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  decided_at BIGINT,
  assignee TEXT,
  warned_at BIGINT
);
CREATE INDEX monitor_cases_user ON monitor_cases (user_id, status);
CREATE INDEX monitor_cases_queue ON monitor_cases (status, score);

-- The case's history: every step an officer took, and the system's own
-- (opened, warned). Notes are sealed under "office/case/<id>".
CREATE TABLE monitor_case_log (
  seq {{SERIAL_PK}},
  case_id TEXT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  note {{BYTES}}
);
CREATE INDEX monitor_case_log_case ON monitor_case_log (case_id, seq);

-- Reasons an "appropriate" verdict explained for a user and a patient:
-- a later alert about the same pair whose reasons are all here is
-- suppressed, not queued.
CREATE TABLE monitor_suppressions (
  user_id TEXT NOT NULL,
  patient_id TEXT NOT NULL,
  reason_key TEXT NOT NULL,
  case_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, patient_id, reason_key)
);

-- How far the service has written explanations (audit_events.seq).
CREATE TABLE monitor_state (
  name TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
