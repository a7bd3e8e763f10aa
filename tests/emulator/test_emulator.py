"""The Bot API emulator behaves like Telegram for python-telegram-bot's real ``telegram.Bot``."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import ssl
import struct
import time
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from tests.emulator.client import (
    AsyncEmulatorClient,
    AsyncUser,
    EmulatorClient,
    EmulatorError,
    WaitTimeoutError,
)
from tests.emulator.server import BotApiEmulator, EmulatorThread

TOKEN = "123456:TEST-token-for-the-emulator"
ALICE = 1001
BOB = 1002


@functools.cache
def tls_context() -> ssl.SSLContext:
    """Return one shared TLS context so each Bot does not load the CA bundle again."""
    return ssl.create_default_context()


def make_bot(url: str, token: str = TOKEN) -> telegram.Bot:
    """Return a telegram.Bot whose base URLs point at the emulator."""
    return telegram.Bot(
        token,
        base_url=f"{url}/bot",
        base_file_url=f"{url}/file/bot",
        request=HTTPXRequest(httpx_kwargs={"verify": tls_context()}),
        get_updates_request=HTTPXRequest(httpx_kwargs={"verify": tls_context()}),
    )


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Build an inline keyboard of callback buttons."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """Return a valid RGB PNG image of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opt in to PTB's timedelta periods so RetryAfter raises no deprecation warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    """Run an emulator with one bot on this test's event loop."""
    emulator = BotApiEmulator(timeout_hold_seconds=1.0)
    await emulator.start()
    emulator.add_bot(TOKEN)
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    """Return an initialised telegram.Bot pointed at the emulator."""
    async with make_bot(emulator.url) as tg_bot:
        yield tg_bot


@pytest.fixture
async def emu(emulator: BotApiEmulator) -> AsyncIterator[AsyncEmulatorClient]:
    """Return an async client of the emulator's client API."""
    async with AsyncEmulatorClient(emulator.url) as client:
        yield client


@pytest.fixture
async def alice(emu: AsyncEmulatorClient) -> AsyncUser:
    """Return a patient who has opened the bot."""
    return await emu.create_user(ALICE, "Alice", username="alice", language_code="en")


async def test_get_me_round_trips_as_a_bot_user(bot: telegram.Bot) -> None:
    """getMe returns a bot user with the capability flags PTB expects."""
    me = await bot.get_me()
    assert me.is_bot
    assert me.id == 123456
    assert me.username == "companion_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False


async def test_unknown_token_and_unknown_method_answer_like_telegram(
    emulator: BotApiEmulator,
) -> None:
    """An unknown token gets 401 Unauthorized, an unknown method 404, and names ignore case."""
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        unknown_token = await http.post("/bot999:nope/getMe")
        unknown_method = await http.post(f"/bot{TOKEN}/getMeNow")
        lower_case = await http.get(f"/bot{TOKEN}/getme")
    assert unknown_token.status_code == 401
    assert unknown_token.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert unknown_method.status_code == 404
    assert unknown_method.json()["description"] == "Not Found"
    assert lower_case.json()["result"]["is_bot"] is True
    stranger = make_bot(emulator.url, "999:nope")
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()


async def test_parameters_arrive_as_json_query_or_urlencoded_form(
    emulator: BotApiEmulator, alice: AsyncUser
) -> None:
    """Parameters are read from a JSON body, a GET query and an urlencoded form alike."""
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        as_json = await http.post(f"/bot{TOKEN}/sendMessage", json={"chat_id": ALICE, "text": "a"})
        as_query = await http.get(
            f"/bot{TOKEN}/sendMessage", params={"chat_id": ALICE, "text": "b"}
        )
        as_form = await http.post(
            f"/bot{TOKEN}/sendMessage", data={"chat_id": str(ALICE), "text": "c"}
        )
    assert [r.json()["result"]["text"] for r in (as_json, as_query, as_form)] == ["a", "b", "c"]
    assert [m.text for m in await alice.messages()] == ["a", "b", "c"]


