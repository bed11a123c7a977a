-- A round's intent carries the sealed salt of each event that had none, so
-- that the salt and the leaf index reach audit_events in one statement
-- when the round ends (internal/audit integrator.go, docs/ledger.md): two
-- statements per event instead of four. NULL when the event already had a
-- salt (written by an earlier version, which stored salts with the intent).
ALTER TABLE ledger_pending ADD COLUMN salt {{BYTES}};
