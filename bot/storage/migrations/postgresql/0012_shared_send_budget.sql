-- The send budget shared by every worker on this database (bot/storage/send_budget.py): the
-- overall limit is a grid of slots 1/per_second seconds apart, slot k at k / per_second Unix
-- seconds of the server's clock, each taken by at most one send of any worker, so no
-- one-second window holds more sends than the budget; a chat may next receive at ready_at
-- (Unix seconds, server clock). The server's clock is the one time base, so workers' clocks
-- never have to agree. Rows are of use for a second or two and are pruned as they age.
CREATE TABLE send_budget_slots (
    slot BIGINT PRIMARY KEY
);
CREATE TABLE send_budget_chats (
    chat      TEXT             PRIMARY KEY,
    ready_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX send_budget_chats_by_ready ON send_budget_chats (ready_at);

-- Takes the first free slot at or after the moment the chat may receive (now, if p_chat is
-- NULL) and moves the chat's next moment to p_spacing after that slot; returns the slot and
-- how many seconds from now it is. One call is one statement: the chat's row lock orders two
-- workers sending to one chat, and a slot another worker took first (its INSERT conflicts)
-- only moves the search on. A call holds at most one slot it has not committed and waits for
-- no chat lock after inserting one, so calls never deadlock. p_keep, when given, also deletes
-- slots and chats older than that many seconds, skipping rows another call has locked.
-- p_at replaces the server's clock (tests of the arithmetic).
CREATE FUNCTION send_budget_reserve(
    p_chat        TEXT,
    p_per_second  INTEGER,
    p_spacing     DOUBLE PRECISION,
    p_keep        DOUBLE PRECISION DEFAULT NULL,
    p_at          DOUBLE PRECISION DEFAULT NULL
) RETURNS TABLE (slot BIGINT, wait DOUBLE PRECISION) LANGUAGE plpgsql AS $$
DECLARE
    ready      DOUBLE PRECISION := '-Infinity';
    now_s      DOUBLE PRECISION;
    candidate  BIGINT;
    taken      INTEGER;
BEGIN
    IF p_chat IS NOT NULL THEN
        -- Insert or lock the chat's row; a new chat may receive at once.
        INSERT INTO send_budget_chats AS c (chat, ready_at) VALUES (p_chat, '-Infinity')
        ON CONFLICT (chat) DO UPDATE SET ready_at = c.ready_at
        RETURNING c.ready_at INTO ready;
    END IF;
    -- Read the clock after the lock: a call that waited for another's is not given a past slot.
    now_s := coalesce(p_at, extract(epoch FROM clock_timestamp())::double precision);
    -- Less a millionth of a slot: a chat's next moment, a sum of floats, may land a hair past
    -- the slot it means, which the ceiling would turn into the slot after.
    candidate := ceil(greatest(now_s, ready) * p_per_second - 1e-6)::bigint;
    LOOP
        IF EXISTS (SELECT 1 FROM send_budget_slots s WHERE s.slot = candidate) THEN
            -- The first gap after candidate: a taken slot whose successor is free.
            SELECT min(a.slot) + 1 INTO candidate
            FROM send_budget_slots a
            WHERE a.slot >= candidate
              AND NOT EXISTS (SELECT 1 FROM send_budget_slots b WHERE b.slot = a.slot + 1);
        END IF;
        INSERT INTO send_budget_slots (slot) VALUES (candidate) ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS taken = ROW_COUNT;
        EXIT WHEN taken = 1;
        candidate := candidate + 1;  -- another worker took it first
    END LOOP;
    IF p_chat IS NOT NULL THEN
        UPDATE send_budget_chats SET ready_at = candidate::double precision / p_per_second
            + p_spacing
        WHERE chat = p_chat;
    END IF;
    IF p_keep IS NOT NULL THEN
        DELETE FROM send_budget_slots WHERE send_budget_slots.slot IN (
            SELECT o.slot FROM send_budget_slots o
            WHERE o.slot < floor((now_s - p_keep) * p_per_second)
            FOR UPDATE SKIP LOCKED
        );
        DELETE FROM send_budget_chats WHERE chat IN (
            SELECT o.chat FROM send_budget_chats o
            WHERE o.ready_at < now_s - p_keep
            FOR UPDATE SKIP LOCKED
        );
    END IF;
    slot := candidate;
    wait := greatest(0, candidate::double precision / p_per_second - now_s);
    RETURN NEXT;
END $$;
