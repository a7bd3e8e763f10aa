"""dTMS after-effects: the question, each answer's reply, the day, and the digest's counts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import callbacks
from bot.config import Settings
from bot.models import Clinician, Patient, PatientStatus
from bot.services import aftereffects
from bot.services.digest_figures import _Records, summarise
from bot.services.digest_model import Event, Reason, Rules, WeeklyDigest
from bot.services.reports import DigestRenderer
from bot.storage.digest import CheckinRow
from bot.texts import Texts, content_root, load_texts

NY = ZoneInfo("America/New_York")
WEEK_END = date(2026, 11, 29)  # a Sunday: the week is Mon 23 - Sun 29
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SETTINGS = Settings(_env_file=None, emergency_number="112", clinic_oncall_phone="555-0100")  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def texts() -> Texts:
    """The shipped templates, with an emergency number that is not the default."""
    return load_texts(content_root(), SETTINGS.crisis_context())


def patient(**changes: object) -> Patient:
    values: dict[str, object] = {
        "id": 1,
        "label": "P-001",
        "telegram_user_id": 11,
        "chat_id": 11,
        "status": PatientStatus.ACTIVE,
        "timezone": "America/New_York",
        "locale": "en",
        "checkin_time": "20:00",
        "reminders_paused": False,
        "created_at": datetime(2026, 10, 1, tzinfo=UTC),
        "enrolled_at": datetime(2026, 10, 1, tzinfo=UTC),
        "consented_at": datetime(2026, 10, 1, 14, tzinfo=UTC),
    }
    values.update(changes)
    return Patient(**values)  # type: ignore[arg-type]


def day(n: int) -> date:
    return date(2026, 11, n)


def effects(*days: tuple[int, str | None]) -> _Records:
    """A week of check-ins, each with an after-effect answer (None: not asked)."""
    return _Records(checkins=[CheckinRow(1, day(n), 2, 7, False, effect) for n, effect in days])


# The question and the replies --------------------------------------------------------------------


def test_the_question_offers_five_answers_with_the_emergency_on_its_own_row(texts: Texts) -> None:
    """None, headache, scalp, something else, and "Fainted or seizure" alone on the last row."""
    buttons = aftereffects.question_buttons(texts, "en", "2026-11-26")
    labels = [[label for label, _ in row] for row in buttons]
    assert labels == [
        ["None"],
        ["Headache", "Scalp discomfort"],
        ["Something else"],
        ["Fainted or seizure"],
    ]
    data = [value for row in buttons for _, value in row]
    assert data[-1] == "ci:2026-11-26:t:fainting_or_seizure"
    for value in data:
        assert len(value.encode()) <= 64, "Telegram's limit for callback data"
        parsed = callbacks.parse_checkin(value)
        assert parsed is not None
        assert parsed[2] in aftereffects.EFFECTS


def test_none_gets_no_reply(texts: Texts) -> None:
    """Nothing to say about nothing."""
    assert aftereffects.reply(texts, "en", "none", "2026-11-26") is None


@pytest.mark.parametrize("effect", ["headache", "scalp", "other"])
def test_a_common_or_other_after_effect_offers_the_team_and_the_article(
    texts: Texts, effect: str
) -> None:
    """The reply carries "Tell my care team" for that day and the side-effects article."""
    said = aftereffects.reply(texts, "en", effect, "2026-11-26")
    assert said is not None
    text, buttons = said
    assert buttons == (
        (("Tell my care team", "ci:2026-11-26:t:tell"),),
        (("Read: dTMS side effects", "l:p:dtms-side-effects:0"),),
    )
    assert "call <b>112</b>" in text, "the emergency number comes from the settings"
    if effect == "other":
        assert '"something else"' in text
    else:
        assert "first week" in text


def test_the_emergency_reply_is_first_aid_with_the_configured_number(texts: Texts) -> None:
    """Fainting or a seizure: the emergency number, on the side, nothing in the mouth, stay."""
    said = aftereffects.reply(texts, "en", aftereffects.EMERGENCY, "2026-11-26")
    assert said is not None
    text, buttons = said
    assert buttons == ()
    assert "call 112 now" in text
    assert "911" not in text
    for words in ("onto their side", "Do not put anything in their mouth", "Stay with them"):
        assert words in text
    assert "555-0100" in text, "the clinic's on-call line when the clinic has one"


def test_the_emergency_reply_is_in_spanish_for_a_spanish_patient(texts: Texts) -> None:
    """The same steps, in the patient's language."""
    said = aftereffects.reply(texts, "es", aftereffects.EMERGENCY, "2026-11-26")
    assert said is not None
    assert "llame al 112 ahora" in said[0]
    assert "póngale con cuidado de lado" in said[0]


def test_once_told_the_reply_keeps_its_words_and_loses_the_offer(texts: Texts) -> None:
    """After "Tell my care team" the message says so and only the article is left."""
    text, buttons = aftereffects.told(texts, "en", "headache", already=False)
    assert "A headache" in text
    assert "I have told your care team" in text
    assert buttons == ((("Read: dTMS side effects", "l:p:dtms-side-effects:0"),),)
    again, _ = aftereffects.told(texts, "en", "headache", already=True)
    assert "already been told" in again


