"""`sharebackup repo ... --name NAME`: the service's configured repositories from the command line;
`repo gc --name` goes through the database lease."""
from __future__ import annotations

import pytest

from sharebackup import engine
from sharebackup.cli import repo_commands
from sharebackup.db.models import ShareBackup
from sharebackup.workflows import backup_repository, repository_lease as leases
from sharebackup.workflows.backup_jobs import DELETE, runners as backup_runners
from sharebackup.queue.lease_queue import Claim
from tests.unit.test_backup_jobs import _create, _get, _set, _share
from tests.unit.test_repository_gc import _files


def run(capsys, *argv):
    code = repo_commands.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_gc_and_check_by_name(sqlite_runtime, tmp_path, capsys):
    rt = sqlite_runtime
    state = ["--state-dir", rt.config.state_dir]
    share_id = _share(rt, _files(tmp_path / "share"))
    gone = _create(rt, share_id)
    _files(tmp_path / "share")  # new contents, so the deleted backup's data becomes garbage
    kept = _create(rt, share_id)
    _set(rt, ShareBackup, gone, status="deleting")
    backup_runners(rt)[DELETE](Claim("j", DELETE, gone, {}, 1, False), lambda: True)

    code, out, _ = run(capsys, "repo", "snapshots", "--name", "default", *state)
    assert code == 0 and "1 snapshot(s)" in out
    code, out, err = run(capsys, "repo", "gc", "--name", "default", *state, "--grace", "0")
    assert code == 0, err
    assert "packs_deleted: " in out and "packs_deleted: 0" not in out
    assert leases.last_finished(rt.db, "default") is not None and leases.held_by_other(rt.db, "default") is None
    code, out, _ = run(capsys, "repo", "check", "--name", "default", *state, "--read-data-subset", "10%")
    assert code == 0 and "no errors found" in out
    repo = backup_repository.open_repository(rt.config, "default")
    assert engine.check(repo, read_data=True).ok and len(repo.snapshot_ids()) == 1
    assert repo.snapshot_ids() == [_get(rt, ShareBackup, kept).engine_snapshot_id]
    engine.restore(repo, repo.snapshot_ids()[0], str(tmp_path / "out"))
    assert (tmp_path / "out" / "f0").read_bytes() == (tmp_path / "share" / "f0").read_bytes()


def test_gc_by_name_refuses_while_someone_holds_the_lease(sqlite_runtime, capsys):
    rt = sqlite_runtime
    state = ["--state-dir", rt.config.state_dir]
    backup_repository.open_repository(rt.config, "default")
    leases.acquire(rt.db, "default", "worker-7", "gc", 600)
    code, out, err = run(capsys, "repo", "gc", "--name", "default", *state)
    assert code == 1 and "held for gc by worker-7" in err and "Traceback" not in err
    assert leases.held_by_other(rt.db, "default").holder == "worker-7"


def test_bad_names_and_options_give_clear_errors(sqlite_runtime, tmp_path, capsys):
    state = ["--state-dir", sqlite_runtime.config.state_dir]
    code, _, err = run(capsys, "repo", "check", "--name", "nowhere", *state)
    assert code == 1 and "'nowhere' is not configured (known: default)" in err
    code, _, err = run(capsys, "repo", "gc", "--name", "nowhere", *state)
    assert code == 1 and "not configured" in err
    code, _, err = run(capsys, "repo", "check", "--name", "default", "--config", str(tmp_path / "missing.conf"))
    assert code == 1 and "does not exist" in err
    # a state directory whose database was never set up
    (tmp_path / "fresh").mkdir()
    backup_repository.open_repository(
        backup_repository.Config(state_dir=str(tmp_path / "fresh")), "default")
    code, _, err = run(capsys, "repo", "gc", "--name", "default", "--state-dir", str(tmp_path / "fresh"))
    assert code == 1 and "db upgrade" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:
        repo_commands.main(["repo", "gc", "--name", "default", "--grace", "soon"])
    assert exited.value.code == 2
    assert "'soon' is not a number of seconds" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # all packs or a fraction, not both
        repo_commands.main(["repo", "check", "--name", "default", "--read-data", "--read-data-subset", "10%"])
    assert exited.value.code == 2
    assert "not allowed with argument --read-data" in capsys.readouterr().err
