"""Chart rendering benchmark: milliseconds per chart, PNG sizes and a digest batch on a pool.

    python -m bench.charts                  # 50 renders of each chart, then the pool batch
    python -m bench.charts --renders 200    # more renders for steadier figures
    python -m bench.charts --batch 0        # skip the process-pool batch

The per-chart figures are the median and 90th percentile of single renders in this process,
after one warm-up render (the first chart of a process loads the font, which is paid once),
then the mean per chart of one ``render_many`` batch, which draws the shared backdrop once.
The batch figure is the wall-clock time for ``--batch`` patient charts sent to a pool of
``--workers`` processes in ``render_many`` batches, the way a weekly digest would send them,
including the pool's start-up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta

from bot.config import Settings
from bot.container import load_content
from bot.models import CohortPoint, DayTrend, PatientTrend
from bot.services.charts import CHART_LABEL_KEYS, ChartJob, render_many
from bot.services.cohort_chart import render_cohort_chart
from bot.services.patient_chart import render_patient_chart
from bot.texts import content_root

TARGET_PATIENT_MS = 40.0


def _labels() -> dict[str, str]:
    """Render the chart labels from the shipped templates, as the digest does."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    texts, _ = load_content(content_root(), tuple(sorted(settings.crisis_context().items())))
    return {
        key: texts.render(key, "en", start="Nov 23", end="Nov 29, 2026") for key in CHART_LABEL_KEYS
    }


LABELS = _labels()


def sample_trend(rng: random.Random, number: int) -> PatientTrend:
    """Return a plausible 28-day trend: a few skipped days, two doses a day, weekday dTMS."""
    start = date(2026, 10, 29)
    days = []
    for offset in range(28):
        day = start + timedelta(days=offset)
        answered = rng.random() > 0.2
        days.append(
            DayTrend(
                day=day,
                craving=rng.randint(0, 10) if answered else None,
                mood=rng.randint(0, 10) if answered else None,
                used=(rng.random() < 0.1) if answered else None,
                doses_scheduled=2,
                doses_taken=rng.choice((0, 1, 2, 2, 2)),
                dtms=rng.choice((None, "attended", "missed", "reschedule", "confirmed"))
                if day.weekday() < 5
                else None,
            )
        )
    return PatientTrend(label=f"P-{number:03d}", days=tuple(days))


def sample_cohort(rng: random.Random, size: int) -> tuple[CohortPoint, ...]:
    """Return ``size`` patients' weekly summaries, one in six flagged."""
    return tuple(
        CohortPoint(
            label=f"P-{number:03d}",
            craving_mean=rng.uniform(0, 10),
            mood_mean=rng.uniform(0, 10),
            adherence=rng.random(),
            checkins_done=rng.randint(0, 7),
            checkins_expected=7,
            flagged=number % 6 == 0,
        )
        for number in range(size)
    )


def measure(render: Callable[[], bytes], renders: int) -> tuple[float, float, int]:
    """Return the median and 90th-percentile milliseconds of ``renders`` calls and a PNG size."""
    size = len(render())
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], size


def measure_batch(count: int, workers: int) -> float:
    """Return the seconds to render ``count`` patient charts on a pool of ``workers``."""
    rng = random.Random(7)
    jobs = [ChartJob.patient(sample_trend(rng, n), LABELS) for n in range(count)]
    per_batch = max(1, -(-count // (workers * 4)))
    batches = [jobs[i : i + per_batch] for i in range(0, count, per_batch)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pngs = [png for batch in pool.map(render_many, batches) for png in batch]
    elapsed = time.perf_counter() - started
    assert len(pngs) == count
    return elapsed


def main(argv: list[str] | None = None) -> None:
    """Print the per-chart figures and the pool batch time."""
    parser = argparse.ArgumentParser(prog="python -m bench.charts")
    parser.add_argument("--renders", type=int, default=50, help="renders per chart kind")
    parser.add_argument("--batch", type=int, default=300, help="patient charts on the pool")
    parser.add_argument("--workers", type=int, default=2, help="pool processes")
    args = parser.parse_args(argv)

    rng = random.Random(1)
    trends = [sample_trend(rng, n) for n in range(args.renders)]
    turn = iter(range(10**9))
    median, p90, size = measure(
        lambda: render_patient_chart(trends[next(turn) % len(trends)], LABELS), args.renders
    )
    verdict = "ok" if median < TARGET_PATIENT_MS else "OVER TARGET"
    print(
        f"patient chart: {median:.1f} ms median, {p90:.1f} ms p90 over {args.renders} renders, "
        f"PNG {size / 1024:.0f} KiB (target < {TARGET_PATIENT_MS:.0f} ms: {verdict})"
    )
    jobs = [ChartJob.patient(t, LABELS) for t in trends]
    started = time.perf_counter()
    render_many(jobs)
    batched = (time.perf_counter() - started) * 1000 / len(jobs)
    verdict = "ok" if batched < TARGET_PATIENT_MS else "OVER TARGET"
    print(
        f"patient chart in a render_many batch (shared dates and labels): {batched:.1f} ms "
        f"each over {len(jobs)} ({verdict})"
    )
    for rows in (12, 60):
        cohort = sample_cohort(rng, rows)
        median, p90, size = measure(lambda c=cohort: render_cohort_chart(c, LABELS), args.renders)
        print(
            f"cohort chart, {rows} patients: {median:.1f} ms median, {p90:.1f} ms p90, "
            f"PNG {size / 1024:.0f} KiB"
        )
    if args.batch:
        elapsed = measure_batch(args.batch, args.workers)
        print(
            f"digest batch: {args.batch} patient charts on {args.workers} processes in "
            f"{elapsed:.2f} s = {elapsed / args.batch * 1000:.1f} ms each (pool start included)"
        )


if __name__ == "__main__":
    main()
