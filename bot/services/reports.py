"""Renderings of the weekly digest: the Telegram message, charts, the HTML report and the CSV.

Every word comes from templates in ``content/`` (the message and labels from
``messages/<locale>/digest.yaml``, the report from ``reports/<locale>/digest.html.j2``), in the
clinician's language. Patients appear by label only; a note's text is never read here.
Charts are drawn in worker processes (``ChartPool``), so a large clinic's digest never holds the
event loop that answers patients.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from bot.services.aftereffects import DIGEST_ORDER
from bot.services.charts import CHART_LABEL_KEYS, ChartJob, render_many
from bot.services.digest_model import Event, PatientWeek, Reason, WeeklyDigest
from bot.texts import LOCALES, Texts, normalise_locale

# Telegram's limit is 4,096 characters a message; a margin keeps a split part well under it.
MESSAGE_LIMIT = 3900
CAPTION_LIMIT = 1024
# At most this many charts go to a worker process at a time.
CHART_BATCH = 16


class ReportTemplateError(Exception):
    """A report template is missing or broken; the message names the file."""


@dataclass(frozen=True, slots=True)
class Photo:
    """A chart as Telegram gets it."""

    filename: str
    png: bytes
    caption: str


@dataclass(frozen=True, slots=True)
class DigestFiles:
    """A digest exactly as a clinician receives it."""

    messages: tuple[str, ...]
    photos: tuple[Photo, ...]
    report_name: str
    report: bytes
    csv_name: str
    csv: bytes
    files_caption: str


class ChartPool:
    """Draws charts off the event loop: in worker processes, or in one thread with ``workers=0``.

    Processes keep the event loop free of matplotlib's work entirely (a thread still takes
    turns at the interpreter lock); a thread starts at once, which suits small clinics and tests.
    """

    def __init__(self, workers: int = 2) -> None:
        self._workers = workers
        self._executor: Executor | None = None

    async def render(self, jobs: Sequence[ChartJob]) -> list[bytes]:
        """Return one PNG per job, in order."""
        if not jobs:
            return []
        if self._workers <= 0:
            return await asyncio.to_thread(render_many, list(jobs))
        if self._executor is None:
            # Starting the workers takes tens of milliseconds: a thread does it, not the loop.
            self._executor = await asyncio.to_thread(self._start)
        loop = asyncio.get_running_loop()
        # Small batches: each is pickled to a worker, and its PNGs unpickled back, in one call
        # that holds the interpreter lock, so a few hundred charts at once would stall the loop.
        size = min(CHART_BATCH, -(-len(jobs) // self._workers))
        batches = [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self._executor, render_many, batch) for batch in batches)
        )
        return [png for batch in results for png in batch]

    def _start(self) -> Executor:
        """Create the process pool and wait until its workers run."""
        # forkserver: workers start from a clean process, not a fork of one whose threads
        # (the database's, the HTTP client's) might hold locks at the moment of the fork.
        context = multiprocessing.get_context("forkserver")
        executor = ProcessPoolExecutor(self._workers, mp_context=context)
        # With this context, the first submit starts every worker; waiting for it here keeps
        # that work (and the forkserver's own start) off the event loop.
        executor.submit(render_many, []).result()
        return executor

    def close(self) -> None:
        """Stop the worker processes."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


