"""`make tempest`: manila-tempest-plugin's share-backup API tests against a real `sharebackup serve`.

Everything is real and unmodified: tempest and manila-tempest-plugin from PyPI (in their own
cached virtualenv), a real Keystone on loopback (tests/integration/keystone_server.py), and the
service as a process with ``auth_strategy = keystone`` registered in Keystone's catalog as
``shared-file-system``. Tempest creates its own projects and users (dynamic credentials).

    .venv/bin/python tests/tempest/run_tempest.py            # run the 11 tests
    .venv/bin/python tests/tempest/run_tempest.py --list     # only set up and list them

Exit status is 0 only when exactly the expected tests ran and all of them passed (a skip is a
failure here: a skipped backup test means the configuration is wrong). Tempest's own files
(tempest.conf, tempest.log with every request and response, .stestr, lock dir) and the
Keystone and service logs are in the run directory, printed at the start and kept after the
run (default: <repo>/.cache/tempest-run, emptied at the start of each run).

Environment:
  SHAREBACKUP_TEMPEST_VENV     virtualenv location (default <repo>/.cache/tempest-venv)
  SHAREBACKUP_TEMPEST_SPEC     what to pip install (default tempest==47.0.0 manila-tempest-plugin==3.2.0)
  SHAREBACKUP_TEMPEST_TIMEOUT  seconds the tempest run may take (default 300)
  SHAREBACKUP_TEMPEST_RUN_DIR  where the run's files go
"""
from __future__ import annotations

import argparse
import fcntl
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.integration import keystone_server  # noqa: E402
from tests.integration.keystone_server import (KeystoneServer, child_process_options,  # noqa: E402
                                               free_port, start_keystone, stop_process, wait_http)

DEFAULT_VENV = REPO / ".cache" / "tempest-venv"
DEFAULT_SPEC = "tempest==47.0.0 manila-tempest-plugin==3.2.0"
DEFAULT_RUN_DIR = REPO / ".cache" / "tempest-run"
READY_MARKER = ".sharebackup-ready"
REGEX = r"^manila_tempest_tests\.tests\.api\.(test_backup|test_backup_negative)\."
EXPECTED_TESTS = 11
MAX_MICROVERSION = "2.91"
CONCURRENCY = 4


def log(msg: str) -> None:
    print(f"[tempest {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def ensure_tempest_venv(venv: Path | None = None, spec: str | None = None, timeout: float = 900) -> Path:
    """The virtualenv with tempest and the plugin, built on first use under a file lock and
    reused while its marker names the same spec. Returns its bin directory."""
    venv = Path(venv or os.environ.get("SHAREBACKUP_TEMPEST_VENV") or DEFAULT_VENV)
    spec = spec or os.environ.get("SHAREBACKUP_TEMPEST_SPEC") or DEFAULT_SPEC
    marker = venv / READY_MARKER
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text().strip() == spec:
            return venv / "bin"
        log(f"building {venv} ({spec}); later runs reuse it")
        shutil.rmtree(venv, ignore_errors=True)
        install_log = venv.parent / f"{venv.name}-install.log"
        base_python = getattr(sys, "_base_executable", None) or sys.executable
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        with open(install_log, "w") as out:
            for cmd in ([base_python, "-m", "venv", str(venv)],
                        [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
                         "-q", *spec.split()]):
                out.write(f"$ {' '.join(cmd)}\n")
                out.flush()
                try:
                    rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, timeout=timeout).returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout"
                if rc != 0:
                    shutil.rmtree(venv, ignore_errors=True)
                    raise SystemExit(f"cannot build {venv}: {' '.join(cmd[-3:])} -> {rc}\n{_tail(install_log)}")
        marker.write_text(spec + "\n")
    return venv / "bin"


def _project_bin() -> Path:
    here = Path(sys.executable).parent
    return here if (here / "sharebackup").exists() else REPO / ".venv" / "bin"


