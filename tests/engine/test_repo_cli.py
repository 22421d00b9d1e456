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


def test_a_key_file_means_encryption_even_without_encrypt(tmp_path, capsys):
    """`repo init --key-file K` used to create an unencrypted repository without a word."""
    key = tmp_path / "key"
    key.write_text("secret\n")
    code, stdout, _ = run(capsys, "repo", "init", "--repo", str(tmp_path / "r"), "--key-file", str(key))
    assert code == 0 and "encryption: aes-256-gcm" in stdout
    code, _, err = run(capsys, "repo", "snapshots", "--repo", str(tmp_path / "r"))
    assert code == 1 and "encrypted" in err


def test_the_passphrase_may_come_from_the_environment(tmp_path, capsys, monkeypatch):
    repo = str(tmp_path / "r")
    monkeypatch.setenv("SHAREBACKUP_PASSWORD", "typed elsewhere")
    code, stdout, _ = run(capsys, "repo", "init", "--repo", repo)
    assert code == 0 and "aes-256-gcm" in stdout
    assert run(capsys, "repo", "snapshots", "--repo", repo)[0] == 0
    monkeypatch.setenv("SHAREBACKUP_PASSWORD", "another")
    code, _, err = run(capsys, "repo", "snapshots", "--repo", repo)
    assert code == 1 and "wrong passphrase" in err
    monkeypatch.delenv("SHAREBACKUP_PASSWORD")
    pw = tmp_path / "pw"
    pw.write_text("typed elsewhere")
    assert run(capsys, "repo", "snapshots", "--repo", repo, "--password-file", str(pw))[0] == 0


def test_help_names_the_passphrase_variables(capsys):
    import pytest
    with pytest.raises(SystemExit):
        repo_commands.main(["repo", "--help"])
    out = " ".join(capsys.readouterr()[0].split())
    assert "$SHAREBACKUP_KEY_FILE" in out and "$SHAREBACKUP_PASSWORD" in out


def test_init_refuses_a_directory_holding_other_data(tmp_path, capsys):
    live = tmp_path / "live"
    live.mkdir()
    (live / "report.txt").write_text("someone's data")
    code, _, err = run(capsys, "repo", "init", "--repo", str(live))
    assert code == 1 and "not empty" in err and err.count("\n") == 1
    assert sorted(p.name for p in live.iterdir()) == ["report.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(capsys, "repo", "init", "--repo", str(empty))[0] == 0


def test_expected_errors_are_one_line_without_a_traceback(tmp_path, capsys):
    repo = str(tmp_path / "r")
    run(capsys, "repo", "init", "--repo", repo)
    code, _, err = run(capsys, "repo", "backup", "--repo", repo, str(tmp_path / "missing"))
    assert (code, err) == (1, f"sharebackup: {tmp_path / 'missing'}: no such directory\n")
    code, _, err = run(capsys, "repo", "snapshots", "--repo", repo, "--key-file", str(tmp_path / "nokey"))
    assert (code, err) == (1, f"sharebackup: key file {tmp_path / 'nokey'}: No such file or directory\n")


def test_summary_words_match_the_numbers_and_counts_agree(tmp_path, capsys):
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "c").mkdir()
    (src / "a" / "f").write_text("hi\n")
    run(capsys, "repo", "init", "--repo", repo)
    code, stdout, _ = run(capsys, "repo", "backup", "--repo", repo, str(src), "--tag", "nightly")
    first, second = stdout.splitlines()[:2]
    assert "3 dirs" in first and "(3 B)" in first  # the files' size is said of the files
    assert second.startswith("new data: ") and "with the directory listings" in second and " of " not in second
    code, stdout, _ = run(capsys, "repo", "restore", "--repo", repo, "latest", str(tmp_path / "out"))
    assert "3 dirs" in stdout  # the same tree counted the same way (the backup counted its root too)
    code, stdout, _ = run(capsys, "repo", "snapshots", "--repo", repo)
    header, row = stdout.splitlines()[:2]
    assert header.split()[:5] == ["id", "time", "host", "tags", "size"] and "nightly" in row


