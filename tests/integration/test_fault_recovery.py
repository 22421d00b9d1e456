"""The fault test: backups, restores and deletes while worker and API processes are SIGKILLed.

One PostgreSQL database, one moto S3 server and one state directory (the share directories are
shared by every process on this host). Every backup goes to the S3 repository named `offsite`
(`[backup] repositories = offsite=s3://...`, `backup_options.backup_type = offsite`). Two API
processes (`sharebackup serve --workers 0`) and three worker processes (`sharebackup worker`),
each in its own process group, all with short job leases. Four shares get real trees (nested
directories, symlinks, a hard-link pair, a few MB of random data). Then ~30 operations (backups,
in-place restores, deletes), spread over both API processes, run while a chaos loop SIGKILLs a
random worker at random moments (at least 10 times) and restarts it, and three times SIGKILLs one
of the API processes a few ms after a create, a restore, a delete (in that order, any of them
when the wanted kind does not come) was sent to it (then restarts it on the same port).
The worker kills aim at work: the chaos waits (up to JOB_WAIT) for a running share_backup job and
kills the worker inside it (it holds a repository lock or has files of a share open) at a random
moment of the job (within its typical length so far); a few hundred small files per share make a
restore take a second or two (about one S3 read per file); gc runs every GC_INTERVAL (18 s), which
leaves windows for backups. What each victim ran is read from the jobs afterwards: a job alive right
after the kill whose lease is then never renewed, or that another worker takes over, was the
victim's (lease_owner is per worker thread). The test asserts at least MIN_JOB_KILLS kills inside a
running create or restore job, at least one inside a gc job, and at least one share_backup job
taken over after a kill (attempts > 1); operations go on past OPERATIONS (bounded) until then. Clients retry through the other API: requests that never reached the killed
process are sent again, and a create, restore or delete whose answer was lost is looked up in the
database (committed or not) before it is sent again, so a lost answer never doubles an operation.
When the service has automatic garbage collection (`[backup] gc_interval_seconds`), it runs every
few seconds with a short grace, and the chaos also kills the worker holding the repository's gc
lease (at least once while a gc job of the S3 repository runs; FAULT_GC=0 turns gc off).

Afterwards, once the queue has drained (bounded):
  - no backup is in creating/restoring/deleting, no share in backup_creating/backup_restoring;
  - every job is done or failed, and every failed operation left its failed state with a reason
    (fail_reason / user message); every backup row has its create job (no half-done request);
  - every `available` backup, restored (2.91) into a fresh share, equals byte for byte the tree
    recorded when it was taken;
  - `sharebackup repo check --read-data` passes on the S3 repository;
  - quota usage (2.80 detail) equals the count and size of the project's non-deleted backup rows.

It prints one line to quote:
  FAULT TEST: repository=s3 kills=14 (workers=11: in-create=2, in-restore=6, in-delete=0, in-gc=2, idle=1;
  api=3; during-gc=3) taken-over=8 (+2 gc) jobs=68 done=68 failed=0 stuck=0 corrupt=0 ...
(`WORKER KILL` lines say what each victim ran; `CHAOS` gives how long the jobs ran.)
Run with `-s` to see it (and the per-phase lines).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.conftest import create_pg_database, drop_pg_database, require_pg
from tests.integration.server_process import (_die_with_parent, isolated_env, restartable_port,
                                               sharebackup_command, upgrade_database, write_service_config)
from tests.integration.test_backup_lifecycle import compare, snapshot_tree
from tests.s3_server import make_bucket, moto_server, s3_url

pytestmark = [pytest.mark.slow(seconds=180), pytest.mark.postgres]   # the longest file: it starts first

LEASE = 4.0              # job_lease_seconds: a killed worker's job is taken over after this
API_PROCESSES = 2
WORKER_PROCESSES = 3
SHARES = 4
OPERATIONS = 30          # backups + restores + deletes started through the API
MAX_DELETES = 4
MIN_KILLS = 10           # of worker processes
API_KILLS = 3            # of an API process with a create, restore or delete in flight through it
API_KILL_KINDS = ("create", "restore", "delete")   # what the first, second, third API kill waits for
MUTATION_KINDS = {
    "create": lambda method, path: method == "POST" and path == "/share-backups",
    "restore": lambda method, path: method == "POST" and path.endswith("/action"),
    "delete": lambda method, path: method == "DELETE",
}
REPOSITORY = "offsite"   # the S3 repository every backup goes to (backup_options.backup_type)
BUCKET = "fault-backups"
GC_INTERVAL = 18.0       # [backup] gc_interval_seconds, when the service has automatic gc: a gc holds
                         # the repository (backups queued again) for a moment, with windows for backups
GC_GRACE = 2.0           # [backup] gc_grace_seconds
GC_STUCK_SECONDS = 90.0  # a gc job still queued or running this long after it was queued is stuck
MIN_GC_KILLS = 1         # with automatic gc: kills of the worker running a gc job (and of any worker while one runs)
GC_KILL_TARGET = 2       # the chaos aims at a gc job this often (each holds the repository for a gc lease)
MIN_JOB_KILLS = 5        # worker kills inside a running share_backup create or restore job
JOB_WAIT = 15.0          # the chaos waits this long for a running share_backup job before it kills any worker
MAX_OPERATIONS = 80      # operations go on past OPERATIONS (to this) while the chaos misses its kills in jobs
                         # (on a loaded machine the API kills take a while, and the jobs meanwhile go unkilled)
PACE = (1.0, 8.0)        # seconds a share's next operation waits: ~30 operations over about a minute
CHAOS_SECONDS = 300.0    # hard bound of the chaos phase (it ends sooner: ~110-130 s here, once the kills are in)
RESTART_WAIT = 30.0      # an API process started again after its kill answers within this
OP_WAIT = 150.0          # one backup or restore must leave its transitional state within this (on a loaded
                         # machine, kills, takeovers and gc holds have added up to ~70 s)
DRAIN_SECONDS = 60.0     # the queue must be empty this long after the chaos stopped
VERIFY_WAIT = 120.0      # the verification restores (chaos over) must be done within this
PROJECT, USER = "faultproj", "fiona"
TOKEN = f"{USER}:{PROJECT}"            # noauth: user:project
TRANSITIONAL_BACKUP = ("creating", "restoring", "deleting")
TRANSITIONAL_SHARE = ("backup_creating", "backup_restoring")


# -- processes -----------------------------------------------------------------------------------

class Proc:
    """One `sharebackup ...` process in its own process group, output appended to a log file."""

    def __init__(self, name: str, args: list[str], log: Path, home: Path):
        self.name, self.args, self.log, self.home = name, args, log, home
        self.popen: subprocess.Popen | None = None
        self.pids: list[int] = []   # every pid this slot ever had

    def start(self) -> "Proc":
        with open(self.log, "ab") as out:
            out.write(f"\n=== {time.strftime('%H:%M:%S')} start {self.name}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(sharebackup_command() + self.args, cwd=self.home,
                                          env=isolated_env(self.home), stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                          preexec_fn=_die_with_parent)
        self.pids.append(self.popen.pid)
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (no cleanup of any kind runs)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)
        with open(self.log, "ab") as out:
            out.write(f"=== {time.strftime('%H:%M:%S')} SIGKILL {self.name} pid {self.popen.pid}\n".encode())

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL after `timeout`; never raises."""
        if self.popen is None:
            return
        proc, self.popen = self.popen, None
        try:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            os.killpg(proc.pid, signal.SIGKILL)   # anything left in the group
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def log_lines(self, needle: str, limit: int = 8) -> list[str]:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [f"{self.name}: {line}" for line in lines if needle in line][-limit:]


