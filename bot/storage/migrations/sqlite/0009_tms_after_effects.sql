-- dTMS after-effects: on a day with a dTMS session the daily check-in asks one more question,
-- stored in the day's check-in row like the other answers (NULL: not asked or not answered).
-- 'fainting_or_seizure' is answered as a medical emergency and raises an urgent alert; the
-- weekly digest counts the others per patient.

ALTER TABLE checkins ADD COLUMN dtms_effect TEXT
    CHECK (dtms_effect IN ('none', 'headache', 'scalp', 'fainting_or_seizure', 'other'));
