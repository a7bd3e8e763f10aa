"""The patient blocked or unblocked the bot: act at once instead of at the next reminder."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update

from bot.handlers.careteam import notify_care_team
from bot.handlers.common import Context, services_of

log = logging.getLogger(__name__)


async def membership_changed(update: Update, context: Context) -> None:
    """Stop reminders and tell the care team when a patient blocks the bot; resume on unblock."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    services = services_of(context)
    patient = await services.enrollment.patient_for_user(change.from_user.id)
    if patient is None or not patient.has_consented:
        return
    status = change.new_chat_member.status
    if status in {ChatMember.BANNED, ChatMember.LEFT}:
        notice = await services.reminders.mark_unreachable(patient.id)
        log.info("patient blocked the bot update_id=%s patient_id=%s", update.update_id, patient.id)
        if notice is not None and notice.is_new:
            await notify_care_team(context, notice)
    elif status == ChatMember.MEMBER:
        await services.reminders.mark_reachable(patient)
        log.info(
            "patient unblocked the bot update_id=%s patient_id=%s", update.update_id, patient.id
        )
