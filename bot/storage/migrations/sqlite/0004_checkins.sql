-- Daily check-ins: one row per patient and local date. Each answer is stored as it is given,
-- so a half-answered check-in keeps what was answered (NULL = not answered, never filled in).
-- An edit replaces that value in the same row; a late answer counts for the day it was asked.
-- note_cipher holds a Fernet token (see bot/services/crypto.py), never the note's text.

CREATE TABLE checkins (
    id           INTEGER PRIMARY KEY,
    patient_id   INTEGER NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    local_date   TEXT    NOT NULL,  -- the patient's calendar day the check-in was asked for
    craving      INTEGER CHECK (craving BETWEEN 0 AND 10),
    mood         INTEGER CHECK (mood BETWEEN 0 AND 10),
    used         INTEGER CHECK (used IN (0, 1)),  -- any use since the last check-in
    note_cipher  TEXT,              -- the optional note, encrypted at rest
    created_at   TEXT    NOT NULL,  -- first answer
    updated_at   TEXT    NOT NULL,  -- last answer or change
    UNIQUE (patient_id, local_date)
);
