"""The quick start: what `make run` prints works when pasted as it is.

A newcomer pasted the printed `openstack ...` line and got "command not found": `make run`
does not activate the virtualenv. The line now names the install's own `openstack`.
"""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

from tests.integration.server_process import free_port

REPO = pathlib.Path(__file__).resolve().parents[2]


def _banner(proc: subprocess.Popen, timeout: float = 60.0) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, f"serve ended before its banner: {lines}"
        lines.append(line.rstrip("\n"))
        if lines[-2:-1] == ["Try:"]:
            return lines
    raise AssertionError(f"no Try: line in {lines}")


def test_the_printed_try_line_works_as_pasted_from_the_checkout(tmp_path):
    state = tmp_path / "var"
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sharebackup.cli.main", "serve", "--state-dir", str(state),
                             "--port", str(port), "--workers", "1"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lines = _banner(proc)
        assert f"A share's files live in {state.resolve()}/shares/<share id> (its export location)" in lines
        pasted = lines[-1].strip()
        assert pasted.split()[0] != "openstack" or not (pathlib.Path(sys.executable).parent / "openstack").exists()
        # a shell like the newcomer's: no virtualenv on PATH, no OS_* variables
        home = tmp_path / "home"
        home.mkdir()
        shell_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
        result = subprocess.run(["bash", "-c", pasted], cwd=REPO, env=shell_env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
