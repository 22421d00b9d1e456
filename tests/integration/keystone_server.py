"""A real Keystone (from PyPI) for integration tests: SQLite, fernet tokens, loopback only.

Keystone pins many libraries, so it lives in its own virtualenv, built once at
``<repo>/.cache/keystone-venv`` (about 40 s) and reused afterwards. Each test run gets a
fresh Keystone in a temporary directory::

    with running_keystone(tmp_path / "keystone") as ks:
        demo = ks.make_user("demo", "member")
        token = ks.token(demo)
        conf_section = ks.authtoken_section(ks.make_user("service", "service"))

Environment:
  SHAREBACKUP_KEYSTONE_VENV  another virtualenv location (created if missing)
  SHAREBACKUP_KEYSTONE_SPEC  what to pip install (default ``keystone==30.0.0``)

Only the project virtualenv's keystoneauth1 is needed on the test side.
"""
from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VENV = REPO_ROOT / ".cache" / "keystone-venv"
DEFAULT_SPEC = "keystone==30.0.0"
READY_MARKER = ".sharebackup-ready"
REGION = "RegionOne"
DOMAIN = "default"

_SERVER_SCRIPT = textwrap.dedent("""\
    import sys
    from werkzeug.serving import run_simple
    from keystone.server.wsgi import initialize_public_application

    host, port = sys.argv[1], int(sys.argv[2])
    del sys.argv[1:]  # oslo.config parses sys.argv
    app = initialize_public_application()
    print("keystone: serving", flush=True)
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
""")


class KeystoneError(RuntimeError):
    """Setting up or running Keystone failed; the message carries the relevant log tail."""


class KeystoneInstallError(KeystoneError):
    """The Keystone virtualenv could not be built (typically: no package index reachable)."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    """Linux: SIGTERM the child when the test process dies, even by SIGKILL, so no Keystone
    or server outlives an interrupted run."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort on other platforms
        pass


def child_process_options() -> dict:
    """Popen keywords for background servers: own process group (stop_process signals the
    group), stdin closed, and killed with the parent."""
    return {"start_new_session": True, "stdin": subprocess.DEVNULL, "preexec_fn": _die_with_parent}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _run(cmd: list[str], log: Path, timeout: float, env: dict | None = None) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, env=env,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise KeystoneError(f"{cmd[0]} timed out after {timeout}s:\n{_tail(log)}") from exc
    if proc.returncode != 0:
        raise KeystoneError(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{_tail(log)}")


def ensure_keystone_venv(venv: Path | None = None, spec: str | None = None, timeout: float = 900) -> Path:
    """The virtualenv with Keystone in it, built on first use (under a file lock, so parallel
    test workers build it once). Returns the venv's bin directory."""
    venv = Path(venv or os.environ.get("SHAREBACKUP_KEYSTONE_VENV") or DEFAULT_VENV)
    spec = spec or os.environ.get("SHAREBACKUP_KEYSTONE_SPEC") or DEFAULT_SPEC
    marker = venv / READY_MARKER
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.is_file() and marker.read_text().strip() == spec):
            shutil.rmtree(venv, ignore_errors=True)
            log = venv.parent / f"{venv.name}-install.log"
            log.write_text("")
            # The base interpreter, not the project venv's, so nothing of ours leaks in.
            base_python = getattr(sys, "_base_executable", None) or sys.executable
            try:
                _run([base_python, "-m", "venv", str(venv)], log, timeout=120)
                _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                      "-q", spec], log, timeout=timeout)
            except KeystoneError as exc:
                raise KeystoneInstallError(f"cannot install {spec} into {venv}: {exc}") from exc
            marker.write_text(spec + "\n")
    return venv / "bin"


@dataclass
class User:
    name: str
    password: str
    id: str
    project_name: str | None
    project_id: str | None
    role: str | None


