"""PNG charts for clinicians: one patient's 28-day trend and a group's week at a glance.

Every visible word comes from a ``labels`` mapping that the caller renders from the locale's
templates (``CHART_LABEL_KEYS`` lists the keys read), so no chart module holds text of its own.
Drawing (``chart_drawing``) keeps no state between calls, so a chart can be rendered in a thread
off the event loop or in a worker process; ``render_many`` renders a batch in one call so a pool
pays one round trip for it. The charts themselves are ``patient_chart`` and ``cohort_chart``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.models import CohortPoint, PatientTrend
from bot.services.cohort_chart import COHORT_LABEL_KEYS, render_cohort_chart
from bot.services.patient_chart import PATIENT_LABEL_KEYS, Backdrop, render_patient

CHART_LABEL_KEYS: tuple[str, ...] = tuple(dict.fromkeys(PATIENT_LABEL_KEYS + COHORT_LABEL_KEYS))


@dataclass(frozen=True, slots=True)
class ChartJob:
    """One chart to render in a batch; picklable when its labels are a plain dict."""

    kind: Literal["patient", "cohort"]
    payload: PatientTrend | Sequence[CohortPoint]
    labels: Mapping[str, str]

    def __post_init__(self) -> None:
        """Reject a payload that does not match the kind before it travels to a worker."""
        if (self.kind == "patient") != isinstance(self.payload, PatientTrend):
            message = f"chart job of kind {self.kind!r} got a {type(self.payload).__name__}"
            raise TypeError(message)

    @classmethod
    def patient(cls, trend: PatientTrend, labels: Mapping[str, str]) -> ChartJob:
        """Return a job for one patient's trend chart."""
        return cls("patient", trend, labels)

    @classmethod
    def cohort(cls, points: Sequence[CohortPoint], labels: Mapping[str, str]) -> ChartJob:
        """Return a job for a group overview chart."""
        return cls("cohort", tuple(points), labels)


def render_many(jobs: Sequence[ChartJob]) -> list[bytes]:
    """Render the jobs in order in this process and return their PNGs.

    Patient charts that share labels and dates (a digest's charts do) are drawn over one
    rendering of their common frame, scale, dates and key, so a batch costs far less per chart
    than single calls.
    """
    backdrops: dict[Hashable, Backdrop] = {}
    rendered: list[bytes] = []
    for job in jobs:
        if isinstance(job.payload, PatientTrend):
            rendered.append(render_patient(job.payload, job.labels, backdrops))
        else:
            rendered.append(render_cohort_chart(job.payload, job.labels))
    return rendered
