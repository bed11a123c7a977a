-- Device and clinical-system inventory (no patient data).
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  class TEXT NOT NULL,
  manufacturer TEXT NOT NULL,
  model TEXT NOT NULL,
  serial TEXT NOT NULL,
  software_version TEXT NOT NULL,
  firmware_version TEXT NOT NULL,
  os TEXT NOT NULL,
  os_end_of_support BIGINT,
  zone TEXT NOT NULL,
  location TEXT NOT NULL,
  care_unit TEXT NOT NULL,
  clinical_function TEXT NOT NULL,
  criticality TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX devices_serial ON devices (manufacturer, model, serial);
CREATE INDEX devices_class ON devices (class);
CREATE INDEX devices_zone ON devices (zone);