class RepoLocks:
    """The repository's lock objects (`locks/<id>`, JSON with the holder's pid and purpose), read
    straight from the store: which process is inside a backup, restore, forget or gc."""

    def __init__(self, location: str):
        from sharebackup import engine
        self.store = engine.open_store(location)

    def holders(self) -> dict[int, set[str]]:
        """{pid: purposes} of every lock object there now (expired ones included)."""
        out: dict[int, set[str]] = {}
        try:
            names = [info.name for info in self.store.list("locks/")]
        except Exception:  # noqa: BLE001 - only a hint for choosing a victim
            return out
        for name in names:
            try:
                doc = json.loads(self.store.get(name))
            except Exception:  # noqa: BLE001 - renewed (deleted) meanwhile
                continue
            if isinstance(doc, dict) and isinstance(doc.get("pid"), int):
                out.setdefault(doc["pid"], set()).add(str(doc.get("purpose") or ""))
        return out

    def documents(self) -> list[tuple[str, dict]]:
        docs = []
        for info in list(self.store.list("locks/")):
            try:
                docs.append((info.name, json.loads(self.store.get(info.name))))
            except Exception:  # noqa: BLE001
                continue
        return docs


def busy_in(proc: Proc, state: Path, lock_holders: dict[int, set[str]]) -> bool:
    """The process holds a repository lock (it is inside a backup, restore, forget or gc), or
    (Linux) has a file below the state directory open (a share's)."""
    if not proc.alive():
        return False
    if proc.popen.pid in lock_holders:
        return True
    prefix = str(state) + os.sep
    try:
        for fd in os.listdir(f"/proc/{proc.popen.pid}/fd"):
            try:
                if os.readlink(f"/proc/{proc.popen.pid}/fd/{fd}").startswith(prefix):
                    return True
            except OSError:
                continue
    except (OSError, AttributeError):
        return False
    return False


# -- HTTP ----------------------------------------------------------------------------------------

class LostAnswer(Exception):
    """A create, restore or delete reached an API process that died before answering: it may or
    may not have been committed. The caller looks in the database before sending it again."""


MUTATING = ("POST", "PUT", "DELETE")
RETRY_SECONDS = 60.0     # a request keeps being retried (through the other API) this long


class Api:
    """Plain JSON requests to the API processes (one chosen at random per request).

    A request that never reached a process (connection refused: it is down) goes to the other
    one; so does a GET whose connection broke. A create, restore or delete whose connection broke
    raises LostAnswer. `arm(i, killer, wanted)` makes the next create, restore or delete sent to
    process `i` (of the kind `wanted(method, path)` accepts) call `killer()` a few milliseconds after
    it was sent (the request is then in flight)."""

    def __init__(self, endpoints: list[str]):
        self.endpoints = endpoints
        self.calls = [0] * len(endpoints)
        self.inflight: list[dict[int, str]] = [{} for _ in endpoints]   # per process: thread -> "METHOD path"
        self.retried = {"refused": 0, "broken_get": 0}
        self._rnd = random.Random()
        self._lock = threading.Lock()
        self._armed: tuple[int, object, object] | None = None

    def arm(self, index: int, killer, wanted=lambda method, path: True) -> None:
        with self._lock:
            self._armed = (index, killer, wanted)

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def in_flight(self, index: int) -> list[str]:
        with self._lock:
            return list(self.inflight[index].values())

    def request(self, method: str, path: str, body=None, version: str = "2.91", token: str = TOKEN):
        data = json.dumps(body).encode() if body is not None else None
        deadline = time.monotonic() + RETRY_SECONDS
        with self._lock:
            i = self._rnd.randrange(len(self.endpoints))
        while True:
            sent_to = i
            with self._lock:
                self.calls[i] += 1
                self.inflight[i][threading.get_ident()] = f"{method} {path}"
                fire = None
                if self._armed and self._armed[0] == i and method in MUTATING and self._armed[2](method, path):
                    fire, self._armed = self._armed[1], None
            if fire is not None:   # the killer runs while this request is on its way or being handled
                threading.Timer(self._rnd.uniform(0.001, 0.03), fire, args=(f"{method} {path}",)).start()
            req = urllib.request.Request(self.endpoints[i] + path, data=data, method=method, headers={
                "X-Auth-Token": token, "Accept": "application/json", "Content-Type": "application/json",
                "X-OpenStack-Manila-API-Version": version, "X-OpenStack-Manila-API-Experimental": "True"})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    return resp.status, json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                try:
                    return exc.code, json.loads(raw or b"{}")
                except ValueError:
                    return exc.code, {"raw": raw.decode(errors="replace")}
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                refused = isinstance(reason, ConnectionRefusedError)
                if not refused and method in MUTATING:
                    raise LostAnswer(f"{method} {path} via {self.endpoints[i]}: {type(reason).__name__}: "
                                     f"{reason}") from exc
                if time.monotonic() > deadline:
                    raise
                with self._lock:
                    self.retried["refused" if refused else "broken_get"] += 1
                i = (i + 1) % len(self.endpoints)   # through the other API process
                time.sleep(0.05)
            finally:
                with self._lock:
                    self.inflight[sent_to].pop(threading.get_ident(), None)

    def ok(self, method: str, path: str, body=None, version: str = "2.91", expect=(200, 202)):
        status, answer = self.request(method, path, body, version)
        assert status in expect, f"{method} {path} -> {status}: {answer}"
        return answer

    def backup(self, backup_id: str) -> dict | None:
        status, answer = self.request("GET", f"/share-backups/{backup_id}")
        if status == 404:
            return None
        assert status == 200, (status, answer)
        return answer["share_backup"]

    def share(self, share_id: str) -> dict:
        return self.ok("GET", f"/shares/{share_id}")["share"]


