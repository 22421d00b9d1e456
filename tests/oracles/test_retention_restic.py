"""Retention against the real thing: restic's `forget --keep-*` and ours keep the same snapshots.

300 snapshots at the same random times over two years go into a restic repository (restic
from Debian's package, `restic backup --time`) and into ours (`sharebackup repo backup
--time`); then `forget --dry-run --json` runs on both with several keep combinations, and
the kept times must be the same sets. Both run in UTC (restic reads --time in local time and
buckets in each snapshot's recorded zone; we bucket in --timezone).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess

import pytest

from sharebackup.cli import repo_commands
from tests.oracles.restic_repo import backup_at_times, cheapen_key, restic_binary

PASSWORD = "oracle"
COUNT = 300
POLICIES = [
    ["--keep-last", "5"],
    ["--keep-hourly", "30"],
    ["--keep-daily", "10"],
    ["--keep-weekly", "8"],
    ["--keep-monthly", "6", "--keep-yearly", "3"],
    ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12", "--keep-yearly", "2"],
    ["--keep-within", "30d"],
    ["--keep-within", "1y2m"],
    ["--keep-within", "3m15d12h"],
    ["--keep-last", "3", "--keep-within", "10d", "--keep-daily", "14"],
    ["--keep-hourly", "48", "--keep-weekly", "10", "--keep-yearly", "5"],
]


def _restic_or_skip() -> str:
    binary = restic_binary()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the restic oracle: install restic (.ci/run does)")
        pytest.skip("restic is not installed (apt-get install restic); the retention oracle cannot run")
    return binary


def _times(seed: int = 20261203) -> list[dt.datetime]:
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    seconds = rng.sample(range(2 * 365 * 86400), COUNT)  # distinct, so times name snapshots
    # a few on the same hour and day, so buckets hold several snapshots
    seconds[:20] = [seconds[20] + 60 * i for i in range(20)]
    return [start + dt.timedelta(seconds=s) for s in seconds]


@pytest.fixture(scope="module")
def repositories(tmp_path_factory):
    restic = _restic_or_skip()
    base = tmp_path_factory.mktemp("oracle")
    src = base / "src"
    src.mkdir()
    (src / "file").write_text("the same content every time\n")
    env = {**os.environ, "RESTIC_PASSWORD": PASSWORD, "TZ": "UTC", "RESTIC_CACHE_DIR": str(base / "cache")}
    restic_repo = base / "restic"
    subprocess.run([restic, "init", "-q", "--repo", str(restic_repo)], env=env, check=True)
    cheapen_key(restic_repo, PASSWORD)
    times = _times()
    backup_at_times(restic, env, restic_repo, src, times, host="oracle")
    listed = subprocess.run([restic, "snapshots", "--json", "--repo", str(restic_repo)], env=env, check=True,
                            capture_output=True, text=True).stdout
    assert len(json.loads(listed)) == COUNT  # every backup is in the repository the oracle reads
    ours = str(base / "ours")
    assert repo_commands.main(["repo", "init", "--repo", ours]) == 0
    for moment in times:
        assert repo_commands.main(["repo", "backup", "--repo", ours, str(src), "--hostname", "oracle", "--force",
                                   "--time", moment.isoformat()]) == 0
    return restic, env, restic_repo, ours


def _restic_kept(restic, env, repo, policy) -> set[dt.datetime]:
    out = subprocess.run([restic, "forget", "--repo", str(repo), "--dry-run", "--json", *policy], env=env,
                         check=True, capture_output=True, text=True).stdout
    (group,) = json.loads(out)
    return {dt.datetime.fromisoformat(s["time"].replace("Z", "+00:00")) for s in group["keep"]}


def _our_kept(capsys, repo, policy) -> set[dt.datetime]:
    capsys.readouterr()
    assert repo_commands.main(["repo", "forget", "--repo", repo, "--dry-run", "--json", "--timezone", "UTC",
                               *policy]) == 0
    (group,) = json.loads(capsys.readouterr()[0].splitlines()[-1])["groups"]
    return {dt.datetime.fromisoformat(s["time"]) for s in group["keep"]}


@pytest.mark.slow(seconds=30)
@pytest.mark.parametrize("policy", POLICIES, ids=" ".join)
def test_we_keep_exactly_what_restic_keeps(repositories, capsys, policy):
    restic, env, restic_repo, ours = repositories
    theirs = _restic_kept(restic, env, restic_repo, policy)
    mine = _our_kept(capsys, ours, policy)
    assert len(theirs) < COUNT  # the policy drops something, so the comparison means something
    assert mine == theirs, f"{policy}: only restic keeps {sorted(theirs - mine)}; only we keep {sorted(mine - theirs)}"