@dataclass
class KeystoneServer:
    url: str                    # http://127.0.0.1:PORT
    workdir: Path
    admin_password: str
    process: subprocess.Popen | None = None
    admin_username: str = "admin"
    admin_project: str = "admin"
    _ids: dict = field(default_factory=dict)

    @property
    def auth_url(self) -> str:
        return f"{self.url}/v3"

    @property
    def log_path(self) -> Path:
        return self.workdir / "keystone.log"

    @property
    def admin(self) -> User:
        return User(self.admin_username, self.admin_password, "", self.admin_project, None, "admin")

    # -- sessions and tokens
    def session(self, user: User, system_scope: str | None = None):
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3
        scope = {"system_scope": system_scope} if system_scope else {
            "project_name": user.project_name, "project_domain_id": DOMAIN}
        auth = v3.Password(auth_url=self.auth_url, username=user.name, password=user.password,
                           user_domain_id=DOMAIN, **scope)
        return ks_session.Session(auth=auth, timeout=30)

    def token(self, user: User, system_scope: str | None = None) -> str:
        return self.session(user, system_scope).get_token()

    def admin_session(self):
        if "admin_session" not in self._ids:
            self._ids["admin_session"] = self.session(self.admin)
        return self._ids["admin_session"]

    def _api(self, method: str, path: str, json: dict | None = None, ok=(200, 201, 204)):
        resp = self.admin_session().request(f"{self.auth_url}{path}", method, json=json, raise_exc=False)
        if resp.status_code not in ok:
            raise KeystoneError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else {}

    # -- identity objects (created on demand, idempotent by name)
    def ensure_project(self, name: str) -> str:
        key = f"project:{name}"
        if key not in self._ids:
            found = self._api("GET", f"/projects?name={name}&domain_id={DOMAIN}")["projects"]
            self._ids[key] = found[0]["id"] if found else self._api(
                "POST", "/projects", {"project": {"name": name, "domain_id": DOMAIN}})["project"]["id"]
        return self._ids[key]

    def ensure_role(self, name: str) -> str:
        key = f"role:{name}"
        if key not in self._ids:
            found = self._api("GET", f"/roles?name={name}")["roles"]
            self._ids[key] = found[0]["id"] if found else self._api(
                "POST", "/roles", {"role": {"name": name}})["role"]["id"]
        return self._ids[key]

    def make_user(self, project: str, role: str, name: str | None = None) -> User:
        """A new user with ``role`` on ``project`` (both created when missing). Keystone's
        implied roles apply: admin implies member, member implies reader."""
        name = name or f"{project}-{role}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        project_id = self.ensure_project(project)
        role_id = self.ensure_role(role)
        user_id = self._api("POST", "/users", {"user": {"name": name, "password": password, "domain_id": DOMAIN,
                                                        "default_project_id": project_id}})["user"]["id"]
        self._api("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")
        return User(name, password, user_id, project, project_id, role)

    def register_service(self, service_type: str, name: str, url: str) -> str:
        """A catalog entry (public, internal and admin endpoints) so clients find ``url``."""
        service_id = self._api("POST", "/services", {"service": {"type": service_type, "name": name,
                                                                 "enabled": True}})["service"]["id"]
        for interface in ("public", "internal", "admin"):
            self._api("POST", "/endpoints", {"endpoint": {"service_id": service_id, "interface": interface,
                                                          "region_id": REGION, "url": url, "enabled": True}})
        return service_id

    def authtoken_section(self, service_user: User) -> dict[str, str]:
        """The ``[keystone_authtoken]`` options for a service that validates tokens as ``service_user``."""
        return {
            "www_authenticate_uri": self.auth_url,
            "auth_url": self.auth_url,
            "auth_type": "password",
            "username": service_user.name,
            "password": service_user.password,
            "project_name": service_user.project_name,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "region_name": REGION,
            "service_token_roles_required": "true",
            "http_connect_timeout": "10",
        }

    def openstack_env(self, user: User) -> dict[str, str]:
        """OS_* variables for the ``openstack`` command line as ``user``."""
        return {"OS_AUTH_URL": self.auth_url, "OS_AUTH_TYPE": "password", "OS_IDENTITY_API_VERSION": "3",
                "OS_USERNAME": user.name, "OS_PASSWORD": user.password, "OS_PROJECT_NAME": user.project_name,
                "OS_USER_DOMAIN_ID": DOMAIN, "OS_PROJECT_DOMAIN_ID": DOMAIN, "OS_REGION_NAME": REGION,
                "OS_INTERFACE": "public"}

    # -- lifecycle
    def stop(self, timeout: float = 10) -> None:
        stop_process(self.process, timeout)
        self.process = None


