"""The backup-policy scheduler on a fake clock: a simulated month of hourly and daily policies
over 50 shares with exact counts, one catch-up run after an outage, DST in Europe/Berlin,
exactly one run per slot with racing schedulers, skipped runs with their reasons, and
retention through the normal delete path.

The workers are played by ``_finish``: it completes what the jobs would (creating ->
available, deleting -> deleted) in one statement, so a month of runs takes seconds; the
runs themselves go through the real service path (share_backups.create_in, quota included).
"""
from __future__ import annotations

import datetime as dt
import threading
import zoneinfo

import pytest
from sqlalchemy import delete, func, select, update

from sharebackup.config import PoliciesConfig, QuotaConfig
from sharebackup.core.context import RequestContext
from sharebackup.db.models import (BackupPolicyRun, BackupPolicyShare, Job, Message, Share, ShareBackup)
from sharebackup.services import backup_policies, quotas
from sharebackup.workflows.policy_scheduler import CREATED, SKIPPED, PolicyScheduler
from tests.conftest import make_runtime

UTC = dt.timezone.utc
OWNER = RequestContext(user_id="alice", project_id="demo", roles=["member", "reader"])
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def _runtime(tmp_path, backups: int = -1, **overrides):
    return make_runtime(tmp_path / "state", policies=PoliciesConfig(min_interval_seconds=5),
                        quota=QuotaConfig(backups=backups, backup_gigabytes=-1), **overrides)


