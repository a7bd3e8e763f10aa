-- Foundation: people, enrollment, consent, update de-duplication, alerts and the audit log.
-- Instants are ISO 8601 UTC text of fixed width ("2026-11-26T07:08:00+00:00"), so they sort
-- and compare as text.

CREATE TABLE clinicians (
    id           INTEGER PRIMARY KEY,
    telegram_id  INTEGER NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL DEFAULT 'clinician' CHECK (role IN ('clinician', 'admin')),
    active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at   TEXT    NOT NULL
);

CREATE TABLE patients (
    id                INTEGER PRIMARY KEY,
    label             TEXT    NOT NULL UNIQUE,
    telegram_user_id  INTEGER UNIQUE,
    chat_id           INTEGER,
    status            TEXT    NOT NULL DEFAULT 'invited'
                      CHECK (status IN ('invited', 'awaiting_consent', 'active', 'declined',
                                        'unreachable', 'withdrawn')),
    timezone          TEXT    NOT NULL,
    locale            TEXT    NOT NULL DEFAULT 'en',
    checkin_time      TEXT    NOT NULL DEFAULT '20:00',
    reminders_paused  INTEGER NOT NULL DEFAULT 0 CHECK (reminders_paused IN (0, 1)),
    created_at        TEXT    NOT NULL,
    enrolled_at       TEXT,
    consented_at      TEXT
);

CREATE TABLE care_team (
    patient_id    INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    clinician_id  INTEGER NOT NULL REFERENCES clinicians (id) ON DELETE CASCADE,
    PRIMARY KEY (patient_id, clinician_id)
);
CREATE INDEX care_team_by_clinician ON care_team (clinician_id);

CREATE TABLE invites (
    id            INTEGER PRIMARY KEY,
    code_hash     TEXT    NOT NULL UNIQUE,
    patient_id    INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    created_by    INTEGER REFERENCES clinicians (id) ON DELETE SET NULL,
    created_at    TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    used_at       TEXT,
    revoked_at    TEXT
);
CREATE INDEX invites_by_patient ON invites (patient_id);

CREATE TABLE consents (
    id          INTEGER PRIMARY KEY,
    patient_id  INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    version     TEXT    NOT NULL,
    decision    TEXT    NOT NULL CHECK (decision IN ('agreed', 'declined', 'withdrawn')),
    decided_at  TEXT    NOT NULL
);
CREATE INDEX consents_by_patient ON consents (patient_id, decided_at);

-- Updates already taken in; Telegram can restart update ids after a quiet week, so this keeps
-- "seen" for a short window instead of trusting "greater than the last".
CREATE TABLE processed_updates (
    update_id  INTEGER PRIMARY KEY,
    seen_at    TEXT    NOT NULL
);
CREATE INDEX processed_updates_by_time ON processed_updates (seen_at);

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    patient_id       INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL,
    severity         TEXT    NOT NULL CHECK (severity IN ('urgent', 'routine')),
    category         TEXT,
    created_at       TEXT    NOT NULL,
    acknowledged_by  INTEGER REFERENCES clinicians (id) ON DELETE SET NULL,
    acknowledged_at  TEXT
);
CREATE INDEX alerts_open ON alerts (patient_id, acknowledged_at);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    actor_kind  TEXT    NOT NULL CHECK (actor_kind IN ('clinician', 'cli', 'system', 'patient')),
    actor_id    INTEGER,
    action      TEXT    NOT NULL,
    patient_id  INTEGER REFERENCES patients (id) ON DELETE SET NULL
);
CREATE INDEX audit_by_patient ON audit_log (patient_id, at);
