-- The care team's side: the language of each clinician's messages, alerts raised from the
-- data (with a key so a sweep never raises the same one twice) and their escalation, staff's
-- record of dTMS attendance, and a digest's progress through its parts.

ALTER TABLE clinicians ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';

-- A rule that raises alerts from the data names each occurrence ("use:12:2026-11-30"), so the
-- same occurrence never alerts twice however often the rule runs. NULL for crisis, /sos and the
-- other alerts raised by an event.
ALTER TABLE alerts ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX alerts_by_dedupe_key ON alerts (dedupe_key) WHERE dedupe_key IS NOT NULL;

-- 0: sent to the care team; 1: sent to every active clinician after nobody acknowledged it.
ALTER TABLE alerts ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN escalated_at TEXT;
CREATE INDEX alerts_by_time ON alerts (created_at);

-- Set by clinic staff: the patient's "I'll be there" is a promise, this is what happened.
ALTER TABLE appointments ADD COLUMN attendance TEXT CHECK (attendance IN ('attended', 'missed'));

-- A digest is sent as several messages (text parts, photos, documents); this counts the parts
-- already delivered, so a restart in the middle resumes instead of sending them again.
ALTER TABLE deliveries ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;

CREATE INDEX checkins_by_update ON checkins (updated_at);
CREATE INDEX deliveries_by_kind_date ON deliveries (kind, local_date);
