-- Guided flows (/addmed, /addtms, typed settings): one open conversation per Telegram user,
-- kept here rather than in memory (lost on restart) or in pickles (plaintext on disk).
-- data is a JSON object of the answers given so far; updated_at is the last answer, so a flow
-- left silent too long can be ended.

CREATE TABLE flows (
    user_id     BIGINT PRIMARY KEY,   -- Telegram user id of the clinician or patient
    name        TEXT    NOT NULL,      -- addmed, addtms, settings
    step        TEXT    NOT NULL,
    data        TEXT    NOT NULL DEFAULT '{}' CHECK (data::jsonb IS NOT NULL),
    updated_at  TEXT    NOT NULL
);
CREATE INDEX flows_by_update ON flows (updated_at);
