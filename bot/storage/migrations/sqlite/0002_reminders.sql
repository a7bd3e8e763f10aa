-- Schedules (medications, dTMS courses, appointments) and deliveries: every message the bot
-- sends on its own initiative is a delivery row with a UTC due time and a unique dedupe key.

CREATE TABLE medications (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    dose_text   TEXT    NOT NULL,      -- as the prescriber wrote it; shown, never computed with
    times       TEXT    NOT NULL,      -- "08:00,20:00", local wall-clock times
    weekdays    TEXT    NOT NULL,      -- "mon-fri", "daily", "mon,wed,fri"
    start_date  TEXT    NOT NULL,      -- local date, inclusive
    end_date    TEXT,                  -- local date, inclusive; NULL = open-ended
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX medications_by_patient ON medications (patient_id, active);

CREATE TABLE tms_courses (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    start_date  TEXT    NOT NULL,
    weekdays    TEXT    NOT NULL,
    time        TEXT    NOT NULL,
    sessions    INTEGER NOT NULL CHECK (sessions BETWEEN 1 AND 200),
    location    TEXT,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at  TEXT    NOT NULL
);
CREATE INDEX tms_courses_by_patient ON tms_courses (patient_id, active);

CREATE TABLE appointments (
    id              INTEGER PRIMARY KEY,
    patient_id      INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL
                    CHECK (kind IN ('dtms', 'therapy', 'prescriber', 'group', 'other')),
    starts_at       TEXT    NOT NULL,  -- UTC instant
    local_start     TEXT    NOT NULL,  -- wall-clock time as entered, "2026-12-03T15:00"
    timezone        TEXT    NOT NULL,  -- the zone local_start was entered in
    location        TEXT,
    course_id       INTEGER REFERENCES tms_courses (id) ON DELETE CASCADE,
    session_number  INTEGER,
    sessions_total  INTEGER,
    status          TEXT    NOT NULL DEFAULT 'scheduled'
                    CHECK (status IN ('scheduled', 'confirmed', 'reschedule_requested',
                                      'cancelled')),
    created_at      TEXT    NOT NULL
);
CREATE INDEX appointments_by_patient ON appointments (patient_id, starts_at);

CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    dedupe_key       TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL,  -- dose, appt_evening, appt_hour, alert
    patient_id       INTEGER REFERENCES patients (id) ON DELETE CASCADE,
    clinician_id     INTEGER REFERENCES clinicians (id) ON DELETE CASCADE,
    chat_id          INTEGER NOT NULL,
    ref_id           INTEGER,           -- medication, appointment or alert id
    local_date       TEXT,
    slot             TEXT,
    priority         INTEGER NOT NULL DEFAULT 5,  -- lower goes first; alerts are 0
    due_at           TEXT    NOT NULL,
    expires_at       TEXT    NOT NULL,  -- after this, not sent but recorded as missed
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'answered', 'missed',
                                       'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    unknown_sends    INTEGER NOT NULL DEFAULT 0,  -- sends whose outcome Telegram never told
    repeats_sent     INTEGER NOT NULL DEFAULT 0,
    next_repeat_at   TEXT,
    message_id       INTEGER,
    response         TEXT,              -- taken, skipped, snoozed, attending, reschedule
    response_detail  TEXT,              -- snooze minutes or skip reason code
    miss_reason      TEXT,              -- no_answer, not_sent, unreachable
    created_at       TEXT    NOT NULL,
    sent_at          TEXT,
    answered_at      TEXT,
    last_error       TEXT               -- an error type name, never message text
);
CREATE INDEX deliveries_due ON deliveries (status, due_at);
CREATE INDEX deliveries_repeat ON deliveries (status, next_repeat_at);
CREATE INDEX deliveries_by_patient ON deliveries (patient_id, due_at);