def test_stats_and_gc_print_human_units_and_json_stays_exact(tmp_path, capsys):
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(5000))
    run(capsys, "repo", "init", "--repo", repo)
    run(capsys, "repo", "backup", "--repo", repo, str(src))
    _, stdout, _ = run(capsys, "repo", "stats", "--repo", repo)
    line = next(line for line in stdout.splitlines() if line.startswith("repository_bytes:"))
    assert line.endswith("KiB")
    _, stdout, _ = run(capsys, "repo", "stats", "--repo", repo, "--json")
    assert isinstance(json.loads(stdout.splitlines()[-1])["stats"]["repository_bytes"], int)
    _, stdout, _ = run(capsys, "repo", "gc", "--repo", repo, "--grace", "0")
    assert "bytes_freed: 0 B" in stdout


def test_check_progress_counts_packs_not_bytes():
    from sharebackup.cli.repo_output import Output
    assert Output(False, "check", unit="packs").bar(1, 8).endswith("1 / 8 packs")
    assert "KiB" in Output(False, "backup").bar(1024, 2048)


def _on_a_terminal(argv, answers: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as its controlling terminal, typing `answers`
    at each passphrase prompt."""
    import fcntl
    import pty
    import select
    import subprocess
    import sys
    import termios
    import time

    controller, terminal = pty.openpty()

    def take_terminal():
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", *argv], stdin=terminal, stdout=terminal,
                            stderr=terminal, preexec_fn=take_terminal, close_fds=True)
    os.close(terminal)
    seen, fresh, pending, deadline = b"", b"", list(answers), time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the command ended and closed its side
                break
            if not chunk:
                break
            seen, fresh = seen + chunk, fresh + chunk
            if pending and fresh.rstrip().endswith(b":"):  # a new prompt (not the echo of the last answer)
                os.write(controller, pending.pop(0).encode() + b"\n")
                fresh = b""
        elif proc.poll() is not None:
            break
    os.close(controller)
    return proc.wait(timeout=timeout), seen.decode(errors="replace")


def test_on_a_terminal_the_passphrase_is_asked_for(tmp_path):
    repo = str(tmp_path / "r")
    code, seen = _on_a_terminal(["repo", "init", "--repo", repo, "--encrypt"], ["typed", "typed"])
    assert code == 0 and "enter it again" in seen and "aes-256-gcm" in seen
    code, seen = _on_a_terminal(["repo", "snapshots", "--repo", repo], ["typed"])
    assert code == 0 and "0 snapshot(s)" in seen
    code, seen = _on_a_terminal(["repo", "init", "--repo", str(tmp_path / "r2"), "--encrypt"], ["one", "two"])
    assert code == 1 and "the two passphrases differ" in seen


def test_backup_finds_its_parent_by_path_and_host(tmp_path, capsys):
    repo, src, other = str(tmp_path / "repo"), tmp_path / "src", tmp_path / "other"
    for tree in (src, other):
        tree.mkdir()
        (tree / "f").write_bytes(os.urandom(4000))
    run(capsys, "repo", "init", "--repo", repo)
    first = run(capsys, "repo", "backup", "--repo", repo, str(src))[1].splitlines()[-1]
    run(capsys, "repo", "backup", "--repo", repo, str(other))  # the newest snapshot, of another path
    code, stdout, _ = run(capsys, "repo", "backup", "--repo", repo, str(src), "--json")
    result = json.loads(stdout.splitlines()[-1])
    assert result["summary"]["files_unmodified"] == 1  # the file was not read again
    from sharebackup import engine
    snap = engine.Repository.open(engine.open_store(repo)).load_snapshot(result["snapshot_id"])
    assert snap["parent"] == first
    code, stdout, _ = run(capsys, "repo", "backup", "--repo", repo, str(src), "--force", "--json")
    assert json.loads(stdout.splitlines()[-1])["summary"].get("files_unmodified", 0) == 0
    _, stdout, _ = run(capsys, "repo", "backup", "--repo", repo, str(src), "--hostname", "elsewhere", "--json")
    assert json.loads(stdout.splitlines()[-1])["summary"].get("files_unmodified", 0) == 0  # another host: no parent


def _run_binary(capsysbinary, *argv):
    code = repo_commands.main(list(argv))
    out, err = capsysbinary.readouterr()
    return code, out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape")


def test_ls_find_and_a_partial_restore(tmp_path, capsysbinary):
    """Names that are not UTF-8 (caf\\xe9 in the tree) are printed as their bytes, as ls does."""
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    make_rich_tree(src)
    _run_binary(capsysbinary, "repo", "init", "--repo", repo)
    _run_binary(capsysbinary, "repo", "backup", "--repo", repo, str(src))
    code, stdout, _ = _run_binary(capsysbinary, "repo", "ls", "--repo", repo, "latest", "/docs", "--json")
    entries = json.loads(stdout.splitlines()[-1])["entries"]
    assert [e["path"] for e in entries] == ["/docs/a.txt", "/docs/deep"] and entries[1]["type"] == "dir"
    code, stdout, _ = _run_binary(capsysbinary, "repo", "ls", "--repo", repo, "latest", "/", "--recursive")
    assert "/docs/deep/er/dup.txt" in stdout and "/link -> docs/a.txt" in stdout and "/caf\udce9" in stdout
    code, stdout, _ = _run_binary(capsysbinary, "repo", "find", "--repo", repo, "dup*", "--json")
    assert [f["path"] for f in json.loads(stdout.splitlines()[-1])["found"]] == ["/docs/deep/er/dup.txt"]
    code, _, err = _run_binary(capsysbinary, "repo", "ls", "--repo", repo, "latest", "/link/a.txt")
    assert code == 1 and "not a directory" in err  # a symlink in the backup is never followed
    code, _, err = _run_binary(capsysbinary, "repo", "dump", "--repo", repo, "latest", "/../../etc/passwd")
    assert code == 1 and "unsafe path" in err
    out = tmp_path / "partial"
    code, stdout, _ = _run_binary(capsysbinary, "repo", "restore", "--repo", repo, "latest", str(out), "--include", "/docs/deep",
                          "--exclude", "hard*")
    assert code == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "docs", "docs/deep", "docs/deep/er", "docs/deep/er/dup.txt"]


def test_dump_writes_a_file_or_a_tar_of_a_directory(tmp_path, capsysbinary):
    import io
    import tarfile
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    make_rich_tree(src)
    repo_commands.main(["repo", "init", "--repo", repo])
    repo_commands.main(["repo", "backup", "--repo", repo, str(src)])
    capsysbinary.readouterr()
    assert repo_commands.main(["repo", "dump", "--repo", repo, "latest", "/random.bin"]) == 0
    assert capsysbinary.readouterr()[0] == (src / "random.bin").read_bytes()
    assert repo_commands.main(["repo", "dump", "--repo", repo, "latest", "/docs"]) == 0
    with tarfile.open(fileobj=io.BytesIO(capsysbinary.readouterr()[0])) as archive:
        assert archive.getnames() == ["a.txt", "deep", "deep/er", "deep/er/dup.txt", "deep/hard2"]
        assert archive.extractfile("deep/er/dup.txt").read() == (src / "docs/deep/er/dup.txt").read_bytes()


def test_gc_says_why_it_freed_nothing(tmp_path, capsys):
    repo, src = str(tmp_path / "repo"), tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(5000))
    run(capsys, "repo", "init", "--repo", repo)
    snap = run(capsys, "repo", "backup", "--repo", repo, str(src))[1].splitlines()[-1]
    run(capsys, "repo", "forget", "--repo", repo, snap)
    _, stdout, _ = run(capsys, "repo", "gc", "--repo", repo)
    assert "bytes_freed: 0 B" in stdout and "younger than the grace (3600 s)" in stdout and "--grace 0" in stdout
    _, stdout, _ = run(capsys, "repo", "gc", "--repo", repo, "--grace", "0")
    assert "bytes_freed: 0 B" not in stdout and "note:" not in stdout