def poll(check, timeout: float, interval: float = 0.3):
    """`check()` until truthy; the last value (falsy) after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def create_share(api: Api, name: str) -> tuple[str, Path]:
    share = api.ok("POST", "/shares", {"share": {"share_proto": "NFS", "size": 1, "name": name}})["share"]
    shown = poll(lambda: (s := api.share(share["id"]))["status"] in ("available", "error") and s, 90)
    assert shown and shown["status"] == "available", f"share {share['id']} did not become available: {shown}"
    exports = api.ok("GET", f"/shares/{share['id']}/export_locations")["export_locations"]
    path = Path(exports[0]["path"])
    assert path.is_dir(), exports
    return share["id"], path


# -- trees ---------------------------------------------------------------------------------------

SMALL_FILES = 220        # per share at the start: a restore costs about one S3 read per file (~1-2 s in all)
SMALL_FILES_STEP = 25    # added by each change


def small_files(directory: Path, rnd: random.Random, count: int) -> None:
    """`count` small files of random content in a few subdirectories."""
    for i in range(count):
        sub = directory / f"d{i % 8}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:04d}.dat").write_bytes(rnd.randbytes(rnd.randint(200, 6000)))


def populate(root: Path, rnd: random.Random) -> None:
    """A few MB and a few hundred small files: nested directories, an empty directory, symlinks
    (one dangling), a hard-link pair."""
    (root / "docs" / "nested" / "deeper").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "empty-dir").mkdir()
    (root / "docs" / "readme.txt").write_text("hello from the share\n" * 40)
    (root / "docs" / "nested" / "notes.md").write_text("# notes\n" + "line\n" * 800)
    (root / "docs" / "nested" / "deeper" / "leaf.bin").write_bytes(rnd.randbytes(60_000))
    (root / "data" / "big.bin").write_bytes(rnd.randbytes(rnd.randint(2, 3) * 1024 * 1024))
    small_files(root / "many", rnd, SMALL_FILES)
    (root / "data" / "compressible.txt").write_bytes(b"abcdefgh" * 60_000)
    (root / "data" / "hard-a").write_bytes(rnd.randbytes(12_345))
    os.link(root / "data" / "hard-a", root / "data" / "hard-b")
    os.symlink("../docs/readme.txt", root / "data" / "link-to-readme")
    os.symlink("does/not/exist", root / "dangling-link")
    os.chmod(root / "docs" / "readme.txt", 0o640)


def mutate(root: Path, rnd: random.Random, step: int) -> None:
    """Change the tree between backups: a new file in a new nested directory, a new symlink,
    a rewritten file, sometimes a removed one (never a hard-linked file)."""
    new_dir = root / "gen" / f"g{step}" / "inner"
    new_dir.mkdir(parents=True)
    (new_dir / f"file{step}.bin").write_bytes(rnd.randbytes(rnd.randint(1_000_000, 4_000_000)))
    small_files(root / "gen" / f"g{step}" / "small", rnd, SMALL_FILES_STEP)
    for old in rnd.sample(sorted((root / "many").rglob("*.dat")), 10):   # rewritten small files
        old.write_bytes(rnd.randbytes(rnd.randint(200, 6000)))
    os.symlink(f"inner/file{step}.bin", root / "gen" / f"g{step}" / "link")
    target = root / "docs" / "nested" / "notes.md"
    target.write_text(f"# notes, version {step}\n" + "line\n" * rnd.randint(100, 2000))
    with open(root / "data" / "big.bin", "r+b") as f:
        f.seek(rnd.randrange(1024 * 1024))
        f.write(rnd.randbytes(8192))
    older = sorted((root / "gen").glob("g*/inner/file*.bin"))
    if len(older) > 2 and rnd.random() < 0.6:
        older[0].unlink()


# -- database ------------------------------------------------------------------------------------

class Db:
    def __init__(self, url: str):
        from sqlalchemy import create_engine
        self.engine = create_engine(url, pool_pre_ping=True)

    def rows(self, sql: str, **params) -> list[dict]:
        from sqlalchemy import text
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text(sql), params)]

    def dispose(self) -> None:
        self.engine.dispose()


def gc_supported() -> bool:
    """The service has automatic garbage collection ([backup] gc_interval_seconds)."""
    from sharebackup.config import BackupConfig
    return {"gc_interval_seconds", "gc_grace_seconds"} <= {f.name for f in dataclasses.fields(BackupConfig)}


def gc_collected(workers: list[Proc], field: str) -> int:
    """The sum of one number over the workers' "gc of repository offsite done: {...}" lines."""
    total = 0
    for proc in workers:
        for line in proc.log_lines(f"gc of repository {REPOSITORY} done:", limit=100000):
            found = re.search(rf"'{field}': (\d+)", line)
            total += int(found.group(1)) if found else 0
    return total


def answering(proc: Proc, port: int) -> bool:
    assert proc.alive(), f"{proc.name} exited: {proc.log.read_text(errors='replace')[-3000:]}"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 300
    except OSError:
        return False


# -- the test ------------------------------------------------------------------------------------

@pytest.fixture
def s3_endpoint():
    with moto_server() as endpoint:
        make_bucket(endpoint, BUCKET)
        yield endpoint


