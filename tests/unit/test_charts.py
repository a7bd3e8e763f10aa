"""The clinicians' charts: valid PNGs for every shape of data, text only from labels."""

from __future__ import annotations

import multiprocessing
import pickle
import struct
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from io import BytesIO

import pytest
from PIL import Image

from bot.models import CohortPoint, DayTrend, PatientTrend
from bot.services.charts import CHART_LABEL_KEYS, ChartJob, render_many
from bot.services.cohort_chart import COHORT_LABEL_KEYS, render_cohort_chart
from bot.services.patient_chart import PATIENT_LABEL_KEYS, render_patient_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

ENGLISH = {
    "chart.patient.title": "{label} \u00b7 last 28 days",
    "chart.patient.score_axis": "Score (0\u201310)",
    "chart.patient.doses_axis": "Doses",
    "chart.patient.dtms_axis": "dTMS",
    "chart.patient.no_data": "No check-ins in these 28 days",
    "chart.craving": "Craving",
    "chart.mood": "Mood",
    "chart.use": "Reported use",
    "chart.doses.taken": "Doses taken",
    "chart.doses.none": "None taken",
    "chart.dtms.attended": "dTMS attended",
    "chart.dtms.missed": "dTMS missed",
    "chart.dtms.reschedule": "To reschedule",
    "chart.dtms.confirmed": "dTMS confirmed",
    "chart.dtms.scheduled": "dTMS scheduled",
    "chart.months": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "chart.date": "{month} {day}",
    "chart.cohort.title": "Harbor Clinic \u00b7 week of Nov 17",
    "chart.cohort.adherence": "Doses taken",
    "chart.cohort.checkins": "Check-ins",
    "chart.cohort.flagged": "Flagged for review",
    "chart.cohort.more": "+{n} more",
    "chart.cohort.empty": "No patients in this group this week",
}

SPANISH = {
    "chart.patient.title": "{label} \u00b7 \u00faltimos 28 d\u00edas",
    "chart.patient.score_axis": "Puntuaci\u00f3n (0\u201310)",
    "chart.patient.doses_axis": "Dosis",
    "chart.patient.dtms_axis": "EMTp",
    "chart.patient.no_data": "Sin registros en estos 28 d\u00edas",
    "chart.craving": "Deseo de consumo",
    "chart.mood": "\u00c1nimo",
    "chart.use": "Consumo se\u00f1alado",
    "chart.doses.taken": "Dosis tomadas",
    "chart.doses.none": "Ninguna tomada",
    "chart.dtms.attended": "EMTp: asisti\u00f3",
    "chart.dtms.missed": "EMTp: falt\u00f3",
    "chart.dtms.reschedule": "Reprogramar",
    "chart.dtms.confirmed": "EMTp confirmada",
    "chart.dtms.scheduled": "EMTp programada",
    "chart.months": "ene feb mar abr may jun jul ago sep oct nov dic",
    "chart.date": "{day} {month}",
    "chart.cohort.title": "Cl\u00ednica Puerto \u00b7 semana del 17 nov",
    "chart.cohort.adherence": "Dosis tomadas",
    "chart.cohort.checkins": "Registros",
    "chart.cohort.flagged": "Se\u00f1alados para revisi\u00f3n",
    "chart.cohort.more": "+{n} m\u00e1s",
    "chart.cohort.empty": "Ning\u00fan paciente esta semana",
}

STATUSES = (None, "attended", "missed", "reschedule", "confirmed", "scheduled")


def trend(
    label: str = "P-014", *, start: date = date(2026, 10, 29), days: int = 28
) -> PatientTrend:
    """Build a trend with every kind of day: gaps, use, missed doses, each dTMS status."""
    built = []
    for offset in range(days):
        answered = offset % 5 != 3
        built.append(
            DayTrend(
                day=start + timedelta(days=offset),
                craving=(offset * 3) % 11 if answered else None,
                mood=(offset * 7) % 11 if answered else None,
                used=(offset % 9 == 4) if answered else None,
                doses_scheduled=2 if offset % 6 else 0,
                doses_taken=offset % 3,
                dtms=STATUSES[offset % len(STATUSES)],
            )
        )
    return PatientTrend(label=label, days=tuple(built))


def empty_trend() -> PatientTrend:
    """Build 28 days on which nothing at all was recorded."""
    return PatientTrend(
        label="P-001",
        days=tuple(
            DayTrend(date(2026, 11, 1) + timedelta(days=i), None, None, None, 0, 0, None)
            for i in range(28)
        ),
    )


def cohort(size: int) -> list[CohortPoint]:
    """Build ``size`` weekly summaries, some flagged and some without data."""
    return [
        CohortPoint(
            label=f"P-{n:03d}",
            craving_mean=None if n % 7 == 0 else (n % 10) + 0.5,
            mood_mean=None if n % 11 == 0 else 9.5 - (n % 10),
            adherence=None if n % 5 == 0 else (n % 4) / 3,
            checkins_done=n % 8,
            checkins_expected=7 if n % 13 else 0,
            flagged=n % 6 == 1,
        )
        for n in range(size)
    ]


