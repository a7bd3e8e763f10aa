-- A tamper-evident audit log: the PostgreSQL form of sqlite/0007_audit_chain.sql. Every row
-- carries the SHA-256 of the previous row's hash and its own content (bot/storage/audit.py), and
-- triggers keep the table append-only; erasure may only de-link a row from its patient.
ALTER TABLE audit_log ADD COLUMN actor_ref TEXT;
ALTER TABLE audit_log ADD COLUMN subject_ref TEXT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN row_hash TEXT;

CREATE TABLE audit_subjects (
    patient_id  BIGINT  PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    ref         TEXT    NOT NULL UNIQUE
);

CREATE FUNCTION audit_log_insert_chained() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.row_hash IS NULL OR NEW.prev_hash IS NULL
        OR NEW.actor_ref IS NULL OR NEW.subject_ref IS NULL THEN
        RAISE EXCEPTION 'audit_log rows are written with their hash chain';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_insert_chained BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_insert_chained();

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- The one update allowed is erasure's de-link: patient_id, and the actor_id of a patient
-- actor, set to NULL; nothing else may change.
CREATE TRIGGER audit_log_only_delink BEFORE UPDATE ON audit_log
    FOR EACH ROW WHEN (NOT (
        NEW.id IS NOT DISTINCT FROM OLD.id
        AND NEW.at IS NOT DISTINCT FROM OLD.at
        AND NEW.actor_kind IS NOT DISTINCT FROM OLD.actor_kind
        AND NEW.action IS NOT DISTINCT FROM OLD.action
        AND NEW.actor_ref IS NOT DISTINCT FROM OLD.actor_ref
        AND NEW.subject_ref IS NOT DISTINCT FROM OLD.subject_ref
        AND NEW.prev_hash IS NOT DISTINCT FROM OLD.prev_hash
        AND NEW.row_hash IS NOT DISTINCT FROM OLD.row_hash
        AND (NEW.patient_id IS NOT DISTINCT FROM OLD.patient_id OR NEW.patient_id IS NULL)
        AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id
             OR (NEW.actor_id IS NULL AND OLD.actor_kind = 'patient'))
    ))
    EXECUTE FUNCTION audit_log_append_only();
