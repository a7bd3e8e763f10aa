"""Tests for the outgoing rate limiter, on a virtual clock so that minutes pass in milliseconds."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.error import Forbidden, RetryAfter
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

from bot.ratelimit import Queued, TelegramRateLimiter

START = 1000.0  # a monotonic clock does not start at zero
EPSILON = 1e-9  # slot times are multiples of 1/30 s, which floats round
SETTLE_ROUNDS = 20

Result = bool | dict[str, Any] | list[dict[str, Any]]
Callback = Callable[..., Coroutine[Any, Any, Result]]
T = TypeVar("T")


class VirtualClock:
    """Monotonic time that jumps to the next sleeper's wake-up once everything runnable has run."""

    def __init__(self) -> None:
        self.now = START
        self.sleep_calls = 0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        """Return the virtual time."""
        return self.now

    async def sleep(self, delay: float) -> None:
        """Wait until the virtual time has advanced by ``delay``."""
        self.sleep_calls += 1
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(delay, 0.0), next(self._order), woken))
        await woken

    async def run(self, work: Awaitable[T]) -> T:
        """Drive ``work`` to completion, advancing time whenever every task is asleep."""
        task = asyncio.ensure_future(work)
        while True:
            for _ in range(SETTLE_ROUNDS):
                await asyncio.sleep(0)
            if task.done():
                return task.result()
            assert self._sleepers, "deadlock: nothing runs and nothing sleeps"
            self.now = max(self.now, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, woken = heapq.heappop(self._sleepers)
                if not woken.done():  # a sleeper may have been cancelled
                    woken.set_result(None)


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to python-telegram-bot's timedelta retry_after, which otherwise warns on creation."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


def _limiter(clock: VirtualClock, **options: Any) -> TelegramRateLimiter:
    """Build a limiter on the virtual clock."""
    return TelegramRateLimiter(monotonic=clock.monotonic, sleep=clock.sleep, **options)


def _recorder(clock: VirtualClock, log: list[tuple[float, object]]) -> Callback:
    """Return a Bot API stand-in that logs when each chat was sent to."""

    async def send(**kwargs: Any) -> Result:
        log.append((clock.now, kwargs["chat_id"]))
        return {"message_id": len(log)}

    return send


async def _send(
    limiter: TelegramRateLimiter,
    callback: Callback,
    chat_id: object,
    *,
    endpoint: str = "sendMessage",
    rate_limit_args: int | Queued | None = None,
) -> Result:
    """Send one message to ``chat_id`` through the limiter."""
    return await limiter.process_request(
        callback, (), {"chat_id": chat_id}, endpoint, {"chat_id": chat_id}, rate_limit_args
    )


def _assert_at_most_per_window(times: list[float], limit: int, window: float) -> None:
    """Assert that no half-open window of ``window`` seconds holds more than ``limit`` times."""
    ordered = sorted(times)
    for first, later in zip(ordered, ordered[limit:], strict=False):
        assert later >= first + window - EPSILON


def _by_chat(log: list[tuple[float, object]]) -> dict[object, list[float]]:
    """Group logged send times by chat."""
    grouped: dict[object, list[float]] = defaultdict(list)
    for moment, chat in log:
        grouped[chat].append(moment)
    return grouped


async def _thousand_chats(clock: VirtualClock) -> list[tuple[float, object]]:
    """Send one message to each of 1,000 chats at once and return the send log."""
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    await clock.run(asyncio.gather(*(_send(limiter, send, chat) for chat in range(1, 1001))))
    return log


async def test_the_overall_rate_never_exceeds_thirty_in_any_one_second_window() -> None:
    """A burst of 1,000 concurrent sends never puts more than 30 in any one-second window."""
    clock = VirtualClock()
    log = await _thousand_chats(clock)
    assert len(log) == 1000
    _assert_at_most_per_window([moment for moment, _ in log], 30, 1.0)


async def test_a_thousand_sends_to_different_chats_take_a_thousand_thirtieths_of_a_second() -> None:
    """1,000 sends to 1,000 chats finish in 1000/30 s, each sleeping at most once (no polling)."""
    clock = VirtualClock()
    log = await _thousand_chats(clock)
    last = max(moment for moment, _ in log)
    assert 999 / 30 - EPSILON <= last - START <= 1000 / 30
    assert clock.sleep_calls <= 1000


async def test_sends_to_one_private_chat_are_spaced_by_the_interval() -> None:
    """Five messages queued at once for one patient go out one second apart, and no slower."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    await clock.run(asyncio.gather(*(_send(limiter, send, 7) for _ in range(5))))
    times = [moment for moment, _ in log]
    assert all(b - a >= 1.0 - EPSILON for a, b in itertools.pairwise(times))
    assert times[-1] - START <= 4 + 1 / 30


async def test_a_chats_next_send_is_spaced_from_when_telegram_answered_the_last() -> None:
    """A send that took 300 ms to be answered pushes the chat's next send back by as much."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    started: list[float] = []
    answered: list[float] = []

    async def slow(**kwargs: Any) -> Result:
        started.append(clock.now)
        await clock.sleep(0.3)
        answered.append(clock.now)
        return {"message_id": len(started)}

    async def one_after_another() -> None:
        for _ in range(3):
            await _send(limiter, slow, 7)

    await clock.run(one_after_another())
    assert [b - a for a, b in zip(answered, started[1:], strict=False)] == [
        pytest.approx(1.0, abs=1 / 30)
    ] * 2


@pytest.mark.parametrize("first_lane", [None, Queued(5)], ids=["reply", "reminder"])
async def test_a_send_reserved_while_the_chats_last_is_on_its_way_arrives_an_interval_after_it(
    first_lane: Queued | None,
) -> None:
    """A chat's second send, given its slot while the first was still on its way, reaches
    Telegram a full interval after the first did, however late the first arrived."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    arrivals: list[float] = []
    delays = iter([0.15, 0.0])  # the first request takes 150 ms to reach Telegram

    async def uneven(**kwargs: Any) -> Result:
        await clock.sleep(next(delays))
        arrivals.append(clock.now)
        return {"message_id": len(arrivals)}

    async def reminder_then_reply() -> None:
        first = asyncio.ensure_future(_send(limiter, uneven, 7, rate_limit_args=first_lane))
        await clock.sleep(0.01)  # the first is on its way when the patient's update comes in
        await _send(limiter, uneven, 7)
        await first

    await clock.run(reminder_then_reply())
    assert arrivals[1] - arrivals[0] >= 1.0 - EPSILON


async def test_requests_slow_to_arrive_never_put_more_than_the_limit_into_telegrams_second() -> (
    None
):
    """Sends started a second apart can arrive closer: what Telegram sees stays within 30."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    arrivals: list[float] = []
    sent = itertools.count()

    async def uneven(**kwargs: Any) -> Result:
        # One run of fifteen requests in three takes 150 ms longer to reach Telegram.
        delay = 0.15 if (next(sent) // 15) % 3 == 0 else 0.0
        await clock.sleep(delay)
        arrivals.append(clock.now)
        return {"message_id": len(arrivals)}

    await clock.run(asyncio.gather(*(_send(limiter, uneven, 1000 + n) for n in range(300))))
    assert len(arrivals) == 300
    _assert_at_most_per_window(arrivals, 30, 1.0)
    assert max(arrivals) - START <= 300 / 30 + 1.0, "and the pace barely suffers"


async def test_a_busy_chat_does_not_hold_up_other_chats() -> None:
    """Ten messages queued for one chat do not delay the single messages queued after them."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    busy = [_send(limiter, send, 1) for _ in range(10)]
    others = [_send(limiter, send, chat) for chat in range(2, 12)]
    await clock.run(asyncio.gather(*busy, *others))
    by_chat = _by_chat(log)
    assert all(by_chat[chat][0] - START <= 11 / 30 + EPSILON for chat in range(2, 12))
    assert by_chat[1][-1] - START >= 9 - EPSILON


async def test_a_group_chat_gets_at_most_twenty_messages_a_minute() -> None:
    """Forty-five messages for one group go out at most twenty per minute, as soon as allowed."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    await clock.run(asyncio.gather(*(_send(limiter, send, -100123) for _ in range(45))))
    times = [moment for moment, _ in log]
    _assert_at_most_per_window(times, 20, 60.0)
    assert times[-1] - START <= 124 + 1 / 30


async def test_a_channel_username_is_limited_like_a_group() -> None:
    """An ``@username`` chat id can only be a channel or supergroup, so the group limit applies."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    await clock.run(asyncio.gather(*(_send(limiter, send, "@clinic_news") for _ in range(21))))
    assert log[20][0] - log[0][0] >= 60 - EPSILON


async def test_a_chat_id_given_as_digits_shares_the_limit_of_that_chat() -> None:
    """``"42"`` and ``42`` are the same chat, so their messages are spaced like one chat's."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    await clock.run(asyncio.gather(_send(limiter, send, 42), _send(limiter, send, "42")))
    assert log[1][0] - log[0][0] >= 1.0 - EPSILON


async def test_retry_after_pauses_every_send_then_retries() -> None:
    """A 429 pauses all chats for the time Telegram asks, then the failed send is tried again."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    attempts: list[float] = []
    log: list[tuple[float, object]] = []

    async def flooded_once(**kwargs: Any) -> Result:
        attempts.append(clock.now)
        if len(attempts) == 1:
            raise RetryAfter(timedelta(seconds=5))
        return {"message_id": 1}

    async def latecomer() -> Result:
        await clock.sleep(0.5)
        return await _send(limiter, _recorder(clock, log), 2)

    result, _ = await clock.run(asyncio.gather(_send(limiter, flooded_once, 1), latecomer()))
    assert result == {"message_id": 1}
    assert attempts[0] == START
    assert 5.1 - EPSILON <= attempts[1] - START <= 5.2
    assert 5.1 - EPSILON <= log[0][0] - START <= 5.2


async def test_sends_already_queued_when_flood_control_starts_wait_for_it_and_stay_paced() -> None:
    """Sends queued before a 429 wait for the pause to end, then keep the overall pace."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    record = _recorder(clock, log)
    flooded = False

    async def flooded_once(**kwargs: Any) -> Result:
        nonlocal flooded
        if not flooded:
            flooded = True
            log.append((clock.now, "429"))
            raise RetryAfter(timedelta(seconds=3))
        return await record(**kwargs)

    early = [_send(limiter, record, chat) for chat in range(2, 21)]
    late = [_send(limiter, record, chat) for chat in range(21, 41)]
    await clock.run(asyncio.gather(*early, _send(limiter, flooded_once, 1), *late))
    [flood_at] = [moment for moment, chat in log if chat == "429"]
    delivered = [moment for moment, chat in log if chat != "429"]
    assert len(delivered) == 40
    assert len([moment for moment in delivered if moment < flood_at]) == 19
    assert all(moment >= flood_at + 3.1 - EPSILON for moment in delivered if moment > flood_at)
    _assert_at_most_per_window([moment for moment, _ in log], 30, 1.0)


async def test_flood_control_beyond_max_retries_is_re_raised() -> None:
    """When every attempt meets a 429, the limiter gives up after max_retries and re-raises."""
    clock = VirtualClock()
    limiter = _limiter(clock, max_retries=2)
    attempts: list[float] = []

    async def always_flooded(**kwargs: Any) -> Result:
        attempts.append(clock.now)
        raise RetryAfter(timedelta(seconds=2))

    with pytest.raises(RetryAfter):
        await clock.run(_send(limiter, always_flooded, 1))
    assert len(attempts) == 3
    assert all(b - a >= 2.1 - EPSILON for a, b in itertools.pairwise(attempts))


async def test_rate_limit_args_set_the_retries_for_one_call() -> None:
    """``rate_limit_args=0`` turns retries off for that call only."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    attempts: list[float] = []

    async def always_flooded(**kwargs: Any) -> Result:
        attempts.append(clock.now)
        raise RetryAfter(timedelta(seconds=2))

    with pytest.raises(RetryAfter):
        await clock.run(_send(limiter, always_flooded, 1, rate_limit_args=0))
    assert attempts == [START]


async def test_requests_without_a_chat_go_straight_through() -> None:
    """getMe and answerCallbackQuery are neither queued behind sends nor held by a pause."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    straight: list[float] = []

    async def flooded(**kwargs: Any) -> Result:
        raise RetryAfter(timedelta(seconds=30))

    async def not_a_send(**kwargs: Any) -> Result:
        straight.append(clock.now)
        return True

    async def scenario() -> None:
        backlog = asyncio.gather(
            *(_send(limiter, _recorder(clock, log), 1) for _ in range(50)),
            _send(limiter, flooded, 2, rate_limit_args=1),
            return_exceptions=True,
        )
        await clock.sleep(0.5)  # the backlog is queued and the flood pause has begun
        sleeps_before = clock.sleep_calls
        for endpoint, data in (("getMe", {}), ("answerCallbackQuery", {"callback_query_id": "9"})):
            assert await limiter.process_request(not_a_send, (), {}, endpoint, data, None)
        assert clock.sleep_calls == sleeps_before
        await backlog

    await clock.run(scenario())
    assert straight == [START + 0.5, START + 0.5]


async def test_other_telegram_errors_are_not_retried() -> None:
    """A blocked bot (Forbidden) surfaces at once: only flood control is the limiter's business."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    attempts: list[float] = []

    async def blocked(**kwargs: Any) -> Result:
        attempts.append(clock.now)
        raise Forbidden("Forbidden: bot was blocked by the user")

    with pytest.raises(Forbidden):
        await clock.run(_send(limiter, blocked, 1))
    assert len(attempts) == 1


async def test_chats_that_may_receive_again_are_forgotten() -> None:
    """After a broadcast to 2,000 chats and a quiet minute, the limiter remembers only new chats."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    send = _recorder(clock, [])
    await clock.run(asyncio.gather(*(_send(limiter, send, chat) for chat in range(2000))))
    assert limiter.tracked_chats == 2000
    await clock.run(clock.sleep(61))
    await clock.run(_send(limiter, send, -5))
    assert limiter.tracked_chats == 1
    await limiter.shutdown()
    assert limiter.tracked_chats == 0


def test_settings_that_cannot_work_are_refused() -> None:
    """A zero overall rate would never send, so it raises at construction."""
    with pytest.raises(ValueError, match="at least 1"):
        TelegramRateLimiter(overall_per_second=0)
    with pytest.raises(ValueError, match="must not be negative"):
        TelegramRateLimiter(max_retries=-1)


chat_ids = st.sampled_from([1, 2, 3, 4, -100, -200, "@clinic_news"])


@settings(max_examples=40, deadline=None)
@given(
    sends=st.lists(
        st.tuples(
            chat_ids,
            st.floats(min_value=0, max_value=5, allow_nan=False),
            st.sampled_from([None, 0, 5, 8]),  # interactive, or queued with a priority
        ),
        min_size=1,
        max_size=60,
    )
)
def test_any_mix_of_concurrent_sends_respects_every_limit(
    sends: list[tuple[int | str, float, int | None]],
) -> None:
    """Whatever the chats, arrival times and lanes, every send goes out once within every limit."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)

    async def arrive(chat: int | str, offset: float, priority: int | None) -> Result:
        await clock.sleep(offset)
        lane = None if priority is None else Queued(priority)
        return await _send(limiter, send, chat, rate_limit_args=lane)

    async def scenario() -> None:
        await clock.run(asyncio.gather(*(arrive(*one) for one in sends)))

    asyncio.run(scenario())
    assert len(log) == len(sends)
    _assert_at_most_per_window([moment for moment, _ in log], 30, 1.0)
    for chat, times in _by_chat(log).items():
        assert all(b - a >= 1.0 - EPSILON for a, b in itertools.pairwise(times))
        if isinstance(chat, str) or chat < 0:
            _assert_at_most_per_window(times, 20, 60.0)


class LocalBotApi(BaseRequest):
    """A Bot API that answers in process, logging each call and flooding the first send."""

    def __init__(self, clock: VirtualClock, flood_seconds: int) -> None:
        self.calls: list[tuple[float, str, object]] = []
        self._clock = clock
        self._flood_seconds = flood_seconds

    @property
    def read_timeout(self) -> float | None:
        """Return no default read timeout: nothing here waits on a network."""
        return None

    async def initialize(self) -> None:
        """Do nothing."""

    async def shutdown(self) -> None:
        """Do nothing."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        """Answer getMe and sendMessage like Telegram, with a 429 for the first send."""
        endpoint = url.rsplit("/", 1)[-1]
        parameters = request_data.parameters if request_data is not None else {}
        self.calls.append((self._clock.now, endpoint, parameters.get("chat_id")))
        if endpoint == "getMe":
            me = {"id": 1, "is_bot": True, "first_name": "Companion", "username": "companion_bot"}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        if endpoint == "sendMessage" and len(self.calls) == 2:
            flood = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests",
                "parameters": {"retry_after": self._flood_seconds},
            }
            return 429, json.dumps(flood).encode()
        message = {
            "message_id": len(self.calls),
            "date": 1_780_000_000,
            "chat": {"id": parameters["chat_id"], "type": "private"},
            "text": parameters["text"],
        }
        return 200, json.dumps({"ok": True, "result": message}).encode()


async def test_the_limiter_paces_real_bot_calls_through_the_request_seam() -> None:
    """Through python-telegram-bot's own request seam, a 429 is waited out and chats are paced."""
    clock = VirtualClock()
    api = LocalBotApi(clock, flood_seconds=2)
    bot = ExtBot(
        token="123456:TEST",
        request=api,
        get_updates_request=LocalBotApi(clock, flood_seconds=2),
        rate_limiter=_limiter(clock),
    )

    async def scenario() -> list[int]:
        async with bot:
            sent = await asyncio.gather(
                bot.send_message(42, "a"), bot.send_message(42, "b"), bot.send_message(43, "c")
            )
        return [message.message_id for message in sent]

    await clock.run(scenario())
    sends = [(moment, chat) for moment, endpoint, chat in api.calls if endpoint == "sendMessage"]
    assert api.calls[0][1] == "getMe"
    assert len(sends) == 4
    assert sends[0][0] == START
    delivered = sends[1:]
    assert all(moment >= START + 2.1 - EPSILON for moment, _ in delivered)
    to_42 = [moment for moment, chat in delivered if chat == 42]
    assert to_42[1] - to_42[0] >= 1.0 - EPSILON


async def test_late_wake_ups_never_put_more_than_the_limit_into_one_second() -> None:
    """A send whose sleep ended late is held back so that no second exceeds the limit."""
    clock = VirtualClock()
    log: list[tuple[float, object]] = []
    send = _recorder(clock, log)
    wake_ups = itertools.count()

    async def late_sleep(seconds: float) -> None:
        # Now and then a wake-up comes 200 ms late, as under load: that send then lands among
        # the next second's sends, which the even slot grid alone would let through.
        late = 0.2 if next(wake_ups) % 40 == 5 else 0.0
        await clock.sleep(seconds + late)

    limiter = TelegramRateLimiter(monotonic=clock.monotonic, sleep=late_sleep)
    await clock.run(asyncio.gather(*(_send(limiter, send, 1000 + i) for i in range(120))))
    times = sorted(moment for moment, _ in log)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0 - EPSILON) for start in times)
    assert busiest <= 30