async def test_long_poll_returns_promptly_when_an_update_arrives(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """A waiting getUpdates returns as soon as the user writes, not at its timeout."""
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    await alice.send("/start ABC123")
    updates = await poll
    assert time.monotonic() - started < 1.5
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "/start ABC123"
    assert message.chat.id == ALICE
    assert message.chat.type == "private"
    assert message.from_user is not None
    assert not message.from_user.is_bot
    assert message.from_user.language_code == "en"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 6)]


async def test_long_poll_returns_nothing_after_its_timeout(bot: telegram.Bot) -> None:
    """With no updates, getUpdates waits for its timeout and returns an empty list."""
    started = time.monotonic()
    updates = await bot.get_updates(timeout=1)
    elapsed = time.monotonic() - started
    assert updates == ()
    assert 0.9 <= elapsed < 2.0


async def test_offset_confirms_updates_and_drops_them_for_good(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """Updates below the offset are confirmed and never returned again."""
    for text in ("one", "two", "three"):
        await alice.send(text)
    first = await bot.get_updates()
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [u.update_id for u in first]
    rest = await bot.get_updates(offset=first[1].update_id)
    assert [u.message.text for u in rest if u.message] == ["two", "three"]
    assert await bot.get_updates(offset=first[0].update_id) == rest
    limited = await bot.get_updates(limit=1)
    assert [u.update_id for u in limited] == [first[1].update_id]
    assert await bot.get_updates(offset=first[-1].update_id + 1) == ()
    assert await emu.pending_updates() == []


async def test_second_poller_terminates_the_first_with_conflict(
    emulator: BotApiEmulator, bot: telegram.Bot
) -> None:
    """A concurrent getUpdates for the same token makes the waiting one fail with 409."""
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.2)
    async with make_bot(emulator.url) as second_instance:
        second = asyncio.create_task(second_instance.get_updates(timeout=dt.timedelta(seconds=0.3)))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        assert await second == ()


async def test_allowed_updates_filters_updates_created_afterwards(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """After getUpdates with allowed_updates, other update types are not queued."""
    await bot.get_updates(allowed_updates=["callback_query"])
    await alice.send("ignored")
    assert await bot.get_updates() == ()
    await bot.get_updates(allowed_updates=[])
    await alice.send("kept")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["kept"]


async def test_html_is_measured_after_entity_parsing(bot: telegram.Bot, alice: AsyncUser) -> None:
    """4,096 visible characters pass even with tags and entities; 4,097 are too long."""
    tagged = await bot.send_message(ALICE, f"<b>{'x' * 4096}</b>", parse_mode="HTML")
    assert tagged.text == "x" * 4096
    assert [(e.type, e.offset, e.length) for e in tagged.entities] == [("bold", 0, 4096)]
    escaped = await bot.send_message(ALICE, "&amp;" * 4096, parse_mode="HTML")
    assert escaped.text == "&" * 4096
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE, f"<i>{'y' * 4097}</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ALICE, "\N{GRINNING FACE}" * 2049)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ALICE, "<b>  </b>", parse_mode="HTML")


@pytest.mark.parametrize(
    "html",
    [
        "line<br>break",
        "<b>never closed",
        "<b><i>crossed</b></i>",
        "dose < 5 mg",
        "Tom & Jerry",
        "&nbsp;",
        "<span>plain span</span>",
        "stray </b>",
        '<a href="https://example.org">open',
    ],
)
async def test_invalid_telegram_html_cannot_be_parsed(
    bot: telegram.Bot, alice: AsyncUser, html: str
) -> None:
    """Unknown tags, bad nesting, bare '<' or '&' are refused with "can't parse entities"."""
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ALICE, html, parse_mode="HTML")