class DigestRenderer:
    """Turns a ``WeeklyDigest`` into the clinician's message parts, charts, report and CSV."""

    def __init__(
        self, texts: Texts, reports_root: Path, *, clinic_name: str, max_photos: int
    ) -> None:
        self._texts = texts
        self._clinic = clinic_name
        self._max_photos = max_photos
        self._env = Environment(
            loader=FileSystemLoader(str(reports_root)),
            autoescape=select_autoescape(["html", "j2"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def check(self) -> None:
        """Load every locale's report template (start-up fails on a broken one)."""
        for locale in LOCALES:
            name = f"{locale}/digest.html.j2"
            try:
                self._env.get_template(name)
            except TemplateError as exc:
                msg = f"{name}: {exc}"
                raise ReportTemplateError(msg) from exc
        for locale in LOCALES:
            self.chart_labels(locale)

    # Views ----------------------------------------------------------------------------------

    def reason_text(self, reason: Reason, locale: str) -> str:
        """Return one reason as the sentence the clinician reads."""
        return self._texts.render(
            f"text.reason.{reason.code}",
            locale,
            count=reason.count,
            day=self._weekday(reason.weekday, locale),
            name=reason.name,
            amount=_number(reason.amount),
            threshold=int(reason.amount),
        )

    def event_text(self, event: Event, locale: str) -> str:
        """Return one event of ``/patient``'s list."""
        return self._texts.render(f"text.event.{event.code}", locale, detail=event.detail)

    def patient_view(self, week: PatientWeek, locale: str, *, week_start: date) -> dict[str, Any]:
        """Return the figures of one patient as the templates use them."""
        t = self._texts
        skip = ", ".join(
            t.render(f"text.skip.{code}", locale, count=count) for code, count in week.skip_reasons
        )
        effects = ", ".join(
            t.render(f"text.dtms_effect.{code}", locale, count=count)
            for code, count in week.dtms_effects
        )
        crisis = ", ".join(
            t.render(f"text.crisis_event.{kind}", locale, day=self._weekday(day, locale))
            for kind, day in week.crisis_events
        )
        safety = ", ".join(
            t.render(
                "text.safety_sent",
                locale,
                name=t.render(f"text.jit.{code}", locale),
                day=self._weekday(day, locale),
            )
            for code, day in week.safety_messages
        )
        direction = week.mood_direction
        return {
            "label": week.patient.label,
            "status": week.status,
            "status_text": t.render(f"status.{week.status}", locale),
            "new": week.enrolled_on is not None and week.enrolled_on > week_start,
            "enrolled": f"{week.enrolled_on:%b %d}" if week.enrolled_on else "",
            "reasons": [self.reason_text(r, locale) for r in week.reasons],
            "checkins": f"{week.checkins_done}/{week.checkins_expected}",
            "checkins_done": week.checkins_done,
            "checkins_expected": week.checkins_expected,
            "craving_mean": _opt(week.craving_mean),
            "craving_max": week.craving_max,
            "craving_var": _opt(week.craving_variability),
            "craving_prev": _opt(week.craving_previous_mean),
            "mood_mean": _opt(week.mood_mean),
            "mood_prev": _opt(week.mood_previous_mean),
            "mood_direction": direction,
            "mood_direction_text": (
                t.render(f"text.mood_direction.{direction}", locale) if direction else ""
            ),
            "use_days": week.use_days,
            "doses_scheduled": week.doses_scheduled,
            "doses_taken": week.doses_taken,
            "doses_missed": week.doses_missed,
            "doses_skipped": week.doses_skipped,
            "skip_reasons": skip,
            "dtms_scheduled": week.dtms_scheduled,
            "dtms_attended": week.dtms_attended,
            "dtms_effects": effects,
            "crisis": crisis,
            "open_alerts": week.open_alerts,
            "safety": safety,
        }

    def chart_labels(self, locale: str, **context: Any) -> dict[str, str]:
        """Return every chart label in a locale."""
        values = {"start": "", "end": "", **context}
        return {key: self._texts.render(key, locale, **values) for key in CHART_LABEL_KEYS}

    # Renderings -----------------------------------------------------------------------------

    def chart_jobs(self, digest: WeeklyDigest, locale: str) -> list[ChartJob]:
        """Return the cohort chart and one chart per flagged patient, in that order."""
        start, end = _span(digest)
        cohort = ChartJob(
            "cohort",
            tuple(p.cohort_point() for p in digest.patients),
            self.chart_labels(locale, start=start, end=end),
        )
        labels = self.chart_labels(locale)
        patients = [ChartJob("patient", week.trend, labels) for week in digest.flagged]
        return [cohort, *patients]

    def patient_chart_job(self, week: PatientWeek, locale: str) -> ChartJob:
        """Return the job that draws one patient's 28-day chart."""
        return ChartJob("patient", week.trend, self.chart_labels(locale))

    def views(self, digest: WeeklyDigest, locale: str) -> dict[int, dict[str, Any]]:
        """Return every patient's view by patient id (each rendering reads the same ones)."""
        return {
            week.patient.id: self.patient_view(week, locale, week_start=digest.week_start)
            for week in digest.patients
        }

    def message_parts(
        self,
        digest: WeeklyDigest,
        locale: str,
        views: Mapping[int, dict[str, Any]] | None = None,
    ) -> list[str]:
        """Return the Telegram message, split on patient boundaries under Telegram's limit."""
        t = self._texts
        views = views if views is not None else self.views(digest, locale)
        if not digest.patients:
            return [
                "\n\n".join((self._header(digest, locale, 1), t.render("digest.empty", locale)))
            ]
        # (text, separator before it): patients are blank-line apart, quiet lines one a line.
        blocks: list[tuple[str, str]] = []
        if digest.flagged:
            blocks.append((t.render("digest.flagged_title", locale), "\n\n"))
            blocks.extend(
                (
                    t.render(
                        "digest.patient",
                        locale,
                        number=i,
                        p=views[week.patient.id],
                    ),
                    "\n\n",
                )
                for i, week in enumerate(digest.flagged, 1)
            )
        if digest.quiet:
            blocks.append((t.render("digest.quiet_title", locale), "\n\n"))
            blocks.extend(
                (
                    t.render(
                        "digest.quiet_line",
                        locale,
                        p=views[week.patient.id],
                    ),
                    "\n",
                )
                for week in digest.quiet
            )
        return self._pack(digest, locale, blocks)

    def _pack(
        self, digest: WeeklyDigest, locale: str, blocks: Sequence[tuple[str, str]]
    ) -> list[str]:
        """Fill messages with whole blocks; a block never straddles two messages."""
        parts: list[str] = []
        current = self._header(digest, locale, 1)
        for block, separator in blocks:
            candidate = f"{current}{separator}{block}"
            if len(candidate) <= MESSAGE_LIMIT:
                current = candidate
                continue
            parts.append(current)
            current = f"{self._header(digest, locale, len(parts) + 1)}\n\n{block}"
        parts.append(current)
        return parts

    def _header(self, digest: WeeklyDigest, locale: str, part_number: int) -> str:
        start, end = _span(digest)
        return self._texts.render(
            "digest.header",
            locale,
            part_number=part_number,
            start=start,
            end=end,
            total=len(digest.patients),
            flagged=len(digest.flagged),
        )

    def html_report(
        self,
        digest: WeeklyDigest,
        locale: str,
        charts: Sequence[bytes],
        views: Mapping[int, dict[str, Any]] | None = None,
    ) -> bytes:
        """Return the self-contained HTML report (charts embedded, no external assets)."""
        views = views if views is not None else self.views(digest, locale)
        start, end = _span(digest)
        encoded = [base64.b64encode(png).decode("ascii") for png in charts]
        cohort = encoded[0] if encoded else ""
        flagged = []
        for i, week in enumerate(digest.flagged):
            chart = encoded[i + 1] if i + 1 < len(encoded) else ""
            flagged.append({**views[week.patient.id], "chart": chart})
        template = self._env.get_template(f"{normalise_locale(locale)}/digest.html.j2")
        html = template.render(
            title=self._texts.render("text.report_title", locale, start=start, end=end),
            clinic=self._clinic,
            clinician=digest.clinician.name,
            generated=f"{digest.generated_at:%Y-%m-%d %H:%M} UTC",
            total=len(digest.patients),
            flagged=flagged,
            quiet=[views[w.patient.id] for w in digest.quiet],
            cohort_chart=cohort,
            notice=self._texts.render("digest.notice", locale),
        )
        return html.encode("utf-8")

    def csv_report(
        self,
        digest: WeeklyDigest,
        locale: str,
        views: Mapping[int, dict[str, Any]] | None = None,
    ) -> bytes:
        """Return one CSV row per patient, ranked as in the digest, with the notice last."""
        views = views if views is not None else self.views(digest, locale)
        t = self._texts
        columns = (
            "label", "status", "needs_attention", "reasons", "checkins_done",
            "checkins_expected", "craving_mean", "craving_max", "craving_variability",
            "mood_mean", "mood_previous", "use_days", "doses_scheduled", "doses_taken",
            "doses_missed", "doses_skipped", "skip_reasons", "dtms_scheduled", "dtms_attended",
            *(f"dtms_{code}" for code in DIGEST_ORDER), "crisis_events", "open_alerts",
            "safety_messages",
        )  # fmt: skip
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([t.render(f"csv.{c}", locale) for c in columns])
        for week in digest.patients:
            v = views[week.patient.id]
            effects = dict(week.dtms_effects)
            writer.writerow(
                [
                    _cell(v["label"]),
                    v["status_text"],
                    "yes" if week.flagged else "no",
                    _cell("; ".join(v["reasons"])),
                    week.checkins_done,
                    week.checkins_expected,
                    _blank(week.craving_mean),
                    _blank(week.craving_max),
                    _blank(week.craving_variability),
                    _blank(week.mood_mean),
                    _blank(week.mood_previous_mean),
                    week.use_days,
                    week.doses_scheduled,
                    week.doses_taken,
                    week.doses_missed,
                    week.doses_skipped,
                    _cell(v["skip_reasons"]),
                    week.dtms_scheduled,
                    week.dtms_attended,
                    *(effects.get(code, 0) for code in DIGEST_ORDER),
                    _cell(v["crisis"]),
                    week.open_alerts,
                    _cell(v["safety"]),
                ]
            )
        writer.writerow([])
        writer.writerow([t.render("csv.notice", locale), t.render("digest.notice", locale)])
        # A byte-order mark lets spreadsheet programs read the accents of the Spanish headers.
        return ("\ufeff" + out.getvalue()).encode("utf-8")

    async def render(self, digest: WeeklyDigest, locale: str, charts: ChartPool) -> DigestFiles:
        """Return everything a clinician receives for a digest (off the event loop)."""
        locale = normalise_locale(locale)
        jobs = await asyncio.to_thread(self.chart_jobs, digest, locale) if digest.patients else []
        pngs = await charts.render(jobs)
        # Templates for a thousand patients take a while: a worker thread, like the charts.
        return await asyncio.to_thread(self._files, digest, locale, pngs)

    def _files(self, digest: WeeklyDigest, locale: str, pngs: Sequence[bytes]) -> DigestFiles:
        start, end = _span(digest)
        photos: list[Photo] = []
        if pngs:
            photos.append(
                Photo(
                    "cohort.png",
                    pngs[0],
                    self._texts.render("digest.cohort_caption", locale, start=start, end=end),
                )
            )
            for week, png in zip(digest.flagged[: self._max_photos - 1], pngs[1:], strict=False):
                caption = self._texts.render(
                    "digest.patient_caption",
                    locale,
                    label=week.patient.label,
                    reasons="; ".join(self.reason_text(r, locale) for r in week.reasons),
                )
                photos.append(Photo(f"{week.patient.label}.png", png, caption[:CAPTION_LIMIT]))
        end_iso = digest.week_end.isoformat()
        views = self.views(digest, locale)  # once, for the message, the report and the CSV
        return DigestFiles(
            messages=tuple(self.message_parts(digest, locale, views)),
            photos=tuple(photos) if self._max_photos else (),
            report_name=self._texts.render("text.file_report", locale, end=end_iso),
            report=self.html_report(digest, locale, pngs, views),
            csv_name=self._texts.render("text.file_csv", locale, end=end_iso),
            csv=self.csv_report(digest, locale, views),
            files_caption=self._texts.render("digest.files", locale),
        )

    def _weekday(self, weekday: int | None, locale: str) -> str:
        if weekday is None:
            return ""
        return self._texts.render("text.weekdays", locale).split(",")[weekday]


def _span(digest: WeeklyDigest) -> tuple[str, str]:
    return f"{digest.week_start:%b %d}", f"{digest.week_end:%b %d, %Y}"


def _opt(value: float | None) -> str | None:
    return None if value is None else _number(value)


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _blank(value: float | None) -> str:
    return "" if value is None else _number(float(value))


def _cell(value: str) -> str:
    # A cell that starts like a formula would run in a spreadsheet (CSV injection).
    return f"'{value}" if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


def write_files(files: DigestFiles, folder: Path) -> list[Path]:
    """Write a digest into a folder: message parts, charts, report and CSV; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, text in enumerate(files.messages, 1):
        path = folder / f"message-{i}.html"
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    for photo in files.photos:
        path = folder / photo.filename
        path.write_bytes(photo.png)
        written.append(path)
    for name, content in ((files.report_name, files.report), (files.csv_name, files.csv)):
        path = folder / name
        path.write_bytes(content)
        written.append(path)
    return written