# The queued lane: reminders, digests and alerts wait behind replies to people -----------------


async def _queued_backlog(
    clock: VirtualClock, limiter: TelegramRateLimiter, log: list[tuple[float, object]], count: int
) -> asyncio.Future[list[Result]]:
    """Queue ``count`` reminders to different chats, as the dispatcher's fan-out does."""
    send = _recorder(clock, log)
    return asyncio.gather(
        *(_send(limiter, send, 100_000 + n, rate_limit_args=Queued(5)) for n in range(count))
    )


async def test_a_reply_goes_out_at_once_while_a_thousand_reminders_wait() -> None:
    """An interactive send waits at most the queue horizon behind a fan-out of 1,000."""
    clock = VirtualClock()
    limiter = _limiter(clock, queue_horizon=0.2)
    log: list[tuple[float, object]] = []
    arrivals: list[float] = []

    async def scenario() -> None:
        backlog = await _queued_backlog(clock, limiter, log, 1000)
        for pause in (5.0, 7.3, 11.1):
            await clock.sleep(pause)
            arrivals.append(clock.now)
            await _send(limiter, _recorder(clock, log), 42)
        await backlog

    await clock.run(scenario())
    replies = [moment for moment, chat in log if chat == 42]
    assert [reply - arrived for reply, arrived in zip(replies, arrivals, strict=True)] == [
        pytest.approx(0.2, abs=2 / 30)
    ] * 3
    assert limiter.queued == 0