async def test_valid_telegram_html_becomes_entities(bot: telegram.Bot, alice: AsyncUser) -> None:
    """Every supported tag maps to its entity, with offsets in UTF-16 code units."""
    html = (
        "\N{PILL} <b>bold</b> <strong>s</strong> <i>i</i> <u>u</u> <s>s</s> "
        '<tg-spoiler>sp</tg-spoiler> <span class="tg-spoiler">sp</span> '
        '<a href="https://example.org/a?b=1&amp;c=2">link</a> <code>c</code> '
        '<pre><code class="language-python">x = 1</code></pre> '
        "<blockquote expandable>quote</blockquote> &lt;&gt;&quot;&#39;"
    )
    sent = await bot.send_message(ALICE, html, parse_mode="HTML")
    types = [e.type for e in sent.entities]
    assert types == [
        "bold",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "expandable_blockquote",
    ]
    assert sent.entities[0].offset == 3  # the pill emoji is two UTF-16 code units
    assert sent.entities[7].url == "https://example.org/a?b=1&c=2"
    assert sent.entities[9].language == "python"
    assert (sent.text or "").endswith("<>\"'")
    record = (await alice.messages())[-1]
    assert record.source == html
    assert record.parse_mode == "HTML"


async def test_markdown_v2_requires_reserved_characters_to_be_escaped(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """MarkdownV2 refuses an unescaped '.', and parses escaped text with entities."""
    with pytest.raises(BadRequest, match=r"(?i)reserved and must be escaped"):
        await bot.send_message(ALICE, "Take 1 pill.", parse_mode="MarkdownV2")
    sent = await bot.send_message(ALICE, r"*Take* 1 pill\.", parse_mode="MarkdownV2")
    assert sent.text == "Take 1 pill."
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 4)]
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(ALICE, "x", parse_mode="Markdown3")


async def test_callback_data_must_be_1_to_64_bytes(bot: telegram.Bot, alice: AsyncUser) -> None:
    """callback_data of 64 bytes is accepted; 65 bytes or 66 UTF-8 bytes are BUTTON_DATA_INVALID."""
    await bot.send_message(ALICE, "ok", reply_markup=keyboard([("A", "a" * 64)]))
    for data in ("a" * 65, "\N{LATIN SMALL LETTER E WITH ACUTE}" * 33):
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(ALICE, "no", reply_markup=keyboard([("A", data)]))


