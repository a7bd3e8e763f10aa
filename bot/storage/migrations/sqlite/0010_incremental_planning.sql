-- Incremental planning (bot/services/reminders.py): a tick plans only the patients whose plan
-- is behind the horizon or out of date, instead of every patient every 30 seconds.
--
-- plan_state holds, per patient, how far ahead their reminders are planned (planned_through,
-- a UTC instant; NULL: their plan is out of date and is made again from now on) and a version
-- that every change which can alter the plan raises. The triggers below raise it in the same
-- transaction as the change, whoever makes it (the bot, the admin CLI in another process, a
-- clinic's own SQL), so no change is missed. The planner writes planned_through only if the
-- version is still the one it read before computing: a change made meanwhile leaves the
-- patient out of date, and the next tick plans them again.
CREATE TABLE plan_state (
    patient_id       INTEGER PRIMARY KEY REFERENCES patients (id) ON DELETE CASCADE,
    version          INTEGER NOT NULL DEFAULT 1,
    planned_through  TEXT
);
CREATE INDEX plan_state_through ON plan_state (planned_through);
INSERT INTO plan_state (patient_id) SELECT id FROM patients;

CREATE TRIGGER plan_state_new_patient AFTER INSERT ON patients
BEGIN
    INSERT OR REPLACE INTO plan_state (patient_id) VALUES (NEW.id);
END;

-- The patient's zone, check-in time, consent, status (withdrawn, unreachable, ...), pause and
-- chat. The language is left out: a message is rendered in it when it is sent.
CREATE TRIGGER plan_state_patient_changed
AFTER UPDATE OF timezone, checkin_time, status, reminders_paused, chat_id, consented_at
ON patients
WHEN OLD.timezone IS NOT NEW.timezone
    OR OLD.checkin_time IS NOT NEW.checkin_time
    OR OLD.status IS NOT NEW.status
    OR OLD.reminders_paused IS NOT NEW.reminders_paused
    OR OLD.chat_id IS NOT NEW.chat_id
    OR OLD.consented_at IS NOT NEW.consented_at
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL WHERE patient_id = NEW.id;
END;

CREATE TRIGGER plan_state_medication_added AFTER INSERT ON medications
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = NEW.patient_id;
END;

CREATE TRIGGER plan_state_medication_changed AFTER UPDATE ON medications
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id IN (OLD.patient_id, NEW.patient_id);
END;

CREATE TRIGGER plan_state_medication_deleted AFTER DELETE ON medications
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = OLD.patient_id;
END;

CREATE TRIGGER plan_state_course_added AFTER INSERT ON tms_courses
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = NEW.patient_id;
END;

CREATE TRIGGER plan_state_course_changed AFTER UPDATE ON tms_courses
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id IN (OLD.patient_id, NEW.patient_id);
END;

CREATE TRIGGER plan_state_appointment_added AFTER INSERT ON appointments
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = NEW.patient_id;
END;

-- Attendance (`companion tms mark`) changes no reminder, so only these columns count.
CREATE TRIGGER plan_state_appointment_changed
AFTER UPDATE OF patient_id, kind, starts_at, status ON appointments
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id IN (OLD.patient_id, NEW.patient_id);
END;

CREATE TRIGGER plan_state_appointment_deleted AFTER DELETE ON appointments
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = OLD.patient_id;
END;

-- A naltrexone course's end brings the loss-of-tolerance message only if one of its dose
-- reminders went out (bot/services/jit.py). The first dose reminder ever sent for a medicine
-- that has an end date or was removed can therefore change the plan: the patient is planned
-- again. Once per medicine, so the dispatcher's sends cost one index look-up each.
CREATE INDEX deliveries_dose_sent ON deliveries (ref_id) WHERE kind = 'dose' AND sent_at IS NOT NULL;

CREATE TRIGGER plan_state_first_dose_sent AFTER UPDATE OF sent_at ON deliveries
WHEN NEW.kind = 'dose' AND OLD.sent_at IS NULL AND NEW.sent_at IS NOT NULL
    AND NEW.patient_id IS NOT NULL
    AND NOT EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.kind = 'dose' AND d.sent_at IS NOT NULL AND d.ref_id = NEW.ref_id
            AND d.id != NEW.id
    )
    AND EXISTS (
        SELECT 1 FROM medications m
        WHERE m.id = NEW.ref_id AND (m.end_date IS NOT NULL OR m.active = 0)
    )
BEGIN
    UPDATE plan_state SET version = version + 1, planned_through = NULL
    WHERE patient_id = NEW.patient_id;
END;