async def test_queued_sends_still_go_out_at_the_full_rate() -> None:
    """1,000 queued reminders take 1000/30 s like interactive ones, within every limit."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []

    async def scenario() -> None:
        await (await _queued_backlog(clock, limiter, log, 1000))

    await clock.run(scenario())
    times = sorted(moment for moment, _ in log)
    assert len(times) == 1000
    assert times[-1] - START <= 1000 / 30 + 0.1
    _assert_at_most_per_window(times, 30, 1.0)


async def test_an_alert_queued_after_a_fan_out_goes_before_it() -> None:
    """A priority-0 send queued behind 300 reminders is granted the next slot that comes near."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []

    async def scenario() -> float:
        backlog = await _queued_backlog(clock, limiter, log, 300)
        await clock.sleep(2.0)
        raised = clock.now
        await _send(limiter, _recorder(clock, log), 7, rate_limit_args=Queued(0))
        await backlog
        return raised

    raised = await clock.run(scenario())
    [alert_at] = [moment for moment, chat in log if chat == 7]
    assert alert_at - raised <= 0.2 + 2 / 30
    assert sum(1 for moment, chat in log if chat != 7 and moment > alert_at) > 200


async def test_an_urgent_send_overtakes_the_rest_of_a_digest_in_the_same_chat() -> None:
    """A clinician's alert goes out at the chat's next turn, before the digest's next part."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    record = _recorder(clock, log)
    order: list[str] = []

    async def digest() -> None:
        for part in range(6):
            await _send(limiter, record, 900, rate_limit_args=Queued(8))
            order.append(f"part {part}")

    async def alert() -> None:
        await clock.sleep(2.5)
        await _send(limiter, record, 900, rate_limit_args=Queued(0))
        order.append("alert")

    await clock.run(asyncio.gather(digest(), alert()))
    assert order.index("alert") == 3, order
    times = [moment for moment, _ in log]
    assert all(b - a >= 1.0 - EPSILON for a, b in itertools.pairwise(times))


async def test_a_chat_that_may_not_receive_yet_holds_up_no_queued_send() -> None:
    """The best-ranked queued send, waiting for its chat's turn, does not block the others."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    record = _recorder(clock, log)

    async def scenario() -> None:
        await _send(limiter, record, 1)  # chat 1 may receive again a second later
        await asyncio.gather(
            _send(limiter, record, 1, rate_limit_args=Queued(0)),
            *(_send(limiter, record, 10 + n, rate_limit_args=Queued(5)) for n in range(5)),
        )

    await clock.run(scenario())
    by_chat = _by_chat(log)
    assert all(by_chat[10 + n][0] - START <= 0.3 for n in range(5))
    assert by_chat[1][1] - by_chat[1][0] >= 1.0 - EPSILON


