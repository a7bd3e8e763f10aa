-- Incremental planning: the PostgreSQL form of sqlite/0010_incremental_planning.sql (read it
-- for why). plan_state holds, per patient, how far ahead their reminders are planned and a
-- version that every change which can alter the plan raises, in the change's own transaction.
CREATE TABLE plan_state (
    patient_id       BIGINT  PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    version          BIGINT  NOT NULL DEFAULT 1,
    planned_through  TEXT
);
CREATE INDEX plan_state_through ON plan_state (planned_through);
INSERT INTO plan_state (patient_id) SELECT id FROM patients;

-- Marks one patient's plan out of date.
CREATE FUNCTION plan_state_touch(patient BIGINT) RETURNS void LANGUAGE sql AS $$
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = patient;
$$;

CREATE FUNCTION plan_state_new_patient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plan_state (patient_id) VALUES (NEW.id)
    ON CONFLICT (patient_id) DO UPDATE SET version = 1, planned_through = NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER plan_state_new_patient AFTER INSERT ON patients
    FOR EACH ROW EXECUTE FUNCTION plan_state_new_patient();

-- The patient's zone, check-in time, consent, status, pause and chat; not the language.
CREATE FUNCTION plan_state_patient_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM plan_state_touch(NEW.id);
    RETURN NULL;
END $$;
CREATE TRIGGER plan_state_patient_changed
    AFTER UPDATE OF timezone, checkin_time, status, reminders_paused, chat_id, consented_at
    ON patients
    FOR EACH ROW WHEN (
        OLD.timezone IS DISTINCT FROM NEW.timezone
        OR OLD.checkin_time IS DISTINCT FROM NEW.checkin_time
        OR OLD.status IS DISTINCT FROM NEW.status
        OR OLD.reminders_paused IS DISTINCT FROM NEW.reminders_paused
        OR OLD.chat_id IS DISTINCT FROM NEW.chat_id
        OR OLD.consented_at IS DISTINCT FROM NEW.consented_at
    )
    EXECUTE FUNCTION plan_state_patient_changed();

-- A schedule row added, changed or deleted: its patient (both, if it moved) is out of date.
CREATE FUNCTION plan_state_schedule_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Once per patient, as SQLite's "WHERE patient_id IN (OLD.patient_id, NEW.patient_id)".
    IF TG_OP = 'DELETE' THEN
        PERFORM plan_state_touch(OLD.patient_id);
    ELSE
        PERFORM plan_state_touch(NEW.patient_id);
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.patient_id IS DISTINCT FROM NEW.patient_id THEN
        PERFORM plan_state_touch(OLD.patient_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER plan_state_medication_changed AFTER INSERT OR UPDATE OR DELETE ON medications
    FOR EACH ROW EXECUTE FUNCTION plan_state_schedule_changed();
CREATE TRIGGER plan_state_course_changed AFTER INSERT OR UPDATE ON tms_courses
    FOR EACH ROW EXECUTE FUNCTION plan_state_schedule_changed();
CREATE TRIGGER plan_state_appointment_added AFTER INSERT OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION plan_state_schedule_changed();
-- Attendance (`companion tms mark`) changes no reminder, so only these columns count.
CREATE TRIGGER plan_state_appointment_changed
    AFTER UPDATE OF patient_id, kind, starts_at, status ON appointments
    FOR EACH ROW EXECUTE FUNCTION plan_state_schedule_changed();

-- The first dose reminder ever sent for a medicine that has an end date or was removed can
-- change the plan (the naltrexone loss-of-tolerance message): its patient is planned again.
CREATE INDEX deliveries_dose_sent ON deliveries (ref_id) WHERE kind = 'dose' AND sent_at IS NOT NULL;

CREATE FUNCTION plan_state_first_dose_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.kind = 'dose' AND d.sent_at IS NOT NULL AND d.ref_id = NEW.ref_id
            AND d.id != NEW.id
    ) AND EXISTS (
        SELECT 1 FROM medications m
        WHERE m.id = NEW.ref_id AND (m.end_date IS NOT NULL OR m.active = 0)
    ) THEN
        PERFORM plan_state_touch(NEW.patient_id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER plan_state_first_dose_sent AFTER UPDATE OF sent_at ON deliveries
    FOR EACH ROW WHEN (
        NEW.kind = 'dose' AND OLD.sent_at IS NULL AND NEW.sent_at IS NOT NULL
        AND NEW.patient_id IS NOT NULL
    )
    EXECUTE FUNCTION plan_state_first_dose_sent();