def test_fault_recovery(tmp_path, s3_endpoint):
    require_pg()
    started = time.monotonic()
    seed = int(os.environ.get("FAULT_SEED", random.randrange(1 << 30)))
    print(f"FAULT TEST seed={seed} (FAULT_SEED={seed} repeats the random choices)", flush=True)
    state, logs, home = tmp_path / "state", tmp_path / "logs", tmp_path / "home"
    for d in (state, logs, home):
        d.mkdir()
    db_url = create_pg_database()
    repo_url = s3_url(s3_endpoint, BUCKET, "fault-" + uuid.uuid4().hex[:12])
    with_gc = gc_supported() and os.environ.get("FAULT_GC", "1") != "0"
    gc_options = {"gc_interval_seconds": GC_INTERVAL, "gc_grace_seconds": GC_GRACE} if with_gc else {}
    conf_path = write_service_config(
        tmp_path / "sharebackup.conf", state=state, db_url=db_url,
        quota={"shares": 500, "gigabytes": 5000, "backups": 500, "backup_gigabytes": 5000},
        backup={"repositories": f"{REPOSITORY}={repo_url}", "job_lease_seconds": LEASE, **gc_options})
    apis: list[Proc] = []
    workers: list[Proc] = []
    db = None
    try:
        upgrade_database(conf_path, home)
        ports: list[int] = []   # each API is killed and started again on its own port
        while len(ports) < API_PROCESSES:
            ports += [port for port in [restartable_port()] if port not in ports]
        for i, port in enumerate(ports):
            apis.append(Proc(f"api{i + 1}", ["serve", "--config", str(conf_path), "--workers", "0",
                                            "--host", "127.0.0.1", "--port", str(port)],
                             logs / f"api{i + 1}.log", home).start())
        for i in range(WORKER_PROCESSES):
            workers.append(Proc(f"worker{i + 1}", ["worker", "--config", str(conf_path)],
                                logs / f"worker{i + 1}.log", home).start())
        api = Api([f"http://127.0.0.1:{port}/v2" for port in ports])
        for proc, port in zip(apis, ports):
            assert poll(lambda: answering(proc, port), 30, 0.2), f"{proc.name} did not answer on port {port}"
        db = Db(db_url)
        locks = RepoLocks(repo_url)

        # -- shares with real trees
        rnd = random.Random(seed)
        shares: list[dict] = []
        for i in range(SHARES):
            share_id, root = create_share(api, f"fault-src-{i}")
            populate(root, random.Random(rnd.random()))
            shares.append({"id": share_id, "root": root, "rnd": random.Random(rnd.random()), "step": 0})
        print(f"SETUP: {API_PROCESSES} API + {WORKER_PROCESSES} worker processes, {SHARES} shares "
              f"({sum(sum(p.stat().st_size for p in s['root'].rglob('*') if p.is_file()) for s in shares)} bytes) "
              f"in {time.monotonic() - started:.1f}s", flush=True)

        # -- operations + chaos
        recorded: dict[str, dict] = {}       # backup id -> tree at the time it was taken
        backup_share: dict[str, str] = {}
        ops = {"backup": 0, "restore": 0, "delete": 0}
        problems: list[str] = []             # stuck or wrong during the run
        lock = threading.Lock()
        counter = {"started": 0}
        kills: list[str] = []                # workers
        api_kills: list[str] = []            # API processes, with what was in flight through them
        gc_kills: list[str] = []             # workers killed while a gc job was running
        lost = {"committed": 0, "not_committed": 0}   # mutating requests whose answer a killed API lost
        restarting: list[tuple[Proc, int, float]] = []   # APIs started again, not yet seen answering
        waited = {"backup": [], "restore": []}   # seconds from the request to the end of the transitional state
        chaos_log: list[tuple[int, int]] = []
        victims: list[dict] = []             # per worker kill: victim, live jobs after it, what it ran (resolve())
        seen_rows: set[tuple] = set()        # (job, owner, lease) already in an earlier kill's snapshot
        more_ops = threading.Event()         # the chaos still wants kills inside running jobs
        job_seen: dict[tuple[str, int], list] = {}   # (job, attempt) -> [kind, first seen, last seen] running
        sampling_done = threading.Event()

        def take_op() -> bool:
            """One more operation: OPERATIONS of them, more (up to MAX_OPERATIONS) while the chaos
            still misses its kills inside running jobs."""
            with lock:
                if counter["started"] >= (MAX_OPERATIONS if more_ops.is_set() else OPERATIONS):
                    return False
                counter["started"] += 1
                return True

        def submit(method: str, path: str, body, committed, expect=(202,)):
            """Send a create, restore or delete; when a killed API lost the answer, `committed()`
            (a look in the database) tells whether it happened, else it is sent again. Returns the
            answer, or committed()'s value."""
            for _ in range(5):
                try:
                    return api.ok(method, path, body, expect=expect)
                except LostAnswer as exc:
                    time.sleep(1.0)   # a COMMIT the dead process had sent is through by now
                    found = committed()
                    with lock:
                        lost["committed" if found else "not_committed"] += 1
                    print(f"LOST ANSWER {exc}: {'committed' if found else 'not committed, sending again'}",
                          flush=True)
                    if found:
                        return found
            raise AssertionError(f"{method} {path}: the answer was lost five times")

        def count_jobs(kind: str, resource_id: str) -> int:
            return db.rows("SELECT count(*) AS n FROM jobs WHERE kind = :k AND resource_id = :r",
                           k=kind, r=resource_id)[0]["n"]

        def backup_once(share: dict) -> None:
            share["step"] += 1
            mutate(share["root"], share["rnd"], share["step"])
            tree = snapshot_tree(share["root"])
            name = f"b-{share['id'][:6]}-{share['step']}"

            def committed():
                rows = db.rows("SELECT id FROM share_backups WHERE project_id = :p AND display_name = :n",
                               p=PROJECT, n=name)
                assert len(rows) <= 1, f"one create made {len(rows)} backups named {name}"
                return rows and {"share_backup": {"id": rows[0]["id"]}}

            created = submit("POST", "/share-backups", {"share_backup": {
                "share_id": share["id"], "name": name,
                "backup_options": {"backup_type": REPOSITORY}}}, committed)["share_backup"]
            with lock:
                recorded[created["id"]], backup_share[created["id"]] = tree, share["id"]
                ops["backup"] += 1
            asked = time.monotonic()
            shown = poll(lambda: (b := api.backup(created["id"])) and b["status"] != "creating" and b, OP_WAIT)
            waited["backup"].append((time.monotonic() - asked, created["id"]))
            if not shown:
                problems.append(f"backup {created['id']} still creating after {OP_WAIT}s")
                raise RuntimeError(problems[-1])
            share_now = poll(lambda: (s := api.share(share["id"]))["status"] != "backup_creating" and s, 10)
            if not share_now:
                problems.append(f"share {share['id']} still backup_creating after backup {created['id']} "
                                f"went {shown['status']}")
                raise RuntimeError(problems[-1])

        def restore_once(share: dict, backup_id: str) -> bool:
            before = count_jobs("share_backup.restore", backup_id)
            submit("POST", f"/share-backups/{backup_id}/action", {"restore": None},
                   lambda: count_jobs("share_backup.restore", backup_id) > before)
            with lock:
                ops["restore"] += 1
            asked = time.monotonic()
            shown = poll(lambda: (b := api.backup(backup_id)) and b["status"] != "restoring" and b, OP_WAIT)
            waited["restore"].append((time.monotonic() - asked, backup_id))
            share_now = poll(lambda: (s := api.share(share["id"]))["status"] != "backup_restoring" and s, 10)
            if not shown or not share_now:
                problems.append(f"in-place restore of backup {backup_id} into share {share['id']} stuck: "
                                f"backup={shown and shown['status']} share={share_now and share_now['status']}")
                raise RuntimeError(problems[-1])
            if share_now["status"] != "available":
                return False   # backup_restoring_error: a clean failure; the share is out of the game
            expected = recorded[backup_id]
            actual = snapshot_tree(share["root"])
            try:   # merge: every entry of the backup is back as it was; newer entries stay
                compare(expected, actual, allowed_extra=set(actual) - set(expected),
                        label=f"in-place restore of {backup_id}")
            except AssertionError as exc:
                problems.append(f"CORRUPT in-place restore: {exc}")
            return True

        def delete_once(backup_id: str) -> None:
            before = count_jobs("share_backup.delete", backup_id)
            submit("DELETE", f"/share-backups/{backup_id}", None,
                   lambda: count_jobs("share_backup.delete", backup_id) > before)
            with lock:
                ops["delete"] += 1

        def share_loop(share: dict) -> None:
            rnd = share["rnd"]
            try:
                while take_op():
                    time.sleep(rnd.uniform(*PACE))   # spread the operations over the chaos
                    with lock:
                        mine = [b for b, s in backup_share.items() if s == share["id"]]
                    usable = [b for b in mine if (shown := api.backup(b)) and shown["status"] == "available"]
                    roll = rnd.random()
                    if usable and roll < 0.22:
                        if not restore_once(share, rnd.choice(usable)):
                            return
                    elif (len(usable) >= 2 and ops["delete"] < MAX_DELETES and counter["started"] > OPERATIONS / 2
                          and (roll < 0.45 or counter["started"] > OPERATIONS * 0.75)):
                        delete_once(usable[0])
                    else:
                        backup_once(share)
            except Exception as exc:  # noqa: BLE001 - reported below, after the cleanup of the run
                problems.append(f"operations on share {share['id']} stopped: {type(exc).__name__}: {exc}")

        def running_gc() -> list[dict]:
            """The gc job of the S3 repository, while its worker is alive (not gc of the empty default)."""
            return db.rows("SELECT id, kind FROM jobs WHERE state = 'running' AND kind LIKE '%gc%' "
                           "AND resource_id = :r AND lease_expires_at > (now() AT TIME ZONE 'utc')", r=REPOSITORY)

        def gc_holder_pids() -> set[int]:
            """Processes holding the repository's gc lease (holder `gc:host:pid:id`) or the engine's gc lock."""
            pids = {pid for pid, purposes in locks.holders().items() if "gc" in purposes}
            for row in db.rows("SELECT holder FROM repository_leases WHERE holder IS NOT NULL "
                               "AND expires_at > (now() AT TIME ZONE 'utc')"):
                parts = row["holder"].split(":")
                if len(parts) >= 3 and parts[2].isdigit():
                    pids.add(int(parts[2]))
            return pids

        def live_running() -> list[dict]:
            """Running jobs whose lease has not run out (their worker is alive, as far as the database knows)."""
            return db.rows("SELECT id, kind, resource_id, lease_owner, attempts, lease_expires_at, "
                           "(now() AT TIME ZONE 'utc') AS db_now FROM jobs WHERE state = 'running' "
                           "AND lease_expires_at > (now() AT TIME ZONE 'utc')")

        def kill_worker(victim: Proc, crnd: random.Random, aimed: str) -> None:
            """SIGKILL the worker, note what it ran (resolved later, see `resolve`), restart it."""
            if victim.alive():
                gc_now = running_gc() if with_gc else []
                victim.kill()
                label = f"{victim.name}:{victim.pids[-1]}"
                kills.append(label)
                if gc_now:
                    gc_kills.append(f"{label} during {gc_now[0]['kind']} {gc_now[0]['id']}")
                # every live lease now: the victim's jobs are those among them that are never renewed
                # again (or that another worker takes over once their lease ran out)
                after = [r for r in live_running()
                         if (r["id"], r["lease_owner"], r["lease_expires_at"]) not in seen_rows]
                seen_rows.update((r["id"], r["lease_owner"], r["lease_expires_at"]) for r in after)
                victims.append({"victim": label, "aimed": aimed, "after": after, "doing": None,
                                "elapsed": time.monotonic() - started})
            time.sleep(crnd.uniform(0.0, 2.0))
            victim.start()

        def resolve(final: bool = False) -> None:
            """What each killed worker was running: a job alive in the snapshot taken right after the
            kill is the victim's when, once its lease ran out, it is still running under the same owner
            and lease (never renewed) or another owner has it (taken over). A job its owner renewed or
            finished belonged to a living worker. (A job's runner never hands it back while it lives.)"""
            for record in victims:
                if record["doing"] is not None or not record["after"]:
                    if record["doing"] is None:
                        record["doing"] = []
                    continue
                ids = [r["id"] for r in record["after"]]
                now_rows = {r["id"]: r for r in db.rows(
                    "SELECT id, state, lease_owner, attempts, lease_expires_at, (now() AT TIME ZONE 'utc') AS db_now "
                    "FROM jobs WHERE id = ANY(:ids)", ids=ids)}
                db_now = next(iter(now_rows.values()))["db_now"] if now_rows else None
                latest = max(r["lease_expires_at"] for r in record["after"])
                if not final and (db_now is None or db_now < latest + _dt.timedelta(seconds=0.5)):
                    continue   # not yet: a living owner renews before its lease runs out
                doing = []
                for before in record["after"]:
                    now = now_rows.get(before["id"])
                    if now is None:
                        continue
                    unrenewed = (now["state"] == "running" and now["lease_owner"] == before["lease_owner"]
                                 and now["lease_expires_at"] == before["lease_expires_at"])
                    taken_over = now["lease_owner"] not in (None, before["lease_owner"])
                    if unrenewed or taken_over:
                        doing.append(f"{before['kind']} {before['id'][:8]} (attempt {before['attempts']})")
                record["doing"] = doing

        def activity(record: dict) -> str:
            """create, restore, delete, gc (the first of them the victim ran), idle; pending: not resolved yet."""
            if record["doing"] is None:
                return "pending"
            for kind, name in (("share_backup.create", "create"), ("share_backup.restore", "restore"),
                               ("share_backup.delete", "delete"), ("gc", "gc")):
                if any(kind in d.split()[0] for d in record["doing"]):
                    return name
            return "idle" if not record["doing"] else "other"

        def kills_in(*names: str) -> int:
            return sum(1 for r in victims if activity(r) in names)

        def kill_api(crnd: random.Random, threads: list[threading.Thread], kind: str) -> None:
            """SIGKILL one API process a few ms after a create, restore or delete (`kind`, or any of
            them when none of that kind comes for a while) was sent to it, then start it again on the
            same port."""
            index = crnd.randrange(len(apis))
            proc, fired = apis[index], threading.Event()
            in_flight: list[str] = []

            def killer(what: str) -> None:
                in_flight[:] = [what] + [r for r in api.in_flight(index) if r != what]
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                fired.set()

            api.arm(index, killer, MUTATION_KINDS[kind])
            deadline = time.monotonic() + 20.0
            while not fired.wait(0.2):
                if time.monotonic() > deadline - 10.0:
                    api.arm(index, killer)   # any create, restore or delete will do
                if time.monotonic() > deadline or not any(t.is_alive() for t in threads):
                    break
            api.disarm()
            if not fired.is_set():   # no create, restore or delete came: kill it with whatever is in flight
                in_flight[:] = ["(no create/restore/delete came)"] + api.in_flight(index)
            proc.kill()   # (again, when the killer fired: harmless) and reap it
            api_kills.append(f"{proc.name}:{proc.pids[-1]} in flight: {in_flight}")
            time.sleep(crnd.uniform(0.2, 2.0))   # meanwhile every request goes to the other one
            proc.start()
            restarting.append((proc, ports[index], time.monotonic()))

        def restarted_apis(wait: bool) -> None:
            """An API started again must answer within RESTART_WAIT; the chaos goes on meanwhile (the
            other API serves) and looks again at its next round, or waits here once it is over."""
            for entry in list(restarting):
                proc, port, since = entry
                left = RESTART_WAIT - (time.monotonic() - since)
                if poll(lambda: answering(proc, port), max(0.0, left) if wait else 0.0, 0.2):
                    restarting.remove(entry)
                elif left <= 0:
                    restarting.remove(entry)
                    problems.append(f"{proc.name} did not answer on port {port} {RESTART_WAIT:.0f}s after its restart")

        def sampler() -> None:
            """How long share_backup jobs run (seen running every 0.1 s): for the kill moments and the report."""
            while not sampling_done.is_set():
                try:
                    rows = db.rows("SELECT id, kind, attempts FROM jobs WHERE state = 'running' "
                                   "AND kind LIKE 'share_backup.%' AND lease_expires_at > (now() AT TIME ZONE 'utc')")
                except Exception:  # noqa: BLE001 - only statistics
                    rows = []
                now = time.monotonic()
                with lock:
                    for r in rows:
                        seen = job_seen.setdefault((r["id"], r["attempts"]), [r["kind"], now, now])
                        seen[2] = now
                sampling_done.wait(0.1)

        def durations(kind: str) -> list[float]:
            with lock:
                return sorted(last - first + 0.1 for k, first, last in job_seen.values() if k == kind)

        def typical(kind: str) -> float:
            """The median run of a job of this kind so far (those held for gc, ~0 s, left out)."""
            runs = [d for d in durations(kind) if d > 0.25]
            return runs[len(runs) // 2] if runs else 0.5

        def busy_workers_now() -> tuple[list[dict], list[Proc]]:
            running = [r for r in live_running() if r["kind"].startswith("share_backup.")]
            if not running:
                return [], []
            held = {pid: purposes for pid, purposes in locks.holders().items() if purposes - {"gc"}}
            return running, [w for w in workers if busy_in(w, state, held)]

        def chaos(threads: list[threading.Thread]) -> None:
            """In the main thread: the processes' parent-death signal follows the thread that started them."""
            crnd = random.Random(seed ^ 0x5EED)
            deadline = started + CHAOS_SECONDS
            api_kill_at = [round(OPERATIONS * (k + 1) / (API_KILLS + 2)) for k in range(API_KILLS)]
            while time.monotonic() < deadline:
                resolve()
                restarted_apis(wait=False)
                in_jobs = kills_in("create", "restore")
                in_gc = kills_in("gc")
                pending = {aim: sum(1 for r in victims if r["aimed"] == aim and r["doing"] is None)
                           for aim in ("job", "gc")}
                wanted = (len(kills) < MIN_KILLS or len(api_kills) < API_KILLS or in_jobs < MIN_JOB_KILLS
                          or (with_gc and (len(gc_kills) < MIN_GC_KILLS or in_gc < MIN_GC_KILLS)))
                if in_jobs + pending["job"] < MIN_JOB_KILLS:   # (the pending ones resolve within a lease)
                    more_ops.set()
                else:
                    more_ops.clear()
                if not any(t.is_alive() for t in threads) and not wanted:
                    if all(r["doing"] is not None for r in victims):
                        return
                    time.sleep(0.5)   # the last kills are resolved once their leases ran out
                    continue
                # past the minimums, fewer kills: each kill of a gc lease holder holds the repository
                # until its lease runs out, and more kills would only make the operations take longer
                enough = not wanted and len(kills) >= MIN_KILLS + 3
                time.sleep(crnd.uniform(3.0, 8.0) if enough else crnd.uniform(0.5, 2.5))
                if len(api_kills) < API_KILLS and (counter["started"] >= api_kill_at[len(api_kills)]
                                                   or not any(t.is_alive() for t in threads)):
                    restarted_apis(wait=True)   # never both APIs down at once
                    kill_api(crnd, threads, API_KILL_KINDS[len(api_kills) % len(API_KILL_KINDS)])
                    continue
                gc_hits = in_gc + pending["gc"]   # a gc kill holds the repository for a gc lease: few of them
                gc_first = with_gc and gc_hits < GC_KILL_TARGET and (
                    (gc_hits == 0 and len(kills) >= 4) or (gc_hits == 1 and len(kills) >= 8 and crnd.random() < 0.4))
                if gc_first:
                    # the worker running a gc job (it holds the gc lease), at a random moment of it;
                    # the next gc comes within one interval
                    if poll(running_gc, GC_INTERVAL + 4.0, 0.02):
                        time.sleep(crnd.uniform(0.0, 0.3))
                        in_gc_now = poll(lambda: [w for w in workers if w.alive() and w.popen.pid in gc_holder_pids()],
                                         1.0, 0.02)
                        chaos_log.append((-1, len(in_gc_now)))
                        if in_gc_now:   # (else the gc was over already: next round)
                            kill_worker(crnd.choice(in_gc_now), crnd, "gc")
                        continue
                # mostly a worker in the middle of a share_backup job (it holds a repository lock or has
                # files of a share open), at a random moment of the job; any worker when none comes
                wait_until = time.monotonic() + JOB_WAIT
                victim, aimed, seen_running = None, "any", 0
                while time.monotonic() < wait_until and victim is None:
                    if not any(t.is_alive() for t in threads) and not more_ops.is_set():
                        break
                    running, busy_workers = busy_workers_now()
                    seen_running = max(seen_running, len(running))
                    if not busy_workers:
                        time.sleep(0.02)
                        continue
                    job = crnd.choice(running)
                    # a random moment of the job: its typical length so far bounds the wait
                    time.sleep(crnd.uniform(0.0, min(1.5, 0.8 * typical(job["kind"]))))
                    running, busy_workers = busy_workers_now()
                    if busy_workers:   # still inside it (else the next one)
                        victim, aimed = crnd.choice(busy_workers), "job"
                        chaos_log.append((len(running), len(busy_workers)))
                if victim is None:
                    chaos_log.append((seen_running, 0))
                    victim = crnd.choice(workers)
                kill_worker(victim, crnd, aimed)

        threads = [threading.Thread(target=share_loop, args=(s,), name=f"ops-{i}", daemon=True)
                   for i, s in enumerate(shares)]
        for t in threads:
            t.start()
        sampling = threading.Thread(target=sampler, name="sampler", daemon=True)
        sampling.start()
        try:
            chaos(threads)
            restarted_apis(wait=True)
        finally:
            sampling_done.set()
        for t in threads:
            t.join(OP_WAIT + 15)
        assert not any(t.is_alive() for t in threads), f"operations still running after the chaos: {problems}"
        for proc in workers + apis:
            if not proc.alive():
                proc.start()
        chaos_end = time.monotonic()

        def slowest(op: str) -> str:
            """The longest wait of an operation, and why: its jobs (a job queued again while gc held the
            repository is a new row; a kill costs an attempt and a lease)."""
            if not waited[op]:
                return "none"
            seconds, backup_id = max(waited[op])
            rows = db.rows("SELECT state, attempts FROM jobs WHERE kind = :k AND resource_id = :r",
                           k=f"share_backup.{'create' if op == 'backup' else op}", r=backup_id)
            return (f"max {seconds:.1f}s ({backup_id[:8]}: {len(rows)} job rows, "
                    f"{sum(r['attempts'] for r in rows)} attempts)")

        def runs(kind: str) -> str:
            d = [x for x in durations(kind) if x > 0.25]
            return f"{len(d)} runs p50 {d[len(d) // 2]:.1f}s max {d[-1]:.1f}s" if d else "no runs seen"
        print(f"CHAOS: {len(kills)} worker SIGKILLs ({len(gc_kills)} during gc), {len(api_kills)} API SIGKILLs in "
              f"{chaos_end - started:.0f}s; operations {ops}; API calls per process {api.calls}, retried "
              f"{api.retried}, lost answers {lost}; (running jobs, busy workers) at each kill: {chaos_log}; "
              f"share_backup jobs seen running: create {runs('share_backup.create')}, restore "
              f"{runs('share_backup.restore')}, delete {runs('share_backup.delete')}; from the request to the "
              f"end of creating/restoring (OP_WAIT {OP_WAIT:.0f}s): backup {slowest('backup')}, "
              f"restore {slowest('restore')}", flush=True)
        for line in api_kills:
            print(f"API KILL {line}", flush=True)
        for line in gc_kills:
            print(f"GC KILL {line}", flush=True)

        # -- drain: no job queued or running (gc jobs keep coming every GC_INTERVAL: none may be
        # older than a few leases and their retry waits)
        def busy():
            return db.rows("SELECT id, kind, resource_id, state, attempts, not_before, last_error, payload "
                           "FROM jobs WHERE state IN ('queued', 'running') AND (kind NOT LIKE '%gc%' OR "
                           "created_at < (now() AT TIME ZONE 'utc') - make_interval(secs => :age))",
                           age=GC_STUCK_SECONDS)
        poll(lambda: not busy(), DRAIN_SECONDS, 0.5)
        still_busy = busy()
        resolve(final=True)   # every lease of a killed worker has run out by now
        for record in victims:
            print(f"WORKER KILL {record['victim']} at {record['elapsed']:.0f}s (aimed at: {record['aimed']}): "
                  f"{activity(record)} {record['doing']}", flush=True)
        print(f"DRAIN: {time.monotonic() - chaos_end:.0f}s", flush=True)

        # -- states
        backups = {r["id"]: r for r in db.rows(
            "SELECT id, share_id, status, deleted, fail_reason, size, engine_snapshot_id, backup_type, repository, "
            "display_name FROM share_backups WHERE project_id = :p", p=PROJECT)}
        share_rows = {r["id"]: r for r in db.rows(
            "SELECT id, status, deleted FROM shares WHERE project_id = :p", p=PROJECT)}
        jobs = db.rows("SELECT id, kind, resource_id, state, attempts, last_error, payload FROM jobs "
                       "WHERE kind LIKE 'share_backup.%'")
        gc_jobs = db.rows("SELECT id, kind, resource_id, state, attempts, last_error FROM jobs WHERE kind LIKE '%gc%'")
        other_repository = [f"{b['id']}: backup_type={b['backup_type']!r} repository={b['repository']!r}"
                            for b in backups.values()
                            if b["backup_type"] != REPOSITORY or b["repository"] not in (None, REPOSITORY)]
        create_jobs = {j["resource_id"] for j in jobs if j["kind"] == "share_backup.create"}
        jobless = sorted(set(backups) - create_jobs)
        names: dict[str, list[str]] = {}
        for b in backups.values():
            names.setdefault(b["display_name"], []).append(b["id"])
        doubled = {name: ids for name, ids in names.items() if len(ids) > 1}
        message_rows = db.rows("SELECT resource_id, user_message FROM messages WHERE project_id = :p", p=PROJECT)
        messages: dict[str, list[str]] = {}
        for m in message_rows:
            messages.setdefault(m["resource_id"], []).append(m["user_message"])

        stuck = [f"backup {b['id']} is {b['status']}" for b in backups.values()
                 if not b["deleted"] and b["status"] in TRANSITIONAL_BACKUP]
        stuck += [f"share {s['id']} is {s['status']}" for s in share_rows.values()
                  if not s["deleted"] and s["status"] in TRANSITIONAL_SHARE]
        stuck += [f"job {j['id']} ({j['kind']} of {j['resource_id']}) still {j['state']}, attempts "
                  f"{j['attempts']}, not_before {j['not_before']}, last_error {j['last_error']!r}"
                  for j in still_busy]

        unclean: list[str] = []
        failed_ops = 0
        for b in backups.values():
            if b["status"] == "error":
                failed_ops += 1
                if not b["fail_reason"] or not messages.get(b["id"]):
                    unclean.append(f"backup {b['id']} is error without fail_reason/message: "
                                   f"{b['fail_reason']!r} {messages.get(b['id'])}")
            if b["status"] == "error_deleting":
                failed_ops += 1
                if not messages.get(b["id"]):
                    unclean.append(f"backup {b['id']} is error_deleting without a user message")
        for s in share_rows.values():
            if s["status"] == "backup_restoring_error":
                failed_ops += 1
                if not messages.get(s["id"]):
                    unclean.append(f"share {s['id']} is backup_restoring_error without a user message")
        for j in jobs:
            if j["state"] == "failed":
                res = backups.get(j["resource_id"])
                if res is None or not j["last_error"]:
                    unclean.append(f"failed job {j['id']} ({j['kind']}) has no backup row or no last_error")
        for j in gc_jobs:
            if j["state"] == "failed" and not j["last_error"]:
                unclean.append(f"failed gc job {j['id']} ({j['kind']}) has no last_error")

        # -- every available backup restores byte for byte into a fresh share (2.91)
        corrupt: list[str] = []
        verified = []
        to_verify = sorted(b["id"] for b in backups.values() if not b["deleted"] and b["status"] == "available")
        missing_record = [b for b in to_verify if b not in recorded]
        assert not missing_record, f"available backups the test never created: {missing_record}"

        def verify(backup_id: str) -> None:
            try:
                target_id, target_root = create_share(api, f"fault-verify-{backup_id[:8]}")
                api.ok("POST", f"/share-backups/{backup_id}/action", {"restore": target_id})
                done = poll(lambda: (s := api.share(target_id))["status"] != "backup_restoring"
                            and api.backup(backup_id)["status"] != "restoring" and s, VERIFY_WAIT, 0.5)
                if not done:
                    corrupt.append(f"backup {backup_id}: the verification restore into {target_id} did not finish "
                                   f"in {VERIFY_WAIT}s")
                    return
                if done["status"] != "available":
                    corrupt.append(f"backup {backup_id}: the verification restore into {target_id} ended "
                                   f"{done['status']}: {messages_for(target_id)}")
                    return
                compare(recorded[backup_id], snapshot_tree(target_root), label=f"backup {backup_id}")
                verified.append(backup_id)
            except AssertionError as exc:
                corrupt.append(f"backup {backup_id}: {exc}")
            except Exception as exc:  # noqa: BLE001
                corrupt.append(f"backup {backup_id}: {type(exc).__name__}: {exc}")

        def messages_for(resource_id: str) -> list[str]:
            return [m["user_message"] for m in db.rows(
                "SELECT user_message FROM messages WHERE resource_id = :r", r=resource_id)]

        pending = list(to_verify)
        while pending:   # a few at a time: the workers have 6 threads
            batch, pending = pending[:6], pending[6:]
            vthreads = [threading.Thread(target=verify, args=(b,), daemon=True) for b in batch]
            for t in vthreads:
                t.start()
            for t in vthreads:
                t.join(VERIFY_WAIT + 120)

        verify_end = time.monotonic()
        # -- the repository itself
        # the repository by its configured name (`--name offsite --config ...`) when the CLI knows names
        repo_help = subprocess.run(sharebackup_command() + ["repo", "check", "--help"], cwd=home,
                                   env=isolated_env(home), capture_output=True, text=True, timeout=60).stdout
        repo_args = (["--name", REPOSITORY, "--config", str(conf_path)] if "--name" in repo_help
                     else ["--repo", repo_url])
        for _ in range(10):   # a forget or (every GC_INTERVAL) a gc may hold the exclusive lock for a moment
            check = subprocess.run(sharebackup_command() + ["repo", "check", *repo_args, "--read-data"],
                                   cwd=home, env=isolated_env(home), capture_output=True, text=True, timeout=300)
            if check.returncode == 0 or "repository is locked" not in check.stdout + check.stderr:
                break
            time.sleep(2)

        print(f"VERIFY: {len(to_verify)} restores in {verify_end - chaos_end:.0f}s after the chaos; repo check "
              f"{time.monotonic() - verify_end:.0f}s", flush=True)
        # -- quota usage equals the rows
        live = [b for b in backups.values() if not b["deleted"]]
        quota = api.ok("GET", f"/quota-sets/{PROJECT}/detail", version="2.80")["quota_set"]
        rows_now = [b for b in db.rows("SELECT size FROM share_backups WHERE project_id = :p AND NOT deleted",
                                       p=PROJECT)]
        quota_line = (f"backups in_use={quota['backups']['in_use']} rows={len(rows_now)}; backup_gigabytes "
                      f"in_use={quota['backup_gigabytes']['in_use']} rows={sum(r['size'] for r in rows_now)}")

        killed_pids = {int(k.split(":")[1]) for k in kills}
        stale_locks = []
        for lock_name, doc in locks.documents():
            if doc.get("pid") in killed_pids:
                stale_locks.append(f"{lock_name}: {doc.get('purpose')} lock of killed pid {doc.get('pid')}, "
                                   f"expires in {doc.get('expires', 0) - time.time():.0f}s")
        taken_over = sum(1 for j in jobs if j["attempts"] > 1)
        per_operation: dict[tuple[str, str], int] = {}
        for j in jobs:
            per_operation[(j["kind"], j["resource_id"])] = per_operation.get((j["kind"], j["resource_id"]), 0) + 1
        requeued = sum(n - 1 for n in per_operation.values())
        done_jobs = sum(1 for j in jobs if j["state"] == "done")
        failed_jobs = sum(1 for j in jobs if j["state"] == "failed")
        gc_line = "gc off (the service has no [backup] gc_interval_seconds)" if not gc_supported() else (
            "gc off (FAULT_GC=0)" if not with_gc else
            f"gc jobs {len(gc_jobs)} ({sum(1 for j in gc_jobs if j['resource_id'] == REPOSITORY)} of {REPOSITORY}): "
            + ", ".join(f"{n} {st}" for st, n in sorted(
                {st: sum(1 for j in gc_jobs if j['state'] == st) for st in {j['state'] for j in gc_jobs}}.items()))
            + f", {sum(1 for j in gc_jobs if j['attempts'] > 1)} taken over after a kill, "
            f"collected: {gc_collected(workers, 'snapshots_forgotten')} orphan snapshots forgotten, "
            f"{gc_collected(workers, 'packs_deleted')} packs deleted, {gc_collected(workers, 'packs_repacked')} "
            f"repacked, {gc_collected(workers, 'bytes_freed')} bytes freed")
        corrupt_count = len(corrupt) + sum("CORRUPT" in p for p in problems)
        victim_line = (", ".join(f"in-{name}={kills_in(name)}" for name in ("create", "restore", "delete", "gc"))
                       + f", idle={kills_in('idle')}" + (f", other={kills_in('other')}" if kills_in("other") else ""))
        gc_taken_over = sum(1 for j in gc_jobs if j["attempts"] > 1)
        summary = (f"FAULT TEST: repository=s3 kills={len(kills) + len(api_kills)} (workers={len(kills)}: "
                   f"{victim_line}; api={len(api_kills)}; during-gc={len(gc_kills)}) taken-over={taken_over} "
                   f"(+{gc_taken_over} gc) jobs={len(jobs)} done={done_jobs} "
                   f"failed={failed_jobs} stuck={len(stuck)} corrupt={corrupt_count} "
                   f"(operations: {ops['backup']} backups, {ops['restore']} in-place restores, {ops['delete']} "
                   f"deletes; {taken_over} jobs taken over after a kill, {requeued} queued again (repository held by gc "
                   f"or locked); API answers lost to a kill: "
                   f"{lost['committed']} committed, {lost['not_committed']} not; {gc_line}; {len(stale_locks)} "
                   f"repository locks left by killed workers; {failed_ops} ended in a failed state; "
                   f"{len(verified)}/{len(to_verify)} available backups restored identically; repo check exit "
                   f"{check.returncode} ({' '.join(repo_args[:2])}); {quota_line}; {time.monotonic() - started:.0f}s, seed {seed})")
        print(summary, flush=True)
        for line in stale_locks:
            print(f"STALE LOCK {line}", flush=True)
        for j in jobs + gc_jobs:
            if j["state"] == "failed":
                print(f"FAILED JOB {j['id']} {j['kind']} of {j['resource_id']} after {j['attempts']} attempts: "
                      f"{j['last_error']}", flush=True)
        for b in backups.values():
            if b["status"] in ("error", "error_deleting"):
                print(f"FAILED BACKUP {b['id']} {b['status']}: fail_reason={b['fail_reason']!r} "
                      f"messages={messages.get(b['id'])}", flush=True)
        for sh in share_rows.values():
            if sh["status"] == "backup_restoring_error":
                print(f"FAILED RESTORE into share {sh['id']}: messages={messages.get(sh['id'])}", flush=True)

        def log_evidence(ids: list[str], limit: int | None = 40) -> str:
            lines = []
            for ident in ids:
                for proc in apis + workers:
                    lines += [line for line in proc.log_lines(ident, 40) if "sharebackup.access" not in line][-6:]
            return "\n".join(lines[-limit:] if limit else lines)

        assert len(kills) >= MIN_KILLS, f"only {len(kills)} kills: {kills}"
        kill_lines = "\n".join(f"{r['victim']} (aimed at {r['aimed']}): {activity(r)} {r['doing']}" for r in victims)
        assert kills_in("create", "restore") >= MIN_JOB_KILLS, \
            f"only {kills_in('create', 'restore')} worker kills inside a running backup or restore:\n{kill_lines}"
        assert taken_over >= 1, f"no share_backup job was taken over after a kill:\n{kill_lines}"
        assert len(api_kills) >= API_KILLS, f"only {len(api_kills)} API kills: {api_kills}"
        if with_gc:
            assert any(j["resource_id"] == REPOSITORY and j["state"] == "done" for j in gc_jobs), \
                f"automatic gc is on but no gc of {REPOSITORY} ever finished: {gc_jobs}"
            assert len(gc_kills) >= MIN_GC_KILLS, f"no worker was killed while a gc job was running: {gc_kills}"
            assert kills_in("gc") >= MIN_GC_KILLS, f"no worker was killed inside a gc job:\n{kill_lines}"
        assert not problems, "during the run:\n" + "\n".join(problems)
        assert not other_repository, f"backups that did not go to the {REPOSITORY} repository: {other_repository}"
        assert not jobless, f"backup rows without their create job (a half-done request): {jobless}"
        assert not doubled, f"one create made several backups: {doubled}"
        assert not corrupt, "\n".join(corrupt) + "\n" + log_evidence([c.split()[1].rstrip(":") for c in corrupt])
        assert check.returncode == 0, f"repo check failed:\n{check.stdout[-3000:]}\n{check.stderr[-3000:]}"
        assert quota["backups"]["in_use"] == len(rows_now) == len(live), quota_line
        assert quota["backup_gigabytes"]["in_use"] == sum(r["size"] for r in rows_now), quota_line
        assert not unclean, "\n".join(unclean)
        evidence = log_evidence([s.split()[1] if s.startswith("backup ") else s.split()[4].rstrip(")")
                                 for s in stuck], limit=None)
        assert not stuck, summary + "\nstuck:\n" + "\n".join(stuck) + "\n" + "\n".join(evidence.splitlines()[-40:])
        assert sum(1 for j in jobs if j["state"] not in ("done", "failed")) == 0
    finally:
        for proc in workers + apis:
            proc.stop()
        if db is not None:
            db.dispose()
        drop_pg_database(db_url)
        if os.environ.get("FAULT_KEEP_LOGS"):
            dest = Path(os.environ["FAULT_KEEP_LOGS"])
            dest.mkdir(parents=True, exist_ok=True)
            for log in logs.glob("*.log"):
                shutil.copy(log, dest / log.name)