async def test_a_queued_send_waits_out_flood_control() -> None:
    """A 429 pauses queued sends too; they then go out paced, and none is lost."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    record = _recorder(clock, log)
    flooded = False

    async def flooded_once(**kwargs: Any) -> Result:
        nonlocal flooded
        if not flooded:
            flooded = True
            raise RetryAfter(timedelta(seconds=3))
        return await record(**kwargs)

    await clock.run(
        asyncio.gather(
            _send(limiter, flooded_once, 1, rate_limit_args=Queued(5)),
            *(_send(limiter, record, 10 + n, rate_limit_args=Queued(5)) for n in range(40)),
        )
    )
    assert len(log) == 41
    late = [moment for moment, _ in log if moment > START + 1]
    assert all(moment >= START + 3.1 - EPSILON for moment in late)
    _assert_at_most_per_window([moment for moment, _ in log], 30, 1.0)


async def test_a_cancelled_queued_send_gives_up_its_place() -> None:
    """A queued send cancelled while it waits is dropped, and the queue moves on."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []
    record = _recorder(clock, log)

    async def scenario() -> None:
        waiting = asyncio.ensure_future(
            asyncio.gather(
                *(_send(limiter, record, 10 + n, rate_limit_args=Queued(5)) for n in range(60))
            )
        )
        doomed = asyncio.ensure_future(_send(limiter, record, 5, rate_limit_args=Queued(5)))
        await clock.sleep(0.5)
        doomed.cancel()
        await waiting
        assert doomed.cancelled()

    await clock.run(scenario())
    assert len(log) == 60
    assert limiter.queued == 0


async def test_a_send_cancelled_before_it_starts_does_not_hold_up_its_chat() -> None:
    """A send cancelled while it waits for room in Telegram's second leaves its chat free."""
    clock = VirtualClock()
    limiter = _limiter(clock)
    log: list[tuple[float, object]] = []

    async def slow(**kwargs: Any) -> Result:
        await clock.sleep(2.0)  # thirty of these fill what Telegram may see in a second
        log.append((clock.now, kwargs["chat_id"]))
        return {"message_id": len(log)}

    async def scenario() -> None:
        busy = asyncio.ensure_future(asyncio.gather(*(_send(limiter, slow, n) for n in range(30))))
        doomed = asyncio.ensure_future(_send(limiter, slow, 99))
        await clock.sleep(1.5)  # its slot has come; it waits for an answer to the thirty
        doomed.cancel()
        await _send(limiter, slow, 99)
        await busy
        assert doomed.cancelled()

    await clock.run(scenario())
    assert [chat for _, chat in log].count(99) == 1
