"""End to end: the bot in webhook mode, behind what would be the clinic's reverse proxy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient
from tests.support.ports import unused_port

SECRET = "e2e-webhook-secret-0123456789"
PATIENT = 710001


def post(url: str, update: dict[str, object], secret: str | None) -> int:
    """POST an update as Telegram would; return the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(
        url, data=json.dumps(update).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def forged(user_id: int, update_id: int, text: str) -> dict[str, object]:
    """Return a message update that did not come from Telegram."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 999,
            "date": 1_790_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Pat"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Pat"},
            "text": text,
        },
    }


async def test_webhook_mode_answers_refuses_forgeries_and_acts_once_on_a_repost(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Updates arrive by webhook with the secret; without it they are refused; a repost is
    taken once; SIGTERM stops the bot cleanly."""
    port = unused_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    bot.env.update({"WEBHOOK_URL": url, "WEBHOOK_PORT": str(port), "WEBHOOK_SECRET_TOKEN": SECRET})
    await bot.launch(emu, "--webhook")
    state = await emu.webhook()
    assert state["url"] == url
    assert state["has_secret"]

    patient = await emu.create_user(PATIENT, "Pat")
    await patient.send("/sos")
    await patient.wait_for_message(contains="988", timeout=20)
    answered = [update_id for update_id, status in (await emu.webhook())["posts"] if status == 200]
    assert len(answered) == 1, "the /sos update, answered once"
    update_id = answered[0]
    assert (await emu.stats()).calls.get("getUpdates", 0) == 0, "no polling in webhook mode"

    # Telegram posts an update again when the bot's answer was lost: it is taken once.
    await patient.mark()
    assert await emu.repost_update(update_id) == 200
    await patient.expect_no_message(within=2.0)

    # Anyone who finds the address but not the secret is refused, and nothing is acted on.
    for secret in (None, "wrong-secret-0123456789"):
        assert post(url, forged(PATIENT, 900_001, "/sos"), secret) == 403
    await patient.expect_no_message(within=1.0)

    assert bot.stop() == 0
    logs = bot.logs()
    assert SECRET not in logs, "the secret token is never logged"
    assert "Traceback" not in logs
