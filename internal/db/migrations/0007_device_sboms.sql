-- SBOMs and VEX documents per device (internal/devices/assess.go), their
-- parsed components, manual VEX overrides, and the state after each
-- finding event (for exposure over time). No patient data.

-- Each uploaded SBOM, kept as uploaded. An upload supersedes the device's
-- current SBOM of the same subject (superseded_at set); the device's
-- components are those of its current SBOMs.
CREATE TABLE device_sboms (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  format TEXT NOT NULL,
  encoding TEXT NOT NULL,
  spec_version TEXT NOT NULL,
  subject TEXT NOT NULL,
  subject_purl TEXT NOT NULL,
  subject_cpe TEXT NOT NULL,
  subject_ref TEXT NOT NULL,
  serial_number TEXT NOT NULL,
  bom_version INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  raw {{BYTES}} NOT NULL,
  components INTEGER NOT NULL,
  problems TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at BIGINT NOT NULL,
  superseded_at BIGINT
);
CREATE INDEX device_sboms_device ON device_sboms (device_id, uploaded_at);

-- The components of each SBOM, in document order. match_state and
-- match_note are written by each evaluation: checked, or unmatched and
-- why (no purl or CPE, CPE only, an ecosystem without advisories, no
-- version).
CREATE TABLE device_sbom_components (
  sbom_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ref TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  purl TEXT NOT NULL,
  raw_purl TEXT NOT NULL,
  cpe TEXT NOT NULL,
  supplier TEXT NOT NULL,
  level_of_support TEXT NOT NULL,
  end_of_support TEXT NOT NULL,
  end_of_support_at BIGINT,
  match_state TEXT NOT NULL,
  match_note TEXT NOT NULL,
  PRIMARY KEY (sbom_id, seq)
);

-- VEX documents uploaded for a device, kept as uploaded; they are parsed
-- again at each evaluation (they are small).
CREATE TABLE device_vex (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  format TEXT NOT NULL,
  document_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  raw {{BYTES}} NOT NULL,
  statements INTEGER NOT NULL,
  unknown_products TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at BIGINT NOT NULL
);
CREATE INDEX device_vex_device ON device_vex (device_id, uploaded_at);

-- A person's VEX statement about one finding of one device; it wins over
-- VEX documents (docs/decisions).
CREATE TABLE device_vex_overrides (
  device_id TEXT NOT NULL,
  component TEXT NOT NULL,
  advisory TEXT NOT NULL,
  status TEXT NOT NULL,
  justification TEXT NOT NULL,
  actor TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (device_id, component, advisory)
);

-- The finding's status and risk tier after each event, so that exposure
-- over time is read from the history, not reconstructed from its text.
ALTER TABLE device_finding_events ADD COLUMN status TEXT;
ALTER TABLE device_finding_events ADD COLUMN tier TEXT;
CREATE INDEX device_finding_events_at ON device_finding_events (at);
