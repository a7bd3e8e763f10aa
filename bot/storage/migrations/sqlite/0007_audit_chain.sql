-- A tamper-evident audit log: every row carries the SHA-256 of the previous row's hash and its
-- own content (see bot/storage/audit.py), and triggers keep the table append-only.
--
-- Rows written before this migration keep NULL hashes: SQLite has no SHA-256 and migrations
-- stay plain SQL, so the chain starts at the first row written after it (its prev_hash is 64
-- zeros) and `companion audit verify` counts the older rows apart.
--
-- Erasure (/delete) must keep the audit rows yet remove the patient link, so the hash covers
-- pseudonymous references instead of the raw ids: subject_ref is the patient's random key from
-- audit_subjects, actor_ref the same key when a patient acted (a clinician's or the CLI's id
-- otherwise). Erasure deletes the key with the patient and sets patient_id (and a patient
-- actor's actor_id) to NULL; the hashed columns are untouched, so the chain still verifies.
ALTER TABLE audit_log ADD COLUMN actor_ref TEXT;
ALTER TABLE audit_log ADD COLUMN subject_ref TEXT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN row_hash TEXT;

CREATE TABLE audit_subjects (
    patient_id  INTEGER PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    ref         TEXT    NOT NULL UNIQUE
);

CREATE TRIGGER audit_log_insert_chained BEFORE INSERT ON audit_log
WHEN NEW.row_hash IS NULL OR NEW.prev_hash IS NULL
    OR NEW.actor_ref IS NULL OR NEW.subject_ref IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are written with their hash chain');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- The one update allowed is erasure's de-link: patient_id, and the actor_id of a patient
-- actor, set to NULL; nothing else may change.
CREATE TRIGGER audit_log_only_delink BEFORE UPDATE ON audit_log
WHEN NOT (
    NEW.id IS OLD.id
    AND NEW.at IS OLD.at
    AND NEW.actor_kind IS OLD.actor_kind
    AND NEW.action IS OLD.action
    AND NEW.actor_ref IS OLD.actor_ref
    AND NEW.subject_ref IS OLD.subject_ref
    AND NEW.prev_hash IS OLD.prev_hash
    AND NEW.row_hash IS OLD.row_hash
    AND (NEW.patient_id IS OLD.patient_id OR NEW.patient_id IS NULL)
    AND (NEW.actor_id IS OLD.actor_id OR (NEW.actor_id IS NULL AND OLD.actor_kind = 'patient'))
)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
