-- The transparency log's side of the audit store (internal/audit
-- integrator.go, docs/ledger.md).

-- The 32-byte salt of an event's ledger commitment, sealed like the body
-- under the patient's data key (record "AuditEvent/<id>/ledger-salt"): the
-- patient receives it to open the commitment; shredding the patient makes
-- the commitment unopenable for good. NULL until the first ledgering round.
ALTER TABLE audit_events ADD COLUMN ledger_salt {{BYTES}};

-- An index is given to one event at most.
CREATE UNIQUE INDEX audit_ledger_index ON audit_events (ledger_index) WHERE ledger_index IS NOT NULL;

-- Intents of a ledgering round, written before its leaves are appended and
-- deleted when their indices are written back: what survives a crash is
-- settled against the log itself (the leaf bytes) on the next start.
CREATE TABLE ledger_pending (
  leaf_index BIGINT PRIMARY KEY,
  seq BIGINT NOT NULL UNIQUE,
  leaf {{BYTES}} NOT NULL,
  created_at BIGINT NOT NULL
);

-- Each patient's ledger secret (32 random bytes) sealed under the patient's
-- data key (record "LedgerPatient/<id>"): the key of the patient's
-- pseudonym in leaves. Shredding the patient makes the pseudonym
-- unrecomputable, so leaves can no longer be linked to the patient.
CREATE TABLE ledger_patients (
  patient_id TEXT PRIMARY KEY,
  secret {{BYTES}} NOT NULL,
  created_at BIGINT NOT NULL
);
