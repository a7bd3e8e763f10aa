"""Scheduler set-up: fixed-interval ticks on PTB's JobQueue (APScheduler 3).

Only fixed intervals are used. Wall-clock times are computed by the planner with ``zoneinfo``;
cron triggers skip or double slots around DST changes (see DESIGN.md).
"""

from __future__ import annotations

import gc
import logging
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.ext import Application, ContextTypes

from bot.container import SERVICES_KEY, Services, get_services
from bot.services.workers import HOUSEKEEPING, PLANNER, WATCH
from scheduler.dispatch import Dispatcher

log = logging.getLogger(__name__)

DISPATCHER_KEY = "dispatcher"
UPDATE_MEMORY = timedelta(hours=48)
JOB_KWARGS = {"max_instances": 1, "coalesce": True, "misfire_grace_time": None}


def build_dispatcher(bot: Bot, services: Services) -> Dispatcher:
    """Return the dispatcher a running bot uses, at the pace its settings allow."""
    settings = services.settings
    return Dispatcher(
        bot=bot,
        reminders=services.reminders,
        clock=services.clock,
        repeats_allowed=settings.reminder_repeats,
        max_in_flight=max(2 * settings.rate_limit_per_second, 10),
        digests=services.weekly,
        safety_net=services.safety_net,
        worker=services.worker.id,
    )


def get_dispatcher(application: Application[Any, Any, Any, Any, Any, Any]) -> Dispatcher:
    """Return the running dispatcher."""
    dispatcher = application.bot_data[DISPATCHER_KEY]
    assert isinstance(dispatcher, Dispatcher)
    return dispatcher


async def start_jobs(
    application: Application[Any, Any, Any, Any, Any, Any], services: Services
) -> Dispatcher:
    """Recover interrupted sends, then schedule the planner, dispatcher and clean-up ticks.

    The planner's first tick (every patient, so a change of settings or an interrupted tick is
    made good) runs at once as a job rather than here: updates are answered meanwhile.
    """
    settings = services.settings
    dispatcher = build_dispatcher(application.bot, services)
    application.bot_data[DISPATCHER_KEY] = dispatcher
    # Registers this worker and takes over the sends left under way by stopped ones.
    await services.worker.start()
    freeze_startup_objects()
    queue = application.job_queue
    if queue is None:
        msg = "the job-queue extra of python-telegram-bot is not installed"
        raise RuntimeError(msg)
    queue.run_repeating(
        _beat,
        interval=services.worker.heartbeat_interval,
        first=services.worker.heartbeat_interval,
        name="BEAT: this worker is alive; take over the sends of stopped workers",
        job_kwargs=JOB_KWARGS,
    )
    queue.run_repeating(
        _plan,
        interval=settings.planner_interval_seconds,
        first=0,
        name="PLAN upcoming reminders",
        job_kwargs=JOB_KWARGS,
    )
    queue.run_repeating(
        _dispatch,
        interval=settings.dispatch_interval_seconds,
        first=0.1,
        name="DISPATCH due deliveries",
        job_kwargs=JOB_KWARGS,
    )
    queue.run_repeating(
        _watch,
        interval=settings.watch_interval_seconds,
        first=settings.watch_interval_seconds,
        name="WATCH the data for alerts, escalate unacknowledged ones",
        job_kwargs=JOB_KWARGS,
    )
    queue.run_repeating(
        _watch_silence,
        interval=timedelta(minutes=15),
        first=timedelta(minutes=1),
        name="WATCH for patients without a check-in",
        job_kwargs=JOB_KWARGS,
    )
    queue.run_repeating(
        _end_idle_flows,
        interval=timedelta(minutes=5),
        first=timedelta(minutes=5),
        name="EXPIRE idle step-by-step flows",
        job_kwargs=JOB_KWARGS,
    )
    if settings.retention_days:
        queue.run_repeating(
            _purge_old_data,
            interval=timedelta(days=1),
            first=timedelta(minutes=10),
            name="PURGE data older than RETENTION_DAYS",
            job_kwargs=JOB_KWARGS,
        )
    queue.run_repeating(
        _forget_old_updates,
        interval=timedelta(hours=1),
        first=timedelta(minutes=1),
        name="PRUNE remembered update ids",
        job_kwargs=JOB_KWARGS,
    )
    return dispatcher


def freeze_startup_objects() -> None:
    """Keep what start-up loaded out of the garbage collector's full passes.

    Content, the crisis model and the libraries live as long as the process: some 190,000
    objects, which every full collection walked, holding the event loop for 50 to 80 ms each
    time. Frozen, they are skipped (what start-up leaves as garbage is collected first).
    """
    gc.collect()
    gc.freeze()


async def stop_jobs(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Let the sends under way finish (briefly) before the bot shuts down, then leave the
    other workers this one's duties."""
    dispatcher = application.bot_data.get(DISPATCHER_KEY)
    if isinstance(dispatcher, Dispatcher):
        await dispatcher.drain(within_seconds=10)
    services = application.bot_data.get(SERVICES_KEY)
    if isinstance(services, Services) and dispatcher is not None:
        await services.worker.stop()


async def plan_tick(services: Services) -> None:
    """Run one planner tick: reminders and safety messages, then the weekly digests."""
    await services.reminders.plan()
    await services.weekly.plan()


async def _beat(context: ContextTypes.DEFAULT_TYPE) -> None:
    resend, _ = await get_services(context).worker.beat()
    if resend:
        await get_dispatcher(context.application).tick()


async def _plan(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    if await services.worker.holds(PLANNER):
        await plan_tick(services)


async def _watch(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    if not await services.worker.holds(WATCH):
        return
    raised = await services.watch.sweep(silence=False)
    escalated = await services.watch.escalate()
    if raised or escalated:
        # Alerts go out now rather than at the next dispatcher tick.
        await get_dispatcher(context.application).tick()


async def _watch_silence(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    if await services.worker.holds(WATCH):
        await services.watch.sweep()


async def _dispatch(context: ContextTypes.DEFAULT_TYPE) -> None:
    await get_dispatcher(context.application).tick()


async def _end_idle_flows(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    if await services.worker.holds(HOUSEKEEPING):
        await services.flows.expire_idle()


async def _purge_old_data(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    if await services.worker.holds(HOUSEKEEPING):
        await services.retention.purge()


async def _forget_old_updates(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    if not await services.worker.holds(HOUSEKEEPING):
        return
    await services.update_log.forget_before(services.clock.now() - UPDATE_MEMORY)
