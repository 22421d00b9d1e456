"""Run `sharebackup serve` as a real process and drive it with the real clients.

Everything here is parallel-safe: each server gets its own free loopback port and its own state
directory, and every client runs with an isolated environment (no OS_* or SHAREBACKUP_* from the
machine, HOME in a temporary directory). A server is always stopped: SIGTERM first, SIGKILL
after a timeout, and `stop()` reports whether the exit was clean.

    with ServerProcess(tmp_path / "state") as server:
        result = run_openstack(["share", "list"], server.admin_token, server.endpoint, home=tmp_path)

The pytest fixtures at the bottom (`server`, `isolated_home`) are imported by the test modules.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0    # seconds until GET / must answer
STOP_TIMEOUT = 10.0     # seconds between SIGTERM and SIGKILL
CLI_TIMEOUT = 60.0      # seconds one `openstack` invocation may take


# -- locating the executables -------------------------------------------------------------------

def _bin_dirs() -> list[Path]:
    """The running interpreter's bin directory first (the venv under `make test`), then the repo's."""
    dirs = [Path(sys.executable).parent, REPO / ".venv" / "bin"]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def find_executable(name: str) -> str:
    for d in _bin_dirs():
        candidate = d / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} is not installed (looked in {', '.join(map(str, _bin_dirs()))} "
                            f"and PATH); install the test extras: pip install -e '.[test]'")


def sharebackup_command() -> list[str]:
    """The console script `make run` uses, or the module when the script is not installed."""
    try:
        return [find_executable("sharebackup")]
    except FileNotFoundError:
        return [sys.executable, "-m", "sharebackup.cli.main"]


def write_service_config(path: Path, *, state: Path, db_url: str, quota: dict[str, int],
                         backup: dict[str, object]) -> Path:
    """The configuration file every API and worker process of a multi-process test reads: one state
    directory and database, no authentication, two API threads, the given quotas and [backup] options."""
    lines = ["[DEFAULT]", f"state_dir = {state}", "auth_strategy = noauth", "workers = 2",
             "[database]", f"connection = {db_url}",
             "[quota]", *(f"{name} = {value}" for name, value in quota.items()),
             "[backup]", *(f"{name} = {value}" for name, value in backup.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def upgrade_database(conf: Path, home: Path) -> None:
    """The schema first, so that processes started together do not race to migrate an empty database."""
    upgrade = subprocess.run(sharebackup_command() + ["db", "upgrade", "--config", str(conf)], cwd=home,
                             env=isolated_env(home), capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ephemeral_low() -> int:
    """The first port the kernel hands out for bind(0) and for outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768   # Linux's default


def restartable_port() -> int:
    """A free port below the ephemeral range, for a server the test kills and starts again on the
    same port: while it is down, a port from free_port() (another test's server) or the source
    port of any outgoing connection cannot land on it, as either could on an ephemeral port."""
    low = _ephemeral_low()
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return free_port()


# -- isolated environments ----------------------------------------------------------------------

def isolated_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: nothing from the machine's OpenStack or sharebackup settings, HOME
    (and the XDG directories) inside `home`, no proxies for loopback."""
    home = Path(home)
    for sub in (".config", ".cache", ".local/share"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(d) for d in _bin_dirs()] + ["/usr/local/bin", "/usr/bin", "/bin"])
    env = {
        "PATH": path,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if extra:
        env.update(extra)
    return env


# -- the `openstack` CLI -------------------------------------------------------------------------

def run_openstack(args: list[str], token: str, endpoint: str, *, home: Path,
                  json_output: bool = True, timeout: float = CLI_TIMEOUT,
                  api_version: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `openstack` CLI exactly as the spec's copy-paste line does
    (`--os-auth-type admin_token --os-endpoint EP --os-token T`), with `-f json` appended when
    `json_output` (only for commands that print something). Never raises on a non-zero exit; the
    caller asserts. Runs in `home` with HOME there, so nothing is written outside it."""
    cmd = [find_executable("openstack"), "--os-auth-type", "admin_token", "--os-endpoint", endpoint,
           "--os-token", token]
    if api_version:
        cmd += ["--os-share-api-version", api_version]
    cmd += list(args)
    if json_output:
        cmd += ["-f", "json"]
    Path(home).mkdir(parents=True, exist_ok=True)
    try:
        return subprocess.run(cmd, cwd=home, env=isolated_env(home), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`openstack {' '.join(args)}` did not finish in {timeout}s; "
                    f"stdout={exc.stdout!r} stderr={exc.stderr!r}")