async def test_a_button_without_an_action_is_refused(bot: telegram.Bot, alice: AsyncUser) -> None:
    """An inline button with only a label is refused as Telegram does."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("just text")]])
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed"):
        await bot.send_message(ALICE, "no", reply_markup=markup)


async def test_unchanged_edit_is_not_modified_and_edits_return_the_message(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """Same text and markup is "message is not modified"; a real edit returns the new Message."""
    markup = keyboard([("Taken", "dose:1:taken"), ("Skip", "dose:1:skip")])
    sent = await bot.send_message(ALICE, "<b>Dose</b> due", parse_mode="HTML", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Dose</b> due",
            chat_id=ALICE,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=markup,
        )
    edited = await bot.edit_message_text("Dose taken", chat_id=ALICE, message_id=sent.message_id)
    assert isinstance(edited, telegram.Message)
    assert edited.text == "Dose taken"
    assert edited.edit_date is not None
    assert edited.reply_markup is None  # editMessageText without markup removes the keyboard
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id)
    record = await (await alice.messages())[0].refresh()
    assert record.version == 1
    assert record.history[0]["text"] == "Dose due"


async def test_unknown_messages_queries_and_chats_are_refused(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """Editing a missing message, answering a bogus query or a missing chat fail like Telegram."""
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(4242, "hello")
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(ALICE, 999)


async def test_pressing_a_button_sends_a_callback_query_with_the_current_message(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """A press delivers id, from, the full message, chat_instance and data; answers are kept."""
    sent = await bot.send_message(ALICE, "Consent?", reply_markup=keyboard([("I agree", "c:y")]))
    press = await alice.press("I agree")
    assert press.message_id == sent.message_id
    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert query.id == press.callback_query_id
    assert query.data == "c:y"
    assert query.chat_instance
    assert query.from_user.id == ALICE
    assert isinstance(query.message, telegram.Message)
    assert query.message.text == "Consent?"
    await bot.answer_callback_query(query.id, text="Thanks")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    answers = await alice.callback_answers()
    assert [(a["data"], a["text"]) for a in answers] == [("c:y", "Thanks")]
    await alice.press(data="c:y", message_id=sent.message_id)
    (second,) = await bot.get_updates(offset=update.update_id + 1)
    assert second.callback_query is not None
    with pytest.raises(BadRequest, match=r"(?i)MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(second.callback_query.id, text="x" * 201)
    assert len(await emu.callback_answers(ALICE)) == 1


async def test_a_user_cannot_press_a_button_that_is_not_there(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """Pressing a missing or removed button is refused by the client API."""
    sent = await bot.send_message(ALICE, "Dose", reply_markup=keyboard([("Taken", "d:t")]))
    with pytest.raises(EmulatorError, match="no bot message"):
        await alice.press("Snooze")
    await bot.edit_message_reply_markup(chat_id=ALICE, message_id=sent.message_id)
    with pytest.raises(EmulatorError) as refused:
        await alice.press("Taken", message_id=sent.message_id)
    assert refused.value.status == 404


async def test_retry_after_fault_raises_retry_after_with_its_seconds(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser, timedelta_periods: None
) -> None:
    """A queued 429 fault makes PTB raise RetryAfter with the configured delay, once."""
    await emu.faults.add("429", retry_after=3)
    with pytest.raises(RetryAfter) as throttled:
        await bot.send_message(ALICE, "hello")
    assert throttled.value.retry_after == dt.timedelta(seconds=3)
    await bot.send_message(ALICE, "hello")
    stats = await emu.stats()
    assert stats.faults_served == {"429": 1}
    assert len(stats.sends_to(ALICE)) == 1


async def test_bad_gateway_fault_raises_network_error_and_delivers_nothing(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """A 5xx fault answers 502 Bad Gateway, which PTB raises as NetworkError."""
    await emu.faults.add("5xx")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ALICE, "hello")
    assert await alice.messages() == []


async def test_timeout_fault_times_out_and_may_have_delivered_anyway(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """A held reply makes PTB raise TimedOut; the message is delivered unless told otherwise."""
    await emu.faults.add("timeout", hold=1.0, delivered=True)
    await emu.faults.add("timeout", hold=1.0, delivered=False)
    with pytest.raises(TimedOut):
        await bot.send_message(ALICE, "delivered anyway", read_timeout=0.3)
    with pytest.raises(TimedOut):
        await bot.send_message(ALICE, "lost", read_timeout=0.3)
    assert [m.text for m in await alice.messages()] == ["delivered anyway"]
    assert (await emu.stats()).faults_served == {"timeout": 2}


async def test_random_fault_rate_is_reproducible_with_a_seed(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser, timedelta_periods: None
) -> None:
    """A seeded fault rate fails the same calls each time, in roughly the asked proportion."""

    async def outcomes() -> list[str]:
        results = []
        for number in range(40):
            try:
                await bot.send_message(ALICE, f"n{number}")
                results.append("ok")
            except RetryAfter:
                results.append("429")
            except NetworkError:
                results.append("5xx")
        return results

    await emu.faults.set_rate(0.25, kinds=["429", "5xx"], seed=7)
    first = await outcomes()
    await emu.faults.set_rate(0.25, kinds=["429", "5xx"], seed=7)
    second = await outcomes()
    assert first == second
    assert {"ok", "429", "5xx"} <= set(first)
    assert 4 <= first.count("429") + first.count("5xx") <= 18
    await emu.faults.clear()
    await bot.send_message(ALICE, "calm again")


async def test_faults_only_hit_the_configured_methods(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """A fault restricted to sendDocument leaves sendMessage and getMe alone."""
    await emu.faults.add("5xx", methods=["sendDocument"])
    await bot.get_me()
    await bot.send_message(ALICE, "fine")
    with pytest.raises(NetworkError):
        await bot.send_document(ALICE, b"a,b\n", filename="x.csv")


async def test_rate_limit_enforcement_and_send_timestamps(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser, timedelta_periods: None
) -> None:
    """With limits on, a second message within a second to one chat gets 429; sends are timed."""
    await emu.create_user(BOB, "Bob")
    await emu.set_rate_limit(per_chat_per_second=1, overall_per_second=30)
    await bot.send_message(ALICE, "first")
    with pytest.raises(RetryAfter):
        await bot.send_message(ALICE, "second")
    await bot.send_message(BOB, "other chat is fine")
    stats = await emu.stats()
    assert stats.rate_limited == 1
    assert stats.max_sends_within(1.0, chat_id=ALICE) == 1
    assert [s.method for s in stats.sends] == ["sendMessage", "sendMessage"]
    assert all(s.t > 0 for s in stats.sends)
    assert stats.calls["sendMessage"] == 3


async def test_the_event_log_follows_every_chat_in_order_with_times(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """One log holds every chat's events in order, each with its chat, kind, message and time."""
    bob = await emu.create_user(BOB, "Bob")
    start = (await emu.events()).next_after_seq
    await alice.send("/checkin")
    sent = await bot.send_message(ALICE, "Craving?", reply_markup=keyboard([("3", "c:3")]))
    await bob.send("hello")
    await alice.press("3")
    await bot.edit_message_text("Mood?", chat_id=ALICE, message_id=sent.message_id)
    page = await emu.events(after_seq=start)
    assert [(e.chat_id, e.kind) for e in page.events] == [
        (ALICE, "user_message"),
        (ALICE, "bot_message"),
        (BOB, "user_message"),
        (ALICE, "press"),
        (ALICE, "edit"),
    ]
    assert [e.seq for e in page.events] == sorted(e.seq for e in page.events)
    assert [e.t for e in page.events] == sorted(e.t for e in page.events)
    assert page.events[0].message.text == "/checkin"
    assert page.events[-1].message.message_id == sent.message_id
    assert page.events[-1].message.text == "Mood?"
    assert page.next_after_seq == page.events[-1].seq
    edits = await emu.events(after_seq=start, kinds=["edit", "bot_message"])
    assert [e.kind for e in edits.events] == ["bot_message", "edit"]