def stop_process(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None,
              ok=(200, 300)) -> None:
    """Poll ``url`` until it answers with one of ``ok`` (Keystone's /v3 gives 200, / gives 300)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise KeystoneError(f"process for {url} exited with {proc.returncode}:\n{_tail(log) if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status in ok:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
            last = exc
        except OSError as exc:
            last = exc
        time.sleep(0.2)
    raise KeystoneError(f"{url} not answering after {timeout}s ({last}):\n{_tail(log) if log else ''}")


def _keystone_conf(workdir: Path) -> Path:
    conf = workdir / "keystone.conf"
    conf.write_text(textwrap.dedent(f"""\
        [database]
        connection = sqlite:///{workdir / 'keystone.sqlite'}
        [token]
        provider = fernet
        expiration = 3600
        [fernet_tokens]
        key_repository = {workdir / 'fernet-keys'}
        [fernet_receipts]
        key_repository = {workdir / 'fernet-keys'}
        [credential]
        key_repository = {workdir / 'credential-keys'}
        [identity]
        # bcrypt's minimum: passwords are throw-away, speed matters
        password_hash_rounds = 4
        [cache]
        enabled = false
        """))
    return conf


SEED_FORMAT = "1"
_SEED_URL = "http://127.0.0.1:9/v3"   # the catalog's identity URL until a server fixes it


def _bootstrap(bin_dir: Path, workdir: Path, admin_password: str, url: str, log: Path) -> None:
    conf = _keystone_conf(workdir)
    manage = [str(bin_dir / "keystone-manage"), "--config-file", str(conf)]
    owner = ["--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
             "--keystone-group", grp.getgrgid(os.getgid()).gr_name]
    _run(manage + ["db_sync"], log, timeout=300)
    _run(manage + ["fernet_setup"] + owner, log, timeout=120)
    _run(manage + ["credential_setup"] + owner, log, timeout=120)
    # --opt=value: a random password may begin with "-" (token_urlsafe), which argparse would
    # take for an option and refuse ("expected one argument"), as it did in one CI run
    _run(manage + ["bootstrap", f"--bootstrap-password={admin_password}",
                   "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
                   "--bootstrap-role-name", "admin", "--bootstrap-service-name", "keystone",
                   "--bootstrap-region-id", REGION, "--bootstrap-admin-url", url,
                   "--bootstrap-public-url", url, "--bootstrap-internal-url", url],
         log, timeout=300)


def ensure_seed(bin_dir: Path) -> Path:
    """A bootstrapped Keystone state (SQLite database, fernet and credential keys, admin
    password), built once next to the virtualenv and copied for every server: each
    ``keystone-manage`` run costs seconds of imports, four of them per server add up."""
    venv = bin_dir.parent
    seed = venv.parent / f"{venv.name}-seed"
    stamp = f"{(venv / READY_MARKER).read_text().strip()} seed-format={SEED_FORMAT}"
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = seed / READY_MARKER
        if not (marker.is_file() and marker.read_text().strip() == stamp):
            shutil.rmtree(seed, ignore_errors=True)
            building = seed.with_name(seed.name + ".building")
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir(parents=True)
            password = secrets.token_urlsafe(16)
            _bootstrap(bin_dir, building, password, _SEED_URL, building / "bootstrap.log")
            (building / "admin_password").write_text(password)
            (building / "keystone.conf").unlink()
            (building / READY_MARKER).write_text(stamp + "\n")
            building.rename(seed)
    return seed


def start_keystone(workdir: Path, timeout: float = 120, venv: Path | None = None) -> KeystoneServer:
    """Start a Keystone of its own in ``workdir`` (a copy of the bootstrapped seed); the caller
    must ``stop()`` it (or use :func:`running_keystone`)."""
    bin_dir = ensure_keystone_venv(venv)
    seed = ensure_seed(bin_dir)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("keystone.sqlite", "fernet-keys", "credential-keys"):
        if (seed / name).is_dir():
            shutil.copytree(seed / name, workdir / name, dirs_exist_ok=True)
        else:
            shutil.copy2(seed / name, workdir / name)
    conf = _keystone_conf(workdir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = KeystoneServer(url=url, workdir=workdir, admin_password=(seed / "admin_password").read_text())
    log = server.log_path
    script = workdir / "serve_keystone.py"
    script.write_text(_SERVER_SCRIPT)
    env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(conf)}
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    with open(log, "ab") as out:
        server.process = subprocess.Popen([str(bin_dir / "python"), str(script), "127.0.0.1", str(port)],
                                          stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir,
                                          **child_process_options())
    try:
        wait_http(f"{url}/v3", timeout=timeout, proc=server.process, log=log)
        # The seed's catalog names a placeholder identity URL: point it at this server.
        for endpoint in server._api("GET", "/endpoints")["endpoints"]:
            if endpoint["url"] == _SEED_URL:
                server._api("PATCH", f"/endpoints/{endpoint['id']}", {"endpoint": {"url": server.auth_url}})
        server.ensure_role("service")
        server.ensure_project("service")
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_keystone(workdir: Path, timeout: float = 120):
    server = start_keystone(workdir, timeout=timeout)
    try:
        yield server
    finally:
        server.stop()
