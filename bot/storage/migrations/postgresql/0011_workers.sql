-- Several workers on one database: the PostgreSQL form of sqlite/0011_workers.sql. Who is
-- running, which worker holds which duty, and which worker claimed a delivery.
--
-- A worker is one `companion run` process. It registers under a random id at start and
-- refreshes seen_at every few seconds; one not seen for WORKER_LEASE_SECONDS is dead: its
-- claimed deliveries are taken over (resent once, as after a crash) and its leases lapse.
CREATE TABLE workers (
    id          TEXT    PRIMARY KEY,
    host        TEXT    NOT NULL,
    pid         BIGINT  NOT NULL,
    started_at  TEXT    NOT NULL,
    seen_at     TEXT    NOT NULL
);

-- A duty that must run in one worker at a time (planning reminders and digests, watching the
-- data for alerts, housekeeping) is held under a lease; the holder renews it while it lives,
-- and any worker may take a lease whose time has run out.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    until   TEXT NOT NULL
);

-- The worker whose claim a 'sending' row is (NULL for rows claimed before this migration).
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
CREATE INDEX deliveries_sending ON deliveries (claimed_by) WHERE status = 'sending';
