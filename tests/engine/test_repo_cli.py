"""The `sharebackup repo` command line, run in-process through its argparse entry."""

import json
import os

from sharebackup.cli import repo_commands

from .helpers import assert_same_tree, make_rich_tree


def run(capsys, *argv):
    code = repo_commands.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_backup_snapshots_restore_check_forget_gc_stats(tmp_path, capsys):
    repo, src, out = str(tmp_path / "repo"), tmp_path / "src", str(tmp_path / "out")
    make_rich_tree(src)
    key = tmp_path / "key"
    key.write_text("a passphrase in a file\n")
    k = ["--key-file", str(key)]
    assert run(capsys, "repo", "init", "--repo", repo, "--encrypt", *k)[0] == 0
    code, stdout, err = run(capsys, "repo", "backup", "--repo", repo, str(src), *k)
    assert code == 0 and err == ""  # quiet when not on a terminal
    snap = stdout.strip().splitlines()[-1]
    assert len(snap) == 64
    code, stdout, _ = run(capsys, "repo", "backup", "--repo", repo, str(src), "--parent", snap, *k)
    assert "unmodified" in stdout
    second = stdout.strip().splitlines()[-1]
    code, stdout, _ = run(capsys, "repo", "snapshots", "--repo", repo, *k)
    assert snap[:16] in stdout and second[:16] in stdout and "2 snapshot(s)" in stdout
    assert run(capsys, "repo", "restore", "--repo", repo, second, out, "--mode", "replace", *k)[0] == 0
    assert_same_tree(str(src), out)
    code, stdout, _ = run(capsys, "repo", "check", "--repo", repo, "--read-data", *k)
    assert code == 0 and "no errors found" in stdout
    assert run(capsys, "repo", "forget", "--repo", repo, snap, *k)[0] == 0
    assert run(capsys, "repo", "gc", "--repo", repo, "--grace", "0", *k)[0] == 0
    code, stdout, _ = run(capsys, "repo", "stats", "--repo", repo, "--json", *k)
    assert json.loads(stdout.strip().splitlines()[-1])["stats"]["snapshots"] == 1


def test_json_output_is_progress_events_then_a_result(tmp_path, capsys):
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    make_rich_tree(src)
    run(capsys, "repo", "init", "--repo", repo)
    code, stdout, _ = run(capsys, "repo", "backup", "--repo", repo, str(src), "--json")
    events = [json.loads(line) for line in stdout.splitlines()]
    assert code == 0
    assert {e["event"] for e in events[:-1]} <= {"progress", "warning"}
    assert events[-1]["event"] == "result" and len(events[-1]["snapshot_id"]) == 64
    progress = [e for e in events if e["event"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]


def test_errors_give_a_message_and_a_failing_exit_code(tmp_path, capsys):
    repo = str(tmp_path / "repo")
    code, _, err = run(capsys, "repo", "snapshots", "--repo", repo)
    assert code == 1 and "no repository" in err
    run(capsys, "repo", "init", "--repo", repo)
    code, _, err = run(capsys, "repo", "restore", "--repo", repo, "feedbeef", str(tmp_path / "t"))
    assert code == 1 and "no snapshot" in err
    code, _, err = run(capsys, "repo", "init", "--repo", str(tmp_path / "r2"), "--encrypt")
    assert code == 1 and "--key-file" in err


def test_check_fails_with_exit_1_on_damage(tmp_path, capsys):
    repo, src = tmp_path / "repo", tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(10_000))
    run(capsys, "repo", "init", "--repo", str(repo))
    run(capsys, "repo", "backup", "--repo", str(repo), str(src))
    snap_file = next((repo / "snapshots").iterdir())
    snap_file.write_bytes(snap_file.read_bytes() + b"x")
    code, stdout, _ = run(capsys, "repo", "check", "--repo", str(repo))
    assert code == 1 and "error(s) found" in stdout
