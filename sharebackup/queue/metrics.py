"""Prometheus metrics of the job side: what the workers of this process did, and the queue.

Everything lives in a per-process ``CollectorRegistry`` built at start-up (``build_registry``)
and passed down to the app and the worker pool; there is no global registry, so tests can
build several in one process.

- ``JobMetrics``: counters by job kind, moved by the worker pool: claimed, completed,
  failed (an exception escaped the runner, or its attempts ran out), deferred (the runner
  queued the work again for later: the repository was locked or held by gc), retried (a
  claim of a job that had an attempt before, or of a job queued again because the repository
  was locked) and lease takeovers (a claim of a running job whose lease had expired: its
  worker died or hung). Runners that turn an error into a resource state (backup ``error``
  plus a user message) complete their job: look at the resource states for those.
- ``QueueCollector``: gauges of queued and running jobs by kind, read from the database at
  scrape time (a scrape that cannot reach the database reports ``sharebackup_jobs_scrape_error 1``).

  Runners may return a ``JobResult``; the pool hands it to ``on_result``, which moves the byte
  counters by repository: bytes read from shares, bytes written to the repository (after
  compression and encryption), bytes deduplicated (share bytes not stored anew because the
  repository already held them: unchanged files the files cache skipped count too) and bytes
  restored into shares.
"""
from __future__ import annotations

import logging

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from sharebackup.db.models import Job
from sharebackup.queue import kinds
from sharebackup.queue.lease_queue import QUEUED, RUNNING

LOG = logging.getLogger(__name__)

NAMESPACE = "sharebackup"


@dataclass(frozen=True)
class JobResult:
    """What a runner tells the metrics about its work (all counts in bytes)."""
    repository: str
    read: int = 0
    written: int = 0
    deduplicated: int = 0
    restored: int = 0

    @classmethod
    def from_backup_summary(cls, repository: str, summary: dict) -> "JobResult":
        """From an engine snapshot's ``summary`` (engine/backup.py)."""
        total = int(summary.get("total_bytes", 0))
        added = int(summary.get("data_added", 0))
        return cls(repository, read=int(summary.get("bytes_read", 0)),
                   written=int(summary.get("data_added_stored", 0)), deduplicated=max(total - added, 0))


class JobMetrics:
    def __init__(self, registry: CollectorRegistry):
        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["kind"], namespace=NAMESPACE, registry=registry)

        self.claimed = counter("jobs_claimed", "Jobs claimed by the workers of this process.")
        self.completed = counter("jobs_completed", "Jobs whose runner returned normally.")
        self.failed = counter("jobs_failed", "Jobs that failed (the runner raised, or the attempts ran out).")
        self.retried = counter("jobs_retried", "Claims of a job attempted before, or queued again because "
                                               "the repository was locked.")
        self.deferred = counter("jobs_deferred", "Jobs that queued their work again for later instead of doing "
                                                 "it (the repository was locked, or held by garbage collection).")
        self.takeovers = counter("job_lease_takeovers",
                                 "Claims of a running job whose lease had expired (its worker died or hung).")
        def bytes_counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, ["repository"], namespace=NAMESPACE, registry=registry)

        self.bytes_read = bytes_counter("backup_bytes_read", "Bytes read from shares by backups.")
        self.bytes_written = bytes_counter("backup_bytes_written",
                                           "Bytes backups wrote to the repository (compressed, encrypted).")
        self.bytes_deduplicated = bytes_counter(
            "backup_bytes_deduplicated",
            "Bytes of backed-up shares not stored anew because the repository already held them.")
        self.bytes_restored = bytes_counter("restore_bytes_written", "Bytes restores wrote into shares.")
        self.duration = Histogram("job_duration_seconds", "Time a runner took, by job kind.", ["kind"],
                                  namespace=NAMESPACE, registry=registry,
                                  buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600))

    def on_claim(self, claim) -> None:
        self.claimed.labels(claim.kind).inc()
        if (claim.attempt > 1 and not claim.give_up) or claim.payload.get("lock_retries"):
            self.retried.labels(claim.kind).inc()
        if getattr(claim, "taken_over", False):
            self.takeovers.labels(claim.kind).inc()

    def on_result(self, result: JobResult) -> None:
        for counter, value in ((self.bytes_read, result.read), (self.bytes_written, result.written),
                               (self.bytes_deduplicated, result.deduplicated),
                               (self.bytes_restored, result.restored)):
            if value:
                counter.labels(result.repository).inc(value)

    def on_done(self, claim, ok: bool, seconds: float, deferred: bool = False) -> None:
        (self.deferred if deferred else self.completed if ok else self.failed).labels(claim.kind).inc()
        self.duration.labels(claim.kind).observe(seconds)


class QueueCollector:
    """``sharebackup_jobs{state="queued"|"running", kind=...}`` from the database, at scrape time."""

    def __init__(self, db):
        self.db = db

    def describe(self):
        return []  # collected lazily: never query the database at registration

    def collect(self):
        jobs = GaugeMetricFamily(f"{NAMESPACE}_jobs", "Jobs in the queue by state (queued, running) and kind.",
                                 labels=["state", "kind"])
        error = GaugeMetricFamily(f"{NAMESPACE}_jobs_scrape_error",
                                  "1 when the job gauges could not be read from the database.")
        try:
            with self.db.reader() as session:
                rows = session.execute(select(Job.state, Job.kind, func.count()).where(Job.state.in_((QUEUED, RUNNING)))
                                       .group_by(Job.state, Job.kind)).all()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database blinked
            LOG.warning("reading the job gauges failed", exc_info=True)
            error.add_metric([], 1)
        else:
            error.add_metric([], 0)
            # every known kind in both states, zeros included: an idle queue is a series at 0 (which
            # alerts and graphs can use), not missing data
            counts = {(state, kind): 0 for state in (QUEUED, RUNNING) for kind in kinds.ALL}
            counts.update({(state, kind): count for state, kind, count in rows})
            for (state, kind), count in sorted(counts.items()):
                jobs.add_metric([state, kind], count)
        yield jobs
        yield error


def build_registry(db=None) -> tuple[CollectorRegistry, JobMetrics]:
    """The process's registry with the job counters (and the queue gauges when ``db`` is given)."""
    registry = CollectorRegistry()
    metrics = JobMetrics(registry)
    if db is not None:
        registry.register(QueueCollector(db))
    return registry, metrics
