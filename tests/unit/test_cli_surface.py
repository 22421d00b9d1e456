"""What a newcomer meets first on the command line: --version, what the program is, and the
token command's help and role names."""
from __future__ import annotations

import importlib.metadata

import pytest

from sharebackup.cli.main import build_parser, main


def _run(capsys, *argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        main(list(argv))
    out, err = capsys.readouterr()
    return stopped.value.code, out, err


def test_version_prints_the_installed_version(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"sharebackup {importlib.metadata.version('sharebackup')}"


def test_top_level_help_says_what_the_program_does(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    assert "backups of file shares" in out
    assert "Manila" in out
    assert "contract" not in out  # a note for maintainers, not a description


def test_token_create_help_explains_every_flag_and_the_default_roles(capsys):
    code, out, _ = _run(capsys, "token", "create", "--help")
    assert code == 0
    for flag in ("--project", "--user", "--role"):
        line = next(line for line in out.splitlines() if line.strip().startswith(flag))
        assert len(line.split(None, 2)) == 3 or flag == "--role", f"{flag} has no help: {line!r}"
    assert "Without --role: member and reader" in " ".join(out.split())


def test_token_create_refuses_a_role_the_policy_does_not_know(capsys, tmp_path):
    code, _, err = _run(capsys, "token", "create", "--state-dir", str(tmp_path), "--project", "p", "--user", "u",
                        "--role", "superuser")
    assert code == 2
    assert "invalid choice: 'superuser'" in err
    assert not (tmp_path / "tokens.json").exists()


def test_token_create_without_role_gives_member_and_reader(capsys, tmp_path):
    code, out, _ = _run(capsys, "token", "create", "--state-dir", str(tmp_path), "--project", "p", "--user", "u")
    assert code == 0
    assert "roles=member,reader" in out


def test_every_subcommand_has_help():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert all(choice.help for choice in subparsers._choices_actions)