def describe(result: subprocess.CompletedProcess) -> str:
    """A failure message naming the command, its exit code and both streams."""
    shown = [a for a in result.args[1:]]
    if "--os-token" in shown:
        shown[shown.index("--os-token") + 1] = "<token>"
    return (f"`openstack {' '.join(shown)}` exited {result.returncode}\n"
            f"stdout: {result.stdout.strip()}\nstderr: {result.stderr.strip()}")


def openstack_json(args: list[str], token: str, endpoint: str, *, home: Path, **kwargs):
    """Run the CLI, assert it succeeded, return the parsed `-f json` output."""
    result = run_openstack(args, token, endpoint, home=home, **kwargs)
    assert result.returncode == 0, describe(result)
    try:
        return json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"not JSON: {describe(result)}")


def openstack_ok(args: list[str], token: str, endpoint: str, *, home: Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a CLI command that prints nothing useful (delete, set); assert it succeeded."""
    result = run_openstack(args, token, endpoint, home=home, json_output=False, **kwargs)
    assert result.returncode == 0, describe(result)
    return result


def wait_for(check, *, timeout: float = 30.0, interval: float = 0.3, what: str = "condition"):
    """Call `check()` until it returns something truthy; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


# -- the server process --------------------------------------------------------------------------

def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so a killed pytest leaves no server."""
    if sys.platform.startswith("linux"):
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """`sharebackup serve --state-dir DIR --port P [--auth A]` as a child process."""

    def __init__(self, state_dir: Path, *, auth: str | None = "tokens", workers: int | None = None,
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None):
        self.state_dir = Path(state_dir)
        self.auth = auth
        self.workers = workers
        self.extra_args = list(extra_args or [])
        self.home = self.state_dir.parent / (self.state_dir.name + "-home")
        self.extra_env = env or {}
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self._reader: threading.Thread | None = None
        self.stderr_path = self.state_dir.parent / (self.state_dir.name + "-server.log")
        self.returncode: int | None = None

    # - lifecycle -
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2"

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        cmd = sharebackup_command() + ["serve", "--state-dir", str(self.state_dir),
                                       "--host", "127.0.0.1", "--port", str(self.port)]
        if self.auth:
            cmd += ["--auth", self.auth]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        return cmd + self.extra_args

    def start(self, timeout: float = START_TIMEOUT, attempts: int = 3) -> "ServerProcess":
        """Start and wait until `GET /` answers. A port taken between choosing and binding it
        (another test picked it) is retried with a new one."""
        for attempt in range(attempts):
            self.port = free_port()
            self._spawn()
            try:
                self._wait_ready(timeout)
                return self
            except ServerError as exc:
                log = self.server_log()
                self.stop(check=False)
                if "Address already in use" in log and attempt + 1 < attempts:
                    continue
                raise ServerError(f"{exc}\n--- server stderr ---\n{log[-4000:]}") from None
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self.state_dir.parent.mkdir(parents=True, exist_ok=True)
        self.stdout_lines = []
        self.returncode = None
        stderr = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(), cwd=self.state_dir.parent,
                                         env=isolated_env(self.home, self.extra_env),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                                         text=True, bufsize=1, preexec_fn=_die_with_parent)
        finally:
            stderr.close()
        self._reader = threading.Thread(target=self._read_stdout, args=(self.proc,), daemon=True)
        self._reader.start()

    def _read_stdout(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"`{' '.join(self.command())}` exited with {self.proc.returncode} "
                                  f"before answering; stdout: {self.stdout_lines}")
            try:
                with urllib.request.urlopen(urllib.request.Request(self.root, headers={
                        "Accept": "application/json"}), timeout=2) as resp:
                    last = resp.status
                    body = json.loads(resp.read())
            except urllib.error.HTTPError as exc:  # 300 Multiple Choices is Manila's answer
                last = exc.code
                body = json.loads(exc.read() or b"{}") if exc.code == 300 else None
            except (OSError, ValueError) as exc:
                last = exc
                body = None
            if body and body.get("versions"):
                # the banner is printed before the server starts listening; make sure we have it
                self._wait_stdout_settled()
                return
            time.sleep(0.1)
        raise ServerError(f"GET {self.root} did not answer within {timeout}s (last: {last!r})")

    def _wait_stdout_settled(self, timeout: float = 5.0) -> None:
        self.wait_for_output(lambda lines: any(l.startswith("sharebackup serving") for l in lines),
                             timeout, "the 'sharebackup serving' banner")

    def wait_for_output(self, predicate, timeout: float = 5.0, what: str = "output"):
        """Everything is printed before the server listens, but our reader thread may lag."""
        deadline = time.monotonic() + timeout
        while True:
            found = predicate(list(self.stdout_lines))
            if found or time.monotonic() > deadline:
                if not found:
                    raise ServerError(f"no {what} in the server's output: {self.stdout_lines}")
                return found
            time.sleep(0.05)

    def stop(self, timeout: float = STOP_TIMEOUT, check: bool = True) -> int:
        """SIGTERM; SIGKILL after `timeout`. With `check`, fail unless the process exited with 0
        on SIGTERM alone."""
        if self.proc is None:
            return self.returncode or 0
        proc, self.proc = self.proc, None
        killed = False
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                proc.kill()
                proc.wait(10)
        if self._reader:
            self._reader.join(5)
        if proc.stdout:
            proc.stdout.close()
        self.returncode = proc.returncode
        if check:
            if killed:
                raise ServerError(f"sharebackup serve ignored SIGTERM for {timeout}s and was killed\n"
                                  f"--- server stderr ---\n{self.server_log()[-4000:]}")
            if proc.returncode != 0:
                raise ServerError(f"sharebackup serve exited with {proc.returncode} after SIGTERM\n"
                                  f"--- server stderr ---\n{self.server_log()[-4000:]}")
        return proc.returncode

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        # when the body failed, still stop, but do not hide its error behind ours
        self.stop(check=exc_type is None)

    # - what the server printed -
    def server_log(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def admin_token(self) -> str:
        """The token on the line after "Admin token ..." (printed on a fresh state directory)."""
        return self.wait_for_output(parse_admin_token, what="admin token")

    @property
    def try_line(self) -> str:
        """The ready-to-paste `openstack ... share list` line."""
        return self.wait_for_output(parse_try_line, what="`openstack ... share list` line")

    # - more tokens -
    def create_token(self, project: str, user: str, roles: tuple[str, ...] = ("member",)) -> str:
        """`sharebackup token create --state-dir DIR --project P --user U --role R...`: the last line."""
        cmd = sharebackup_command() + ["token", "create", "--state-dir", str(self.state_dir),
                                       "--project", project, "--user", user]
        for role in roles:
            cmd += ["--role", role]
        result = subprocess.run(cmd, cwd=self.state_dir.parent, env=isolated_env(self.home),
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{cmd} exited {result.returncode}: {result.stderr}"
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        assert lines, f"{cmd} printed nothing"
        return lines[-1].strip()


def parse_admin_token(lines: list[str]) -> str | None:
    for i, line in enumerate(lines):
        if line.startswith("Admin token") and i + 1 < len(lines):
            token = lines[i + 1].strip()
            return token or None
    return None


def parse_try_line(lines: list[str]) -> str | None:
    """The ready-to-paste `openstack ... share list` line."""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("openstack ") and stripped.endswith(" share list"):
            return stripped
    return None


# -- pytest fixtures (import them into a test module to use them) --------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `sharebackup serve` (tokens auth, fresh state) per test module and xdist worker."""
    base = tmp_path_factory.mktemp("sbserver")
    srv = ServerProcess(base / "state", auth="tokens")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop(check=True)


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """HOME and the XDG directories in tmp_path, and no OS_* variables, for in-process clients."""
    home = tmp_path / "home"
    for key in list(os.environ):
        if key.startswith(("OS_", "SHAREBACKUP_")):
            monkeypatch.delenv(key)
    for name, value in isolated_env(home).items():
        if name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, value)
    return home


def unique(prefix: str) -> str:
    """A name no other test (or xdist worker) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def member(server):
    """A member (+reader) of project `alpha`."""
    return server.create_token("alpha", "alice", ("member",))


@pytest.fixture(scope="module")
def other_member(server):
    """A member of project `beta`: must not see alpha's objects."""
    return server.create_token("beta", "bob", ("member",))