def _shares(rt, count: int, project: str = "demo") -> list[str]:
    with rt.db.transaction() as session:
        rows = [Share(user_id="alice", project_id=project, size=1, share_proto="NFS", status="available")
                for _ in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def _policy(rt, shares: list[str], since: dt.datetime, **fields) -> str:
    values = {"name": "p", "schedule": "0 * * * *", "retention": {"keep_last": 3}, **fields}
    policy = backup_policies.create(rt, OWNER, values)
    for share_id in shares:
        backup_policies.attach(rt, OWNER, policy.id, share_id)
    with rt.db.transaction() as session:  # protection began at the simulated time, not the wall clock
        session.execute(update(BackupPolicyShare).where(BackupPolicyShare.policy_id == policy.id)
                        .values(created_at=since.replace(tzinfo=None)))
    return policy.id


def _finish(rt) -> None:
    """Play the workers: every queued backup create and delete completes."""
    with rt.db.transaction() as session:
        session.execute(update(ShareBackup).where(ShareBackup.status == "creating").values(status="available"))
        session.execute(update(ShareBackup).where(ShareBackup.status == "deleting")
                        .values(status="deleted", deleted=True))
        session.execute(update(Share).where(Share.status == "backup_creating").values(status="available"))
        session.execute(delete(Job))


def _simulate(rt, scheduler: PolicyScheduler, clock: Clock, until: dt.datetime, step: dt.timedelta) -> None:
    while clock.now < until:
        scheduler.run_once()
        _finish(rt)
        clock.now += step


def _runs(rt, policy_id: str, state: str | None = None) -> list[BackupPolicyRun]:
    with rt.db.reader() as session:
        query = select(BackupPolicyRun).where(BackupPolicyRun.policy_id == policy_id)
        if state:
            query = query.where(BackupPolicyRun.state == state)
        return list(session.scalars(query.order_by(BackupPolicyRun.scheduled_at)))


def _live_backups(rt, policy_id: str, share_id: str) -> list[ShareBackup]:
    with rt.db.reader() as session:
        return list(session.scalars(select(ShareBackup).where(
            ShareBackup.policy_id == policy_id, ShareBackup.share_id == share_id, ShareBackup.deleted.is_(False))))


@pytest.mark.scale  # about 90 s: 5,270 runs through the real create path
def test_a_simulated_month_of_hourly_and_daily_policies_over_50_shares(tmp_path):
    rt = _runtime(tmp_path)
    start = dt.datetime(2026, 3, 1, tzinfo=UTC)
    end = dt.datetime(2026, 4, 1, tzinfo=UTC)
    shares = _shares(rt, 50)
    hourly = _policy(rt, shares[:5], start, name="hourly", schedule="0 * * * *",
                     retention={"keep_last": 24, "keep_daily": 7})
    daily = _policy(rt, shares, start, name="daily", schedule="30 2 * * *", timezone="Europe/Berlin",
                    retention={"keep_daily": 7, "keep_weekly": 2})
    clock = Clock(start)
    _simulate(rt, PolicyScheduler(rt, clock=clock), clock, end, dt.timedelta(minutes=30))

    hourly_runs = _runs(rt, hourly)
    assert len(hourly_runs) == 5 * 31 * 24  # every hour of March, every share, nothing skipped
    assert {run.state for run in hourly_runs} == {CREATED}
    daily_runs = _runs(rt, daily, CREATED)
    # one run a day (Berlin) per share, the 29th too (02:30 does not exist: clocks jump 02:00 -> 03:00)
    assert len(daily_runs) == 50 * 31
    assert len(_runs(rt, daily)) == 50 * 31
    days = {(run.share_id, run.scheduled_at.replace(tzinfo=UTC).astimezone(BERLIN).date()) for run in daily_runs}
    assert len(days) == 50 * 31
    spring = [run.scheduled_at for run in daily_runs if run.share_id == shares[0]
              and run.scheduled_at.date() == dt.date(2026, 3, 29)]
    assert spring == [dt.datetime(2026, 3, 29, 1, 30)]  # 03:30 CEST: 02:30 read with the winter offset
    # retention, after the last run: 24 newest hourly + the newest of 6 earlier days
    for share_id in shares[:5]:
        assert len(_live_backups(rt, hourly, share_id)) == 24 + 6
    # daily keep_daily 7 + keep_weekly 2: 7 newest days; the 2 newest ISO weeks (23-29, 30-31 March)
    # have their newest days (29th and 31st) among them, so nothing more
    for share_id in shares:
        assert len(_live_backups(rt, daily, share_id)) == 7
    # the pruned ones went through the delete path: deleted rows, recorded on a run
    with rt.db.reader() as session:
        pruned = [bid for run in session.scalars(select(BackupPolicyRun)) for bid in run.pruned_backup_ids]
        deleted = session.scalar(select(func.count()).select_from(ShareBackup).where(ShareBackup.deleted.is_(True)))
        usage = quotas.usage(session, "demo")
    assert len(pruned) == len(set(pruned)) == deleted == 5 * (31 * 24 - 30) + 50 * (31 - 7)
    assert usage["backups"] == 5 * 30 + 50 * 7


def test_daylight_saving_in_autumn_neither_skips_nor_doubles_a_daily_run(tmp_path):
    rt = _runtime(tmp_path)
    start = dt.datetime(2026, 10, 20, tzinfo=UTC)
    shares = _shares(rt, 2)
    daily = _policy(rt, shares[:1], start, schedule="30 2 * * *", timezone="Europe/Berlin",
                    retention={"keep_last": 100})
    night = _policy(rt, shares[1:], start, schedule="0 0 * * *", timezone="Europe/Berlin",
                    retention={"keep_last": 100})
    clock = Clock(start)
    _simulate(rt, PolicyScheduler(rt, clock=clock), clock, dt.datetime(2026, 11, 1, tzinfo=UTC),
              dt.timedelta(minutes=30))
    local_days = [run.scheduled_at.replace(tzinfo=UTC).astimezone(BERLIN) for run in _runs(rt, daily)]
    assert [day.date() for day in local_days] == [dt.date(2026, 10, d) for d in range(20, 32)]
    assert {(day.hour, day.minute) for day in local_days} == {(2, 30)}  # the 25th: 02:30 once (CEST)
    midnights = [run.scheduled_at.replace(tzinfo=UTC).astimezone(BERLIN) for run in _runs(rt, night)]
    assert [m.date() for m in midnights] == [dt.date(2026, 10, d) for d in range(21, 32)] + [dt.date(2026, 11, 1)]


def test_after_a_three_day_outage_one_catch_up_run(tmp_path):
    rt = _runtime(tmp_path)
    start = dt.datetime(2026, 5, 1, tzinfo=UTC)
    shares = _shares(rt, 3)
    policy = _policy(rt, shares, start, schedule="PT1H")
    clock = Clock(start)
    scheduler = PolicyScheduler(rt, clock=clock)
    _simulate(rt, scheduler, clock, start + dt.timedelta(hours=2), dt.timedelta(minutes=30))
    assert len(_runs(rt, policy)) == 3 * 2  # looks at 00:00, 00:30, 01:00 and 01:30: the 00:00 and 01:00 runs
    before = len(_runs(rt, policy))
    clock.now = start + dt.timedelta(days=3, hours=5, minutes=20)  # down for three days
    recorded = scheduler.run_once()
    assert len(recorded) == 3
    assert {run.scheduled_at for run in recorded} == {dt.datetime(2026, 5, 4, 5, 0)}
    assert len(_runs(rt, policy)) == before + 3
    _finish(rt)
    assert scheduler.run_once() == []  # nothing more until the next slot


def test_a_busy_share_or_a_full_quota_skips_the_run_with_its_reason_and_a_message(tmp_path):
    rt = _runtime(tmp_path, backups=1)
    start = dt.datetime(2026, 5, 1, tzinfo=UTC)
    busy, free, third = _shares(rt, 3)
    _policy(rt, [busy, free, third], start, schedule="PT1H")
    with rt.db.transaction() as session:
        session.get(Share, busy).status = "extending"
    recorded = PolicyScheduler(rt, clock=Clock(start + dt.timedelta(minutes=1))).run_once()
    by_share = {run.share_id: run for run in recorded}
    assert by_share[busy].state == SKIPPED and "must be in 'available' state" in by_share[busy].reason
    states = sorted(by_share[share].state for share in (free, third))
    assert states == [CREATED, SKIPPED]  # the quota of one backup: the second share's run is refused
    quota_run = next(by_share[share] for share in (free, third) if by_share[share].state == SKIPPED)
    assert "backups" in quota_run.reason.lower()
    with rt.db.reader() as session:
        texts = [m.user_message for m in session.scalars(select(Message))]
    assert len(texts) == 2 and all("backup policy 'p' skipped its run of 2026-05-01 00:00:00 UTC" in t for t in texts)


def test_racing_schedulers_make_one_backup_per_slot(runtime):
    from dataclasses import replace
    rt = replace(runtime, config=replace(runtime.config, quota=QuotaConfig(backups=-1, backup_gigabytes=-1),
                                         policies=PoliciesConfig(min_interval_seconds=5)))
    start = dt.datetime(2026, 6, 1, tzinfo=UTC)
    shares = _shares(rt, 6)
    policy = _policy(rt, shares, start, schedule="PT1H")
    clock = Clock(start + dt.timedelta(minutes=5))
    schedulers = [PolicyScheduler(rt, clock=clock) for _ in range(4)]
    barrier = threading.Barrier(len(schedulers))
    errors = []

    def race(scheduler):
        barrier.wait()
        try:
            scheduler.run_once()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=race, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    runs = _runs(rt, policy)
    assert len(runs) == 6 and {run.state for run in runs} == {CREATED}
    with rt.db.reader() as session:
        backups = session.scalar(select(func.count()).select_from(ShareBackup).where(ShareBackup.policy_id == policy))
    assert backups == 6


def test_retention_never_prunes_manual_or_restoring_backups_and_deleting_the_policy_keeps_its_backups(tmp_path):
    rt = _runtime(tmp_path)
    start = dt.datetime(2026, 7, 1, tzinfo=UTC)
    (share,) = _shares(rt, 1)
    policy = _policy(rt, [share], start, schedule="PT1H", retention={"keep_last": 1})
    with rt.db.transaction() as session:
        session.add(ShareBackup(user_id="alice", project_id="demo", share_id=share, size=1, status="available"))
    clock = Clock(start)
    scheduler = PolicyScheduler(rt, clock=clock)
    _simulate(rt, scheduler, clock, start + dt.timedelta(hours=2), dt.timedelta(hours=1))
    scheduler.apply_retention()  # the second run's backup finished after the last look
    _finish(rt)
    first = _live_backups(rt, policy, share)
    assert len(first) == 1
    with rt.db.transaction() as session:
        session.get(ShareBackup, first[0].id).status = "restoring"
    _simulate(rt, scheduler, clock, start + dt.timedelta(hours=4), dt.timedelta(hours=1))
    scheduler.apply_retention()
    _finish(rt)
    live = _live_backups(rt, policy, share)
    assert first[0].id in {b.id for b in live} and len(live) == 2  # the restoring one, and the newest
    backup_policies.delete(rt, OWNER, policy)
    with rt.db.reader() as session:
        plain = session.scalar(select(func.count()).select_from(ShareBackup).where(
            ShareBackup.share_id == share, ShareBackup.deleted.is_(False), ShareBackup.policy_id.is_(None)))
    assert plain == 3  # the manual one and the policy's two, now plain backups


def test_the_extension_api_shows_which_policy_and_run_made_a_backup(tmp_path):
    from tests.functional.api_client import client_for
    rt = _runtime(tmp_path)
    start = dt.datetime(2026, 8, 1, tzinfo=UTC)
    (share,) = _shares(rt, 1)
    policy = _policy(rt, [share], start, name="nightly", schedule="PT1H")
    (run,) = PolicyScheduler(rt, clock=Clock(start + dt.timedelta(minutes=1))).run_once()
    with rt.db.transaction() as session:
        manual = ShareBackup(user_id="alice", project_id="demo", share_id=share, size=1, status="available")
        session.add(manual)
        session.flush()
        manual_id = manual.id
    client = client_for(rt)
    shown = client.simulate_get(f"/sharebackup/v1/share-backups/{run.backup_id}",
                                headers={"X-Auth-Token": "alice:demo"}).json["share_backup"]
    assert (shown["policy_id"], shown["policy_run_id"], shown["name"]) == (policy, run.id, "nightly-20260801T000000Z")
    plain = client.simulate_get(f"/sharebackup/v1/share-backups/{manual_id}", headers={"X-Auth-Token": "alice:demo"})
    assert (plain.json["share_backup"]["policy_id"], plain.json["share_backup"]["policy_run_id"]) == (None, None)
    other = client.simulate_get(f"/sharebackup/v1/share-backups/{run.backup_id}", headers={"X-Auth-Token": "bob:beta"})
    assert other.status_code == 404
    # the Manila view is unchanged: no policy fields on /v2
    manila = client.simulate_get(f"/v2/share-backups/{run.backup_id}", headers={
        "X-Auth-Token": "alice:demo", "X-OpenStack-Manila-API-Version": "2.91"}).json["share_backup"]
    assert "policy_id" not in manila and manila["name"] == "nightly-20260801T000000Z"