async def test_an_event_log_read_waits_for_the_next_event(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """A read with a timeout returns as soon as something happens, and nothing when nothing did."""
    start = (await emu.events()).next_after_seq
    assert (await emu.events(after_seq=start, timeout=0.2)).events == []
    later = asyncio.get_running_loop().call_later(
        0.2, lambda: asyncio.ensure_future(bot.send_message(ALICE, "reminder"))
    )
    page = await emu.events(after_seq=start, timeout=5)
    later.cancel()
    assert [(e.kind, e.message.text) for e in page.events] == [("bot_message", "reminder")]


async def test_stopping_the_emulator_answers_a_waiting_event_log_read(
    emulator: BotApiEmulator, emu: AsyncEmulatorClient
) -> None:
    """A read waiting for events gets an empty page when the emulator stops, not a cut line."""
    start = (await emu.events()).next_after_seq
    waiting = asyncio.create_task(emu.events(after_seq=start, timeout=30))
    await asyncio.sleep(0.2)  # the read is now held by the server
    await emulator.stop()
    page = await waiting
    assert page.events == []


async def test_stats_keep_when_each_method_was_first_called(
    bot: telegram.Bot, emu: AsyncEmulatorClient
) -> None:
    """The first call of each method is timed, so a test can see when a bot began polling."""
    before = time.time()
    await bot.get_updates(timeout=0)
    await bot.get_updates(timeout=0)
    stats = await emu.stats()
    assert stats.calls["getUpdates"] == 2
    assert before <= stats.first_calls["getUpdates"] <= time.time()


async def test_blocked_user_makes_sends_forbidden(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """After the user blocks the bot, sends raise Forbidden and the bot hears my_chat_member."""
    await emu.block(alice.id)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(ALICE, "hello")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(ALICE, "typing")
    (update,) = await bot.get_updates()
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    await alice.unblock()
    await bot.send_message(ALICE, "welcome back")


async def test_a_user_who_never_opened_the_bot_cannot_be_messaged_first(
    bot: telegram.Bot, emu: AsyncEmulatorClient
) -> None:
    """With started=False, sends fail until the user writes to the bot."""
    carol = await emu.create_user(1003, "Carol", started=False)
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await bot.send_message(carol.id, "hi")
    await carol.send("/start")
    await bot.send_message(carol.id, "hi")


async def test_document_upload_is_kept_with_name_caption_and_bytes(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """A multipart document upload keeps bytes, file name and caption, and getFile serves it."""
    payload = b"date,craving\n2025-01-01,3\n"
    sent = await bot.send_document(
        ALICE, payload, filename="mydata.csv", caption="<b>Your</b> data", parse_mode="HTML"
    )
    assert sent.document is not None
    assert sent.document.file_name == "mydata.csv"
    assert sent.document.mime_type == "text/csv"
    assert sent.caption == "Your data"
    received = await alice.wait_for_message(where=lambda m: m.document is not None, timeout=1)
    assert received.document is not None
    assert received.document["file_name"] == "mydata.csv"
    assert received.caption == "Your data"
    assert await received.document_bytes() == payload
    tg_file = await bot.get_file(sent.document.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == payload
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_document(ALICE, payload, filename="x.csv", caption="c" * 1025)


async def test_photo_must_be_a_decodable_image(bot: telegram.Bot, alice: AsyncUser) -> None:
    """A PNG is accepted with its size ladder; bytes that are not an image are refused."""
    sent = await bot.send_photo(ALICE, tiny_png(3, 2), caption="Trend")
    assert (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
    received = (await alice.messages())[-1]
    assert await received.photo_bytes() == tiny_png(3, 2)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ALICE, b"<svg/>", filename="chart.svg")


async def test_commands_are_stored_per_scope_and_language(
    bot: telegram.Bot, emu: AsyncEmulatorClient
) -> None:
    """setMyCommands stores per scope and language; get and delete address the same slot."""
    await bot.set_my_commands([("checkin", "Daily check-in")])
    await bot.set_my_commands(
        [("patients", "My patients")], scope=telegram.BotCommandScopeChat(ALICE)
    )
    await bot.set_my_commands([("checkin", "Chequeo diario")], language_code="es")
    assert [c.command for c in await bot.get_my_commands()] == ["checkin"]
    scoped = await bot.get_my_commands(scope=telegram.BotCommandScopeChat(ALICE))
    assert [c.command for c in scoped] == ["patients"]
    assert len(await emu.commands()) == 3
    await bot.delete_my_commands(language_code="es")
    assert await bot.get_my_commands(language_code="es") == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("CheckIn", "uppercase is invalid")])


async def test_message_ids_increase_per_chat(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """Each private chat numbers its messages from 1, shared by the user and the bot."""
    bob = await emu.create_user(BOB, "Bob")
    await alice.send("hi")
    first = await bot.send_message(ALICE, "a")
    other = await bot.send_message(bob.id, "b")
    second = await bot.send_message(ALICE, "c")
    assert (first.message_id, second.message_id, other.message_id) == (2, 3, 1)
    assert isinstance(first.date, dt.datetime)
    assert first.date.tzinfo is not None


async def test_waits_only_match_messages_after_the_marker(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """wait_for_message ignores messages from before the user's last action or `since`."""
    old = await bot.send_message(ALICE, "old consent text")
    await alice.send("hello")
    with pytest.raises(WaitTimeoutError, match="consent"):
        await alice.wait_for_message(contains="consent", timeout=0.3)
    later = asyncio.get_running_loop().call_later(
        0.2, lambda: asyncio.ensure_future(bot.send_message(ALICE, "New CONSENT text"))
    )
    found = await alice.wait_for_message(contains="consent", timeout=3)
    later.cancel()
    assert found.text == "New CONSENT text"
    assert (await alice.wait_for_message(since=old.message_id)).message_id == found.message_id
    await alice.expect_no_message(within=0.2, contains="old")


async def test_wait_for_edit_sees_the_edit_after_a_press(
    bot: telegram.Bot, alice: AsyncUser
) -> None:
    """After a press, wait_for_edit returns the message once the bot has edited it."""
    sent = await bot.send_message(ALICE, "Dose due", reply_markup=keyboard([("Taken", "d:1")]))
    await alice.press("Taken")

    async def bot_answers() -> None:
        await asyncio.sleep(0.1)
        await bot.edit_message_text("Recorded: taken", chat_id=ALICE, message_id=sent.message_id)

    task = asyncio.create_task(bot_answers())
    edited = await alice.wait_for_edit(sent.message_id, timeout=3)
    await task
    assert edited.text == "Recorded: taken"
    assert edited.buttons == []
    assert edited.history[0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Taken"


async def test_a_polling_application_completes_a_button_flow(
    emulator: BotApiEmulator, alice: AsyncUser
) -> None:
    """A PTB Application polling the emulator answers a command, a press and edits its message."""

    async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Ask for consent with a button."""
        assert update.message is not None
        await update.message.reply_text(
            "Please read the consent", reply_markup=keyboard([("I agree", "c:y")])
        )

    async def agree(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Acknowledge the press and edit the question."""
        assert update.callback_query is not None
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("Thank you")

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{emulator.url}/bot")
        .base_file_url(f"{emulator.url}/file/bot")
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(agree))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1, poll_interval=0)
        await alice.send("/start ABC123")
        question = await alice.wait_for_message(contains="consent", timeout=5)
        await alice.press("I agree")
        edited = await alice.wait_for_edit(question.message_id, timeout=5)
        await application.updater.stop()
        await application.stop()
    assert edited.text == "Thank you"
    assert len(await alice.callback_answers()) == 1


def test_emulator_thread_serves_blocking_clients() -> None:
    """EmulatorThread runs the server in the background for sync tests and the sync client."""
    with EmulatorThread() as thread, EmulatorClient(thread.url) as client:
        thread.add_bot(TOKEN)
        dave = client.create_user(2001, "Dave")
        sent = dave.send("/help")
        assert sent.text == "/help"
        updates = httpx.post(f"{thread.url}/bot{TOKEN}/getUpdates", json={"timeout": 0}).json()
        assert updates["result"][0]["message"]["entities"][0]["type"] == "bot_command"
        reply = httpx.post(
            f"{thread.url}/bot{TOKEN}/sendMessage",
            json={
                "chat_id": dave.id,
                "text": "Help text",
                "reply_markup": {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]},
            },
        ).json()
        assert reply["ok"]
        message = dave.wait_for_message(contains="help", timeout=1)
        assert message.buttons == [[("OK", "ok")]]
        dave.press("OK")
        assert client.stats().calls == {"getUpdates": 1, "sendMessage": 1}
        assert thread.call(lambda emulator: len(emulator.pending_updates())) == 2
        page = client.events(kinds=["user_message", "press"])
        assert [(e.chat_id, e.kind) for e in page.events] == [
            (dave.id, "user_message"),
            (dave.id, "press"),
        ]


async def test_a_webhook_gets_each_update_with_the_secret_and_again_until_it_answers_2xx(
    bot: telegram.Bot, emu: AsyncEmulatorClient, alice: AsyncUser
) -> None:
    """As Telegram does: the secret in a header, a retry after a 5xx, and no polling meanwhile."""
    received: list[tuple[str, int]] = []
    answers = [500, 200, 200]

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), update["update_id"])
        )
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(BadRequest, match="unallowed characters"):
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="no spaces")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret_T0ken")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        await alice.send("one")
        await alice.send("two")
        for _ in range(100):
            if len(received) >= 3:
                break
            await asyncio.sleep(0.05)
        first, second = received[0][1], received[2][1]
        assert received == [
            ("s3cret_T0ken", first),
            ("s3cret_T0ken", first),
            ("s3cret_T0ken", second),
        ]
        state = await emu.webhook()
        assert state["pending"] == 0
        assert state["posts"] == [[first, 500], [first, 200], [second, 200]]
        assert (
            await bot.get_webhook_info()
        ).last_error_message == "Wrong response from the webhook: 500"
        assert await emu.repost_update(second) == 200
        assert received[-1] == ("s3cret_T0ken", second)
        assert await bot.delete_webhook()
        await alice.send("three")
        [update] = await bot.get_updates()
        assert update.message is not None
        assert update.message.text == "three"
    finally:
        await runner.cleanup()