class Service:
    """`sharebackup serve` with auth_strategy = keystone, in the catalog of `keystone`."""

    def __init__(self, workdir: Path, keystone: KeystoneServer):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "serve.log"
        service_user = keystone.make_user("service", "service", name="sharebackup")
        conf = workdir / "sharebackup.conf"
        section = "\n".join(f"{k} = {v}" for k, v in keystone.authtoken_section(service_user).items())
        conf.write_text(textwrap.dedent("""\
            [DEFAULT]
            auth_strategy = keystone
            enabled_share_protocols = NFS,CIFS
            # The negative tests create a backup and at once expect its share to be busy; a backup
            # of tempest's empty share can end within 20 ms (seen: a second create then got 202).
            backup_create_delay = 1.0
            enable_test_hooks = true

            [keystone_authtoken]
            """) + section + "\n")
        keystone.register_service("shared-file-system", "manilav2", f"{self.url}/v2")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHAREBACKUP_", "OS_"))}
        env["HOME"] = str(workdir)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [str(_project_bin() / "sharebackup"), "serve", "--config", str(conf),
                 "--state-dir", str(workdir / "state"), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, **child_process_options())
        try:
            wait_http(f"{self.url}/", timeout=60, proc=self.proc, log=self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        stop_process(self.proc)


def start_keystone_serialized(workdir: Path) -> KeystoneServer:
    """Keystone serving one request at a time. Its SQLite database cannot take concurrent
    writers: every first password authentication of a user writes ``user.last_active_at``,
    and two tempest workers creating and authenticating users at once got
    ``sqlite3.OperationalError: database is locked`` -> 500 on POST /v3/auth/tokens (a read
    transaction upgraded to a write fails at once, whatever the busy timeout). Serialising the
    identity server costs nothing measurable here and leaves the service under test concurrent."""
    threaded = "threaded=True"
    assert threaded in keystone_server._SERVER_SCRIPT, "keystone_server's server script changed"
    saved = keystone_server._SERVER_SCRIPT
    keystone_server._SERVER_SCRIPT = saved.replace(threaded, "threaded=False")
    try:
        return start_keystone(workdir)
    finally:
        keystone_server._SERVER_SCRIPT = saved


def write_tempest_conf(run_dir: Path, keystone: KeystoneServer, build_timeout: int) -> Path:
    etc = run_dir / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    conf = etc / "tempest.conf"
    conf.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        debug = True
        use_stderr = False
        log_dir = {run_dir}
        log_file = tempest.log

        [oslo_concurrency]
        lock_path = {run_dir / 'lock'}

        [auth]
        use_dynamic_credentials = True
        create_isolated_networks = False
        admin_username = {keystone.admin_username}
        admin_password = {keystone.admin_password}
        admin_project_name = {keystone.admin_project}
        admin_domain_name = Default
        default_credentials_domain_name = Default

        [identity]
        uri_v3 = {keystone.auth_url}
        auth_version = v3
        region = RegionOne
        v3_endpoint_type = public
        admin_role = admin
        default_domain_id = default

        [identity-feature-enabled]
        api_v2 = False
        api_v3 = True

        [service_available]
        manila = True
        neutron = False
        nova = False
        cinder = False
        glance = False
        swift = False

        [share]
        catalog_type = shared-file-system
        endpoint_type = publicURL
        region = RegionOne
        min_api_microversion = 2.0
        max_api_microversion = {MAX_MICROVERSION}
        enable_protocols = nfs
        multitenancy_enabled = False
        capability_snapshot_support = True
        capability_create_share_from_snapshot_support = False
        capability_thin_provisioned = False
        share_size = 1
        run_driver_assisted_backup_tests = True
        run_snapshot_tests = True
        run_mount_snapshot_tests = False
        run_replication_tests = False
        run_share_group_tests = False
        run_quota_tests = False
        run_manage_unmanage_tests = False
        run_migration_with_preserve_snapshots_tests = False
        suppress_errors_in_cleanup = False
        build_interval = 1
        build_timeout = {build_timeout}
        """))
    return conf


def _count(label: str, text: str) -> int | None:
    found = re.findall(rf"^\s*-?\s*{re.escape(label)}:\s*(\d+)", text, re.M)
    return int(found[-1]) if found else None


def run_streaming(cmd: list[str], *, cwd: Path, env: dict, timeout: float) -> tuple[int | str, str]:
    """Run `cmd`, echo its output as it comes, return (exit code or "timeout", output)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, errors="replace", **child_process_options())
    lines: list[str] = []

    def pump() -> None:
        for line in proc.stdout:
            line = line.rstrip("\n")
            print(line, flush=True)
            lines.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        proc.wait(timeout)
        rc: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        log(f"tempest did not finish within {timeout:.0f}s: stopping it")
        stop_process(proc, timeout=15)
        rc = "timeout"
    reader.join(10)
    return rc, "\n".join(lines)


