-- Just-in-time safety messages (bot/services/jit.py) are delivery rows of kind 'jit' with one
-- key per patient, message and course, so each is sent once; they need no table of their own.
--
-- Every planner tick looks for doses a patient skipped as "stopped" in the last two weeks (a
-- naltrexone course stopped by the patient). The deliveries table grows by every reminder ever
-- sent: this partial index holds only those answers, so the look-up never scans it.
CREATE INDEX deliveries_stopped ON deliveries (answered_at) WHERE response_detail = 'stopped';

-- The digest lists the safety messages each patient was sent in the week, by when they went out.
CREATE INDEX deliveries_jit_sent ON deliveries (patient_id, sent_at) WHERE kind = 'jit';
