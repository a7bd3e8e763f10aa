"""Reading a message with the crisis rules alone, for the tests of the rounds of rules."""

from __future__ import annotations

from bot.models import CrisisCategory
from bot.services.crisis_rules import assess_rules


def category_of(text: str) -> CrisisCategory:
    """The category of the signal the rules raise for ``text``; the message must raise one."""
    signal = assess_rules(text)[0].signal
    assert signal is not None, text
    return signal.category