def failure_report(run_dir: Path, output: str) -> None:
    """Where to look: the failed tests and, from tempest.log, the requests that got errors."""
    failed = sorted(set(re.findall(r"\{\d+\} (.+?) \[[\d.]+s\] \.\.\. FAILED", output)))
    if failed:
        log("failed tests: " + ", ".join(failed))
    tlog = run_dir / "tempest.log"
    if tlog.is_file():
        bad = [line for line in tlog.read_text(errors="replace").splitlines()
               if re.search(r"Request \(\w+:\w+\): (4\d\d|5\d\d) ", line)]
        if bad:
            log(f"requests with error answers in {tlog} (expected ones included, e.g. the negative tests' 400s):")
            for line in bad[-40:]:
                print("   " + line[line.find("Request ("):][:300], flush=True)
    log(f"full request/response log: {tlog}; service log: {run_dir / 'service' / 'serve.log'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="set everything up, list the tests, do not run them")
    parser.add_argument("--timeout", type=float,
                        default=float(os.environ.get("SHAREBACKUP_TEMPEST_TIMEOUT", "300")),
                        help="seconds the tempest run may take (default 300)")
    parser.add_argument("--build-timeout", type=int, default=60,
                        help="tempest's [share] build_timeout: seconds a share/backup may take (default 60)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--run-dir", default=os.environ.get("SHAREBACKUP_TEMPEST_RUN_DIR") or str(DEFAULT_RUN_DIR))
    args = parser.parse_args(argv)

    started = time.monotonic()
    bin_dir = ensure_tempest_venv()
    run_dir = Path(args.run_dir).resolve()
    shutil.rmtree(run_dir, ignore_errors=True)
    (run_dir / "home").mkdir(parents=True)
    (run_dir / "service").mkdir()
    log(f"run directory (logs, tempest.conf): {run_dir}")

    keystone = service = None
    try:
        keystone = start_keystone_serialized(run_dir / "keystone")
        log(f"keystone at {keystone.auth_url}")
        service = Service(run_dir / "service", keystone)
        log(f"sharebackup serve (auth_strategy=keystone) at {service.url}/v2, in the catalog as shared-file-system")
        conf = write_tempest_conf(run_dir, keystone, args.build_timeout)

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OS_", "SHAREBACKUP_", "TEMPEST_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env.update({"HOME": str(run_dir / "home"), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
                    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                    "PYTHONUNBUFFERED": "1"})
        base = [str(bin_dir / "tempest"), "run", "--config-file", str(conf), "--regex", REGEX]
        # the stestr repository (.stestr) tempest's local mode expects; `tempest run` writes .stestr.conf
        subprocess.run([str(bin_dir / "stestr"), "init"], cwd=run_dir, env=env, capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL, check=True)
        listed = subprocess.run(base + ["--list-tests"], cwd=run_dir, env=env, capture_output=True, text=True,
                                timeout=120, stdin=subprocess.DEVNULL)
        tests = sorted({line.split("[")[0] for line in listed.stdout.splitlines()
                        if line.startswith("manila_tempest_tests.")})
        log(f"tempest run --list-tests found {len(tests)} tests:")
        for name in tests:
            print("   " + name, flush=True)
        if listed.returncode != 0 or len(tests) != EXPECTED_TESTS:
            log(f"expected {EXPECTED_TESTS} tests (exit {listed.returncode})\n{listed.stdout[-3000:]}\n"
                f"{listed.stderr[-3000:]}")
            return 1
        if args.list:
            return 0

        log(f"tempest run --regex '{REGEX}' --concurrency {args.concurrency} (timeout {args.timeout:.0f}s)")
        rc, output = run_streaming(base + ["--concurrency", str(args.concurrency)], cwd=run_dir, env=env,
                                   timeout=args.timeout)
        passed, failed, skipped = (_count(k, output) for k in ("Passed", "Failed", "Skipped"))
        ok = rc == 0 and passed == EXPECTED_TESTS and not failed and not skipped
        log(f"summary: exit={rc} passed={passed} failed={failed} skipped={skipped} "
            f"({time.monotonic() - started:.0f}s in all) -> {'OK' if ok else 'FAILED'}")
        if not ok:
            failure_report(run_dir, output)
            log(f"service log tail:\n{_tail(service.log_path, 30)}")
        return 0 if ok else 1
    finally:
        if service:
            service.stop()
        if keystone:
            keystone.stop()


if __name__ == "__main__":
    sys.exit(main())
