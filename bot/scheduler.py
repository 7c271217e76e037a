"""The clock: APScheduler calls the jobs on each cooperative's own schedule, and dispatch.

One cron schedule per cooperative for its reminder time and one for its digest time
(with the alerts and, on Mondays, the buyers' weekly progress), all in the cooperative's
time zone and on its working days; dispatch every few seconds. The jobs themselves decide
what is due and queue under unique keys, so a catch-up run after a restart, or a second
scheduler by mistake, sends nothing twice. Web workers never start this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, select
from sqlmodel import Session

from bot import jobs, spool
from bot.clock import clock_time
from bot.config import Settings
from bot.models import Cooperative

log = logging.getLogger(__name__)
DISPATCH_SECONDS = 5
SPOOL_SECONDS = 30  # messages that arrived while the database was down
RESYNC_MINUTES = 5  # picks up `puntada coop add/set` without a restart
CATCH_UP_MINUTES = 10


class Clock:
    """Keeps a scheduler's jobs in step with the cooperatives in the database."""

    def __init__(
        self, scheduler: BaseScheduler, engine: Engine, settings: Settings, send: Callable[[], object]
    ):
        self.scheduler, self.engine, self.settings, self.send = scheduler, engine, settings, send

    def start(self) -> None:
        """Schedule everything, catch up on what is already due today, and start."""
        options = dict(coalesce=True, max_instances=1, misfire_grace_time=300, replace_existing=True)
        self.scheduler.add_job(self._safe(self.send), IntervalTrigger(seconds=DISPATCH_SECONDS),
                               id="dispatch", **options)
        self.scheduler.add_job(self._safe(self.sync), IntervalTrigger(minutes=RESYNC_MINUTES),
                               id="sync", **options)
        self.scheduler.add_job(self._safe(self.replay), IntervalTrigger(seconds=SPOOL_SECONDS),
                               id="spool", **options)
        # The cron fires once; this catches what it could not send then (a reminder time
        # inside quiet hours goes out when they end), settings changed since, missed fires.
        self.scheduler.add_job(self._safe(self.catch_up), IntervalTrigger(minutes=CATCH_UP_MINUTES),
                               id="catch-up", **options)
        self._safe(self.sync)()
        self._safe(self.catch_up)()
        self.scheduler.start()

    def sync(self) -> None:
        """One reminder and one digest schedule per cooperative, as its settings say now."""
        with Session(self.engine) as session:
            cooperatives = list(session.scalars(select(Cooperative)))
        wanted = set()
        for coop in cooperatives:
            for name, hhmm, run in (("reminders", coop.reminder_time, self._reminders),
                                    ("digest", coop.digest_time, self._evening)):
                job_id = f"{name}:{coop.id}"
                wanted.add(job_id)
                at = clock_time(hhmm)
                trigger = CronTrigger(day_of_week=coop.working_days, hour=at.hour, minute=at.minute,
                                      timezone=coop.timezone)
                self.scheduler.add_job(self._safe(run), trigger, args=[coop.id], id=job_id,
                                       replace_existing=True, coalesce=True, misfire_grace_time=3600)
        for job in self.scheduler.get_jobs():
            if ":" in job.id and job.id not in wanted:
                job.remove()

    def catch_up(self) -> None:
        """Run every job once now: each queues only what is already due and not yet queued."""
        for job in jobs.JOBS.values():
            jobs.run(self.engine, job)

    def replay(self) -> None:
        """Record what the webhook kept on disk while the database was down."""
        spool.replay(self.engine, Path(self.settings.spool_dir))

    def _reminders(self, cooperative_id: int) -> None:
        jobs.run(self.engine, jobs.reminders, cooperative_id=cooperative_id)

    def _evening(self, cooperative_id: int) -> None:
        for job in (jobs.digest, jobs.alerts, jobs.weekly):
            jobs.run(self.engine, job, cooperative_id=cooperative_id)

    @staticmethod
    def _safe(function: Callable) -> Callable:
        """Log a failed run and keep the clock going; the next run retries (keys keep it once)."""

        def run(*args):
            try:
                function(*args)
            except Exception:
                log.exception("scheduled %s failed", getattr(function, "__name__", function))

        run.__name__ = getattr(function, "__name__", "job")
        return run
