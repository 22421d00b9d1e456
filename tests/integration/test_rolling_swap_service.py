"""Issue 16, live and through the whole job path: a tenant flips directories of their shares for
symlinks to a host directory while the real service backs up and restores those shares.

`sharebackup serve` (tokens auth, six in-process worker threads) runs as a process; everything
goes through its API (plain HTTP, the admin token, microversion 2.91), so a backup or restore
travels API -> job queue -> worker -> engine -> share directory. The service runs as the test's
user (root where this was written), who owns the host directory: no permission keeps the service
out of it, only the engine's care.

- The host directory is outside the state directory, mode 0700, its files 0600 and full of SECRET,
  under the same names as the shares' files (f00.., deeper/f00, the hard link's second name), so a
  path that resolves through a tenant's symlink lands on a host file of the name it looked for.
  Its fingerprint (names, types, modes, owners, link counts, sizes, mtimes, ctimes, content) is
  taken before anything runs.
- Three shares, each 8 directories x 12 files (+ deeper/f00), and a hard-link pair across two
  directories.
- A flipper thread, bounded (an Event and MAX_FLIPS), loops: a random directory of a random share
  is renamed aside, a symlink to the host takes its name for up to HOLD seconds, the symlink goes,
  the directory comes back. Meanwhile, ROUNDS times: one backup per share (three at once), each waited for until it
  is available or error; then each available backup restored into its own share (three at once),
  each waited for until the share is available or backup_restoring_error.
- After each round no host file has a second name (read on the host side only). Then, the flipper
  stopped: the host fingerprint is unchanged; no regular file of any share is a hard link to a
  host inode; every job ended in a final state, each failure with a user
  message; and every available backup, restored into a fresh share, holds no SECRET (nor a link
  to a host inode).

A restore that meets a symlink where its snapshot has a directory refuses it and fails (the share
goes to backup_restoring_error with a message): that is the tenant's doing and a clear end, so the
test counts it and resets the share (as an operator would) for the next round.

The server runs the `sharebackup` package this test imported (PYTHONPATH is handed to it and
checked), so the file can be run against another checkout: `PYTHONPATH=<checkout>`.

Run with `-s` for the summary line ("ROLLING SWAP (service): ...").
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import sharebackup
from tests.integration.server_process import ServerProcess, isolated_env, sharebackup_command, wait_for
from tests.integration.test_backup_lifecycle import api_get, unique

pytestmark = pytest.mark.slow(seconds=15)

SECRET = b"HOST-SECRET-issue16-rolling-swap"
DIRS = [f"d{i}" for i in range(8)]
FILES = [f"f{i:02d}" for i in range(12)]
LINK = "link-to-d0-f00"     # the hard link's second name, in the last directory
SHARES = 3
ROUNDS = 3                  # backup + restore rounds under the flipper: more exposure
WORKERS = 6                 # three backups (or restores) at once, and share jobs beside them
WAIT = 90.0                 # bound of every wait for a job: a job that takes longer is stuck
MAX_FLIPS = 2_000_000       # the flipper's own bound, should the Event never come
HOLD = 0.002                # seconds a symlink stays in place, at most (uniform)
VERSION = "2.91"


# -- HTTP ----------------------------------------------------------------------------------------

def call(server, token: str, method: str, path: str, body=None) -> tuple[int, dict]:
    """One request with a JSON body (api_get covers plain GETs)."""
    req = urllib.request.Request(server.endpoint + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(), headers={
                                     "X-Auth-Token": token, "Accept": "application/json",
                                     "Content-Type": "application/json",
                                     "X-OpenStack-Manila-API-Version": VERSION})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def ok(server, token, method, path, body=None) -> dict:
    status, answer = call(server, token, method, path, body)
    assert status in (200, 202), f"{method} {path} -> {status}: {answer}"
    return answer


def get(server, token, path) -> dict:
    status, answer = api_get(server, token, path, VERSION)
    assert status == 200, f"GET {path} -> {status}: {answer}"
    return answer


def share_of(server, token, share_id) -> dict:
    return get(server, token, f"/shares/{share_id}")["share"]


def backup_of(server, token, backup_id) -> dict:
    return get(server, token, f"/share-backups/{backup_id}")["share_backup"]


def messages_of(server, token, resource_id, level=None) -> list[dict]:
    query = f"/messages?resource_id={resource_id}" + (f"&message_level={level}" if level else "")
    return get(server, token, query)["messages"]


def wait_state(fetch, final: tuple[str, ...], what: str) -> dict:
    """Poll until the resource is in one of the `final` states; fail (stuck) after WAIT."""
    return wait_for(lambda: (row := fetch())["status"] in final and row, timeout=WAIT, interval=0.2,
                    what=f"{what} to reach one of {final}")


def create_shares(server, token, count: int, label: str) -> list[tuple[str, Path]]:
    """`count` new shares (created at once), each with its directory (the export location)."""
    ids = [ok(server, token, "POST", "/shares", {"share": {"share_proto": "NFS", "size": 1,
                                                           "name": unique(label)}})["share"]["id"]
           for _ in range(count)]
    out = []
    for share_id in ids:
        shown = wait_state(lambda: share_of(server, token, share_id), ("available", "error"), f"share {share_id}")
        assert shown["status"] == "available", shown
        exports = get(server, token, f"/shares/{share_id}/export_locations")["export_locations"]
        path = Path(exports[0]["path"])
        assert path.is_dir() and server.state_dir in path.parents, exports
        out.append((share_id, path))
    return out


# -- the server runs the code under test ---------------------------------------------------------

def code_root() -> Path:
    """The checkout whose `sharebackup` this test imported."""
    return Path(sharebackup.__file__).resolve().parents[1]


def assert_server_imports(root: Path, env: dict[str, str], home: Path) -> str:
    """The console script runs under the venv's interpreter (its #! line), whose editable install
    points at one checkout; PYTHONPATH comes first on sys.path. Ask that interpreter, with the
    server's environment, which `sharebackup` it imports, so a run against another checkout
    cannot silently test this one."""
    cmd = sharebackup_command()
    python = cmd[0]
    if cmd[0] != sys.executable:
        with open(cmd[0], "rb") as fh:
            first = fh.readline()
        python = first[2:].decode().split()[0] if first.startswith(b"#!") else sys.executable
    found = subprocess.run([python, "-c", "import sharebackup; print(sharebackup.__file__)"], cwd=home,
                           env=isolated_env(home, env), capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    imported = Path(found.stdout.strip()).resolve()
    assert root in imported.parents, f"the server would import {imported}, not the code under test in {root}"
    return str(imported.parent)


# -- trees ---------------------------------------------------------------------------------------

def fill_share(root: Path, label: str) -> None:
    for d in DIRS:
        (root / d / "deeper").mkdir(parents=True)
        for f in FILES:
            (root / d / f).write_bytes(f"{label}/{d}/{f} tenant data\n".encode() * 40)
        (root / d / "deeper" / FILES[0]).write_bytes(f"{label}/{d}/deeper tenant data\n".encode())
    os.link(root / DIRS[0] / FILES[0], root / DIRS[-1] / LINK)   # a hard-link group across directories


def make_host(host: Path) -> None:
    """Host files under every file name the shares have, so a followed link finds one to read or write."""
    (host / "deeper").mkdir(parents=True)
    for rel in FILES + [LINK, f"deeper/{FILES[0]}"]:
        (host / rel).write_bytes(SECRET * 16)
        (host / rel).chmod(0o600)
    (host / "deeper").chmod(0o700)
    host.chmod(0o700)


def entries(root: Path) -> list[str]:
    """root and every path below it, symlinks not followed."""
    out = [str(root)]
    for dirpath, dirnames, filenames in os.walk(root):
        out += [os.path.join(dirpath, name) for name in dirnames + filenames]
    return sorted(out)


def fingerprint(root: Path) -> dict[str, dict]:
    """Everything a write, chmod, chown, link or unlink through a followed symlink would change.
    ctime too: a hard link made and removed again leaves the link count as it was, not the ctime."""
    out = {}
    for path in entries(root):
        st = os.lstat(path)
        item = {"mode": stat.filemode(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "nlink": st.st_nlink,
                "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}
        if stat.S_ISREG(st.st_mode):
            item["sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            item["target"] = os.readlink(path)
        out[os.path.relpath(path, root)] = item
    return out


def differences(before: dict[str, dict], after: dict[str, dict]) -> dict[str, object]:
    """Per path: what appeared, went, or which fields changed (before, after)."""
    out = {}
    for rel in sorted(set(before) | set(after)):
        old, new = before.get(rel), after.get(rel)
        if old is None or new is None:
            out[rel] = "appeared" if old is None else "went away"
        elif old != new:
            out[rel] = {key: (old.get(key), new.get(key)) for key in old if old.get(key) != new.get(key)}
    return out


def regular_files(root: Path):
    for path in entries(root):
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            yield path, st


def host_links(root: Path, host_inodes: set[tuple[int, int]]) -> list[str]:
    return [path for path, st in regular_files(root) if (st.st_dev, st.st_ino) in host_inodes]


def holding_secret(root: Path) -> list[str]:
    out = []
    for path, _st in regular_files(root):
        with open(path, "rb") as fh:
            if SECRET in fh.read():
                out.append(path)
    return out


class Flipper(threading.Thread):
    """The tenant: swaps a directory for a symlink to the host and back, over and over."""

    def __init__(self, roots: list[Path], host: Path):
        super().__init__(daemon=True, name="flipper")
        self.roots, self.host = [str(r) for r in roots], str(host)
        self.stop = threading.Event()
        self.flips = self.tries = self.missed = self.stranded = 0
        self.rng = random.Random()

    def run(self) -> None:
        while not self.stop.is_set() and self.flips < MAX_FLIPS:
            root = self.rng.choice(self.roots)
            path = os.path.join(root, self.rng.choice(DIRS))
            # a fresh aside name each time: a directory stranded by an earlier flip does not stop this one
            self.tries += 1
            aside = f"{path}.flip{self.tries}"
            try:
                os.rename(path, aside)
            except OSError:
                self.missed += 1   # the name is gone for now (a restore is recreating it, or stranded)
                continue
            try:
                os.symlink(self.host, path)
                self.flips += 1
                # hold the symlink a moment, as a tenant would: a window a path resolved now falls into
                time.sleep(self.rng.uniform(0, HOLD))
                os.unlink(path)
            except OSError:
                pass               # a restore made the name again in between: leave what it made
            finally:
                try:
                    os.rename(aside, path)
                except OSError:
                    self.stranded += 1   # a restore filled the name meanwhile: the tenant's old copy stays aside


# -- the test ------------------------------------------------------------------------------------

def test_rolling_swap_during_backups_and_restores_through_the_service(tmp_path):
    root = code_root()
    env = {"PYTHONPATH": str(root)}
    server = ServerProcess(tmp_path / "state", auth="tokens", workers=WORKERS, env=env)
    code = assert_server_imports(root, env, tmp_path / "probe-home")

    host = tmp_path / "host"
    make_host(host)
    before = fingerprint(host)
    host_inodes = {(st.st_dev, st.st_ino) for _path, st in regular_files(host)}

    counts = {"available": 0, "error": 0, "warnings": 0, "restored": 0, "restore_failed": 0}
    backups: list[str] = []
    extra_links: list[tuple[int, str, int]] = []
    with server:
        token = server.admin_token
        shares = create_shares(server, token, SHARES, "swap")
        for i, (_sid, path) in enumerate(shares):
            fill_share(path, f"share{i}")
        flipper = Flipper([path for _sid, path in shares], host)
        flipper.start()
        try:
            for round_ in range(ROUNDS):
                created = [ok(server, token, "POST", "/share-backups", {"share_backup": {
                    "share_id": sid, "name": unique(f"r{round_}")}})["share_backup"]["id"] for sid, _ in shares]
                backups += created
                restorable = []
                for (sid, _path), bid in zip(shares, created):
                    shown = wait_state(lambda: backup_of(server, token, bid), ("available", "error"), f"backup {bid}")
                    counts[shown["status"]] += 1
                    if shown["status"] == "error":
                        assert messages_of(server, token, bid, "ERROR"), f"backup {bid} failed without a message"
                    else:
                        counts["warnings"] += len(messages_of(server, token, bid, "WARNING"))
                        restorable.append((sid, bid))
                    # the backup's end releases its share in the same transaction
                    assert share_of(server, token, sid)["status"] == "available", share_of(server, token, sid)

                seen = {sid: {m["id"] for m in messages_of(server, token, sid)} for sid, _ in restorable}
                for sid, bid in restorable:
                    ok(server, token, "POST", f"/share-backups/{bid}/action", {"restore": None})
                for sid, bid in restorable:
                    shown = wait_state(lambda: share_of(server, token, sid), ("available", "backup_restoring_error"),
                                       f"share {sid} restored from {bid}")
                    assert backup_of(server, token, bid)["status"] == "available", backup_of(server, token, bid)
                    if shown["status"] == "available":
                        counts["restored"] += 1
                        continue
                    counts["restore_failed"] += 1
                    new = [m for m in messages_of(server, token, sid, "ERROR") if m["id"] not in seen[sid]]
                    assert new, f"the restore of {bid} into {sid} failed without a message"
                    # the tenant's swap made it fail, which the message says; an operator resets the share
                    ok(server, token, "POST", f"/shares/{sid}/action", {"reset_status": {"status": "available"}})
                # A host file with a second name is linked from somewhere (a share, most likely). Looked at
                # after each round because a later restore may replace that name again; only the host is
                # read here, as a walk of the shares would itself follow the flipper's symlinks.
                extra_links += [(round_, os.path.relpath(p, host), st.st_nlink)
                                for p, st in regular_files(host) if st.st_nlink != 1]
        finally:
            flipper.stop.set()
            flipper.join(10)
        assert not flipper.is_alive(), "the flipper did not stop"
        assert flipper.flips > 0, "the flipper never flipped"

        # -- every job ended (each failure with its message, checked above); the shares are usable
        final = {bid: backup_of(server, token, bid) for bid in backups}
        assert all(b["status"] in ("available", "error") for b in final.values()), final
        states = {sid: share_of(server, token, sid)["status"] for sid, _ in shares}
        assert set(states.values()) == {"available"}, states

        # -- nothing reached the host: every finding is collected, so one run shows all the ways it did
        findings = []
        for _sid, path in shares:
            linked = host_links(path, host_inodes)
            if linked:
                findings.append(f"share files that are hard links to host files: {linked}")
        findings += [f"host file {rel} had {n} links after round {r}" for r, rel, n in extra_links]
        after = fingerprint(host)
        changed = differences(before, after)
        if changed:
            findings.append(f"the host directory changed (field: before, after): {json.dumps(changed)}")

        # -- and no backup holds host data: each available one, restored (no tenant at work now) into a
        # fresh share, holds only tenant files
        good = [bid for bid, b in final.items() if b["status"] == "available"]
        fresh = create_shares(server, token, len(good), "verify")
        for bid, (sid, _path) in zip(good, fresh):
            ok(server, token, "POST", f"/share-backups/{bid}/action", {"restore": sid})
        leaked = 0
        for bid, (sid, path) in zip(good, fresh):
            shown = wait_state(lambda: share_of(server, token, sid), ("available", "backup_restoring_error"),
                               f"verification restore of {bid} into {sid}")
            assert shown["status"] == "available", (shown, messages_of(server, token, sid))
            found = holding_secret(path) + host_links(path, host_inodes)
            if found:
                leaked += 1
                findings.append(f"backup {bid} holds host data: {[os.path.relpath(p, path) for p in found]}")
        share_links = sum(len(host_links(path, host_inodes)) for _sid, path in shares)
        # the line is printed whatever the findings, so a failing run also says what ran
        print(f"ROLLING SWAP (service): code={code} flips={flipper.flips} (missed={flipper.missed}, "
              f"stranded={flipper.stranded}) rounds={ROUNDS} backups available={counts['available']} "
              f"error={counts['error']} warnings={counts['warnings']} restores done={counts['restored']} "
              f"failed={counts['restore_failed']} verified={len(good)} host={'changed' if changed else 'unchanged'} "
              f"host-links={share_links} (linked host files seen after a round: {len(extra_links)}) "
              f"backups-with-host-data={leaked}", flush=True)
        assert not findings, "\n".join(findings)