# The day ------------------------------------------------------------------------------------------


def test_a_day_window_follows_the_patients_zone_across_the_spring_change() -> None:
    """8 March 2026 has 23 hours in New York; the window starts at local midnight."""
    start, end = aftereffects.day_window(date(2026, 3, 8), NY)
    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_the_told_key_names_the_patient_and_day() -> None:
    """One "tell my care team" alert per patient and local day."""
    assert aftereffects.told_key(7, date(2026, 11, 26)) == "dtms_effect:7:2026-11-26"


# The digest ---------------------------------------------------------------------------------------


def test_tally_counts_reported_after_effects_most_serious_first() -> None:
    """ "none" and unanswered are not after-effects; the emergency leads."""
    counted = aftereffects.tally(
        ["headache", None, "none", "scalp", "headache", "fainting_or_seizure", "other"]
    )
    assert counted == (("fainting_or_seizure", 1), ("headache", 2), ("scalp", 1), ("other", 1))
    assert aftereffects.tally([None, "none"]) == ()


def test_the_week_counts_after_effects_of_its_own_days_only() -> None:
    """Check-ins of the week before are left out of the week's counts."""
    rows = effects(
        (16, "headache"),
        (23, "headache"),
        (24, "none"),
        (25, "scalp"),
        (26, "headache"),
        (27, None),
    )
    week = summarise(patient(), rows, WEEK_END, NOW, Rules())
    assert week.dtms_effects == (("headache", 2), ("scalp", 1))
    assert week.reasons == (), "common after-effects alone need no attention"


def test_a_fainting_spell_or_seizure_is_a_reason_right_after_a_crisis() -> None:
    """Each day with one is a reason with the patient's weekday, weighed above /sos."""
    rows = effects((24, "fainting_or_seizure"), (26, "headache"), (29, None))
    week = summarise(patient(), rows, WEEK_END, NOW, Rules(), with_events=True)
    assert week.reasons == (Reason("dtms_emergency", weekday=1),)
    assert week.score == 95
    assert week.dtms_effects == (("fainting_or_seizure", 1), ("headache", 1))
    assert Event(datetime(2026, 11, 24, 12, tzinfo=NY), "dtms_emergency") in week.events


def test_a_withdrawn_patient_discloses_no_after_effects() -> None:
    """A patient who left is listed by status only."""
    week = summarise(patient(status=PatientStatus.WITHDRAWN), _Records(), WEEK_END, NOW, Rules())
    assert week.dtms_effects == ()


def digest_of(*weeks: _Records) -> WeeklyDigest:
    clinician = Clinician(1, 99, "Dr. Lee", "clinician", True, datetime(2026, 1, 1, tzinfo=UTC))
    patients = [
        summarise(patient(id=i, label=f"P-00{i}"), rows, WEEK_END, NOW, Rules())
        for i, rows in enumerate(weeks, 1)
    ]
    ranked = sorted(patients, key=lambda w: (-w.score, w.patient.label))
    return WeeklyDigest(clinician, WEEK_END - timedelta(days=6), WEEK_END, NOW, tuple(ranked))


def test_the_message_report_and_csv_show_the_after_effects(texts: Texts) -> None:
    """ "dTMS after-effects: headache 2, scalp 1" in the message; a column per kind in the CSV."""
    renderer = DigestRenderer(texts, content_root() / "reports", clinic_name="C", max_photos=3)
    digest = digest_of(
        effects((23, "fainting_or_seizure"), (24, "headache")),
        effects((23, "headache"), (25, "headache"), (26, "scalp"), (29, "none")),
    )
    assert [week.flagged for week in digest.patients] == [True, False]
    [message] = renderer.message_parts(digest, "en")
    flagged, quiet = message.split("Nothing to report")
    assert "fainted or had a seizure after dTMS Mon" in flagged
    assert "dTMS after-effects: fainting or seizure 1, headache 1" in flagged
    assert "dTMS after-effects: headache 2, scalp 1" in quiet, "quiet patients show them too"
    report = renderer.html_report(digest, "en", []).decode()
    assert "fainting or seizure 1, headache 1" in report
    table = list(csv.reader(io.StringIO(renderer.csv_report(digest, "en").decode("utf-8-sig"))))
    header = table[0]
    first, second = (dict(zip(header, row, strict=False)) for row in table[1:3])
    assert first["label"] == "P-001"
    assert first["dTMS after-effect: fainting or seizure (days)"] == "1"
    assert first["dTMS after-effect: headache (days)"] == "1"
    assert second["dTMS after-effect: headache (days)"] == "2"
    assert second["dTMS after-effect: scalp discomfort (days)"] == "1"
    assert second["dTMS after-effect: other (days)"] == "0"


def test_the_spanish_digest_names_the_after_effects_in_spanish(texts: Texts) -> None:
    """A Spanish-speaking clinician reads them in Spanish."""
    renderer = DigestRenderer(texts, content_root() / "reports", clinic_name="C", max_photos=3)
    [message] = renderer.message_parts(digest_of(effects((27, "fainting_or_seizure"))), "es")
    assert "se desmayó o tuvo una convulsión después de la dTMS el vie" in message
    assert "efectos después de la dTMS: desmayo o convulsión 1" in message