def png_size(png: bytes) -> tuple[int, int]:
    """Return the width and height of a PNG, after checking it decodes completely."""
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    with Image.open(BytesIO(png)) as image:
        image.load()
        assert image.size == (width, height)
    return width, height


def test_patient_chart_is_a_png_sized_for_telegram_and_print() -> None:
    """A full 28-day trend renders as a 1000 x 560 PNG."""
    assert png_size(render_patient_chart(trend(), ENGLISH)) == (1000, 560)


def test_days_without_data_and_a_silent_patient_still_render() -> None:
    """Gaps, a patient with nothing recorded, a short trend and no days at all all render."""
    for case in (trend(), empty_trend(), trend(days=1), PatientTrend("P-002", ())):
        assert png_size(render_patient_chart(case, ENGLISH)) == (1000, 560)


def test_chart_shows_the_patients_days_not_a_shared_picture() -> None:
    """Two patients with the same labels and dates get different images."""
    quiet = render_patient_chart(empty_trend(), ENGLISH)
    other = PatientTrend("P-001", tuple(d for d in trend(start=date(2026, 11, 1)).days))
    assert render_patient_chart(other, ENGLISH) != quiet


def test_cohort_of_sixty_grows_then_stops_at_forty_rows() -> None:
    """The height grows with the group up to 40 rows; a 60-patient group is as tall as 40."""
    heights = [png_size(render_cohort_chart(cohort(n), ENGLISH))[1] for n in (1, 10, 40, 60)]
    assert heights[0] < heights[1] < heights[2] == heights[3]
    assert heights[0] >= 200
    assert heights[3] <= 1200


def test_empty_cohort_renders_a_small_notice() -> None:
    """An empty group gives a small chart instead of an error."""
    width, height = png_size(render_cohort_chart([], ENGLISH))
    assert width == 1000
    assert height < 300


def test_spanish_labels_with_accents_render_without_warnings() -> None:
    """Accented labels and a day-first date pattern draw with no missing-glyph warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_patient_chart(trend(), SPANISH)
        render_cohort_chart(cohort(60), SPANISH)
        render_cohort_chart([], SPANISH)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("key", ["chart.mood", "chart.patient.no_data", "chart.date"])
def test_missing_patient_label_raises_key_error_naming_it(key: str) -> None:
    """A template set without a key fails loudly, even when this chart would not show it."""
    labels = {k: v for k, v in ENGLISH.items() if k != key}
    with pytest.raises(KeyError, match=key):
        render_patient_chart(trend(), labels)


def test_missing_cohort_label_raises_key_error_naming_it() -> None:
    """The cohort chart checks its keys too, also when the group is empty."""
    labels = {k: v for k, v in ENGLISH.items() if k != "chart.cohort.more"}
    with pytest.raises(KeyError, match=r"chart\.cohort\.more"):
        render_cohort_chart([], labels)


def test_label_keys_cover_both_charts_once() -> None:
    """CHART_LABEL_KEYS lists each key either chart reads, once, and the fixtures supply them."""
    assert set(CHART_LABEL_KEYS) == set(PATIENT_LABEL_KEYS) | set(COHORT_LABEL_KEYS)
    assert len(CHART_LABEL_KEYS) == len(set(CHART_LABEL_KEYS))
    assert set(ENGLISH) == set(SPANISH) == set(CHART_LABEL_KEYS)


def test_month_names_must_be_twelve() -> None:
    """A truncated month list is reported instead of drawing wrong dates."""
    with pytest.raises(ValueError, match=r"chart\.months"):
        render_patient_chart(trend(), {**ENGLISH, "chart.months": "Jan Feb"})


def test_render_many_matches_single_calls_in_order() -> None:
    """A batch returns, in order, the same bytes each chart gets when rendered alone."""
    jobs = [
        ChartJob.patient(trend("P-010"), ENGLISH),
        ChartJob.cohort(cohort(5), ENGLISH),
        ChartJob.patient(empty_trend(), ENGLISH),
        ChartJob.patient(trend("P-011"), SPANISH),
        ChartJob.patient(trend("P-012"), ENGLISH),
    ]
    singles = [
        render_patient_chart(trend("P-010"), ENGLISH),
        render_cohort_chart(cohort(5), ENGLISH),
        render_patient_chart(empty_trend(), ENGLISH),
        render_patient_chart(trend("P-011"), SPANISH),
        render_patient_chart(trend("P-012"), ENGLISH),
    ]
    assert render_many(jobs) == singles


def test_chart_job_rejects_a_payload_of_the_wrong_kind() -> None:
    """A cohort payload under the patient kind fails when the job is built."""
    with pytest.raises(TypeError):
        ChartJob("patient", tuple(cohort(2)), ENGLISH)


def test_charts_render_in_a_worker_process() -> None:
    """Jobs pickle, and a spawned worker returns the bytes this process would render."""
    jobs = [ChartJob.patient(trend(), ENGLISH), ChartJob.cohort(cohort(3), ENGLISH)]
    assert pickle.loads(pickle.dumps(jobs)) == jobs
    # Spawn, not fork: a fresh interpreter is what a production pool gets on every platform.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        batch = pool.submit(render_many, jobs).result(timeout=60)
    assert batch == render_many(jobs)
