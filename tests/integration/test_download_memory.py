"""A 1 GiB file downloads from a backup with the server's memory bounded: its RSS grows by less
than 64 MB while the whole file streams through GET /sharebackup/v1/share-backups/{id}/content
(a real `sharebackup serve` process, noauth). A download broken off after 300 MB and resumed
with `Range: bytes=N-` (and If-Range) gives the whole file, byte for byte.

Scale tier (make test-scale): writing, backing up and reading 1 GiB takes about a minute.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.server_process import ServerProcess

pytestmark = pytest.mark.scale

MiB = 1 << 20
SIZE = 1024 * MiB
HEADERS = {"X-Auth-Token": "dora:dlproj", "X-OpenStack-Manila-API-Version": "2.91",
           "Content-Type": "application/json"}


def _call(server, method: str, path: str, body=None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method=method, headers=HEADERS,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read()
    return json.loads(text) if text else {}


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return value


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _write_big_file(path: Path) -> str:
    """1 GiB of incompressible, non-repeating bytes (so no chunk deduplicates); its sha256."""
    digest = hashlib.sha256()
    seed = os.urandom(32)
    with open(path, "wb") as out:
        for i in range(SIZE // MiB):
            block = hashlib.shake_256(seed + i.to_bytes(8, "big")).digest(MiB)
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _download(server, url: str, headers: dict, stop_after: int | None, pid: int) -> tuple[bytes, int, int]:
    """(sha256 state as bytes read, bytes read, highest RSS seen) reading 1 MiB at a time."""
    request = urllib.request.Request(url, headers={**HEADERS, **headers})
    peak, count, digest = 0, 0, hashlib.sha256()
    with urllib.request.urlopen(request, timeout=120) as answer:
        while True:
            piece = answer.read(MiB)
            if not piece:
                break
            digest.update(piece)
            count += len(piece)
            if count % (32 * MiB) < MiB:
                peak = max(peak, _rss(pid))
            if stop_after is not None and count >= stop_after:
                break
    return digest, count, peak


def test_a_1_gib_download_keeps_the_server_small_and_resumes_with_range(tmp_path):
    with ServerProcess(tmp_path / "state", auth="noauth") as server:
        pid = server.proc.pid
        share = _call(server, "POST", "/v2/shares", {"share": {"share_proto": "NFS", "size": 2, "name": "dl"}})["share"]
        _wait(lambda: _call(server, "GET", f"/v2/shares/{share['id']}")["share"]["status"] == "available", 60,
              "the share")
        root = Path(_call(server, "GET", f"/v2/shares/{share['id']}/export_locations")["export_locations"][0]["path"])
        expected = _write_big_file(root / "big.bin")
        backup = _call(server, "POST", "/v2/share-backups",
                       {"share_backup": {"share_id": share["id"], "name": "big"}})["share_backup"]
        _wait(lambda: _call(server, "GET", f"/v2/share-backups/{backup['id']}")["share_backup"]["status"]
              == "available", 600, "the backup")
        url = f"http://127.0.0.1:{server.port}/sharebackup/v1/share-backups/{backup['id']}/content?path=/big.bin"
        stat = _call(server, "GET", f"/sharebackup/v1/share-backups/{backup['id']}/files/stat?path=/big.bin")
        assert stat["file"]["size"] == SIZE  # the repository is open (its index loaded) from here on
        before = _rss(pid)
        digest, count, peak = _download(server, url, {}, None, pid)
        assert count == SIZE and digest.hexdigest() == expected
        growth = peak - before
        print(f"DOWNLOAD 1 GiB: server RSS {before / MiB:.1f} MiB before, peak {peak / MiB:.1f} MiB "
              f"(+{growth / MiB:.1f} MiB)")
        assert growth < 64 * 1000 * 1000, f"the server grew by {growth / MiB:.1f} MiB"

        first = urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS), timeout=120)
        etag = first.headers["ETag"]
        head = hashlib.sha256()
        got = 0
        while got < 300 * MiB:
            piece = first.read(MiB)
            head.update(piece)
            got += len(piece)
        first.close()  # broken off
        rest, count, _ = _download(server, url, {"Range": f"bytes={got}-", "If-Range": etag}, None, pid)
        assert got + count == SIZE
        whole = hashlib.sha256()
        with open(root / "big.bin", "rb") as source:
            assert hashlib.file_digest(source, "sha256").hexdigest() == expected
        # the two parts are the file: hash the source's parts and compare with what came
        with open(root / "big.bin", "rb") as source:
            whole.update(source.read(got))
            assert whole.hexdigest() == head.hexdigest()
            tail = hashlib.sha256(source.read())
        assert tail.hexdigest() == rest.hexdigest()
