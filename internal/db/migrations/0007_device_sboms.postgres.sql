-- CVSS and EPSS were 4-byte REAL in PostgreSQL (0005), which turned a
-- CVSS of 9.9 into 9.899999618530273; SQLite's REAL is already 8 bytes.
ALTER TABLE device_findings ALTER COLUMN cvss TYPE DOUBLE PRECISION;
ALTER TABLE device_findings ALTER COLUMN epss TYPE DOUBLE PRECISION;
