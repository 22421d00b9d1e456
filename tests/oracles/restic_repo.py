"""A restic repository for oracle tests, made fast.

restic calibrates its key derivation (scrypt) to about half a second, and pays it on every
command: 300 `restic backup` runs would take minutes. `cheapen_key` rewraps the repository's
master key under the same password with a tiny scrypt cost, using restic's documented key
format (doc/design.rst, "Keys, Encryption and MAC"): a key file holds scrypt parameters and
`data` = IV || AES-256-CTR(master key JSON) || Poly1305-AES MAC of the ciphertext. Only the
key file changes; what restic computes (snapshots, forget) is restic's own. `backup_at_times`
makes many snapshots side by side without restic's lock races (see there).
"""
from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import json
import os
import pathlib
import shutil
import subprocess

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.poly1305 import Poly1305

CHEAP = {"N": 1024, "r": 8, "p": 1}


def restic_binary() -> str | None:
    return shutil.which("restic")


def _user_key(password: bytes, doc: dict) -> tuple[bytes, bytes, bytes]:
    derived = hashlib.scrypt(password, salt=base64.b64decode(doc["salt"]), n=doc["N"], r=doc["r"], p=doc["p"],
                             maxmem=1 << 30, dklen=64)
    return derived[:32], derived[32:48], derived[48:64]  # AES-256 key, MAC k (AES-128), MAC r


def _mac(k: bytes, r: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(k), modes.ECB()).encryptor()
    s = encryptor.update(iv) + encryptor.finalize()
    return Poly1305.generate_tag(r + s, ciphertext)  # Poly1305 clamps r itself


def _crypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return cipher.update(data) + cipher.finalize()


def cheapen_key(repo: pathlib.Path, password: str) -> None:
    (key_path,) = (repo / "keys").iterdir()
    doc = json.loads(key_path.read_text())
    enc, k, r = _user_key(password.encode(), doc)
    data = base64.b64decode(doc["data"])
    iv, ciphertext, tag = data[:16], data[16:-16], data[-16:]
    assert _mac(k, r, iv, ciphertext) == tag, "restic's key format is not the one this helper knows"
    master = _crypt(enc, iv, ciphertext)
    doc.update(CHEAP, salt=base64.b64encode(os.urandom(64)).decode())
    enc, k, r = _user_key(password.encode(), doc)
    iv = os.urandom(16)
    ciphertext = _crypt(enc, iv, master)
    doc["data"] = base64.b64encode(iv + ciphertext + _mac(k, r, iv, ciphertext)).decode()
    text = json.dumps(doc).encode()
    key_path.unlink()
    (repo / "keys" / hashlib.sha256(text).hexdigest()).write_bytes(text)


def backup_at_times(restic: str, env: dict, repo: pathlib.Path, src: pathlib.Path, times: list, host: str,
                    clones: int = 4) -> None:
    """One `restic backup --host <host> --time <moment>` of src into repo for every moment (UTC datetimes).

    restic 0.14, run several at once in one repository, races on its lock files: a process that
    lists locks/ and then loads one that another process has just removed retries with growing
    waits (0.5 s, 1 s, ... 15 s), which made 300 backups in 8 threads take two minutes. So the
    backups run one after another in each of `clones` copies of the new repository (the same
    config and keys), the copies side by side, and their files are moved into repo afterwards.
    Every file of a restic repository is named by the hash of its contents, so none collides,
    and every snapshot is one that restic wrote."""
    copies = [repo.with_name(f"{repo.name}-clone{i}") for i in range(clones)]
    for copy in copies:
        shutil.copytree(repo, copy)

    def run(i: int) -> None:
        for moment in times[i::clones]:  # no cache: the copies have one repository id, and would share it
            subprocess.run([restic, "backup", "-q", "--no-cache", "--repo", str(copies[i]), "--host", host,
                            "--time", moment.strftime("%Y-%m-%d %H:%M:%S"), str(src)], env=env, check=True)

    with concurrent.futures.ThreadPoolExecutor(clones) as pool:
        list(pool.map(run, range(clones)))
    for copy in copies:
        for kind in ("data", "index", "snapshots"):
            for path in (copy / kind).rglob("*"):
                if path.is_file():
                    target = repo / path.relative_to(copy)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, target)
        shutil.rmtree(copy)
