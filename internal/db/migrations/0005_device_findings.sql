-- Vulnerability findings on devices and their remediation.
CREATE TABLE device_findings (
  device_id TEXT NOT NULL,
  component TEXT NOT NULL,
  advisory TEXT NOT NULL,
  aliases TEXT NOT NULL,
  ecosystem TEXT NOT NULL,
  package TEXT NOT NULL,
  version TEXT NOT NULL,
  fixed_versions TEXT NOT NULL,
  cvss REAL,
  kev INTEGER NOT NULL,
  epss REAL,
  status TEXT NOT NULL,
  vex_justification TEXT NOT NULL,
  risk_score INTEGER NOT NULL,
  risk_tier TEXT NOT NULL,
  reasons TEXT NOT NULL,
  due_at BIGINT NOT NULL,
  owner TEXT NOT NULL,
  control TEXT NOT NULL,
  control_expires_at BIGINT,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  resolved_at BIGINT,
  PRIMARY KEY (device_id, component, advisory)
);
CREATE INDEX device_findings_queue ON device_findings (status, risk_score);
CREATE INDEX device_findings_advisory ON device_findings (advisory);

-- The history of each finding: status changes, VEX, controls.
CREATE TABLE device_finding_events (
  id {{SERIAL_PK}},
  device_id TEXT NOT NULL,
  component TEXT NOT NULL,
  advisory TEXT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  change TEXT NOT NULL
);
CREATE INDEX device_finding_events_key ON device_finding_events (device_id, advisory, at);
