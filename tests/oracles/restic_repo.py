"""A restic repository for oracle tests, made fast.

restic calibrates its key derivation (scrypt) to about half a second, and pays it on every
command: 300 `restic backup` runs would take minutes. `cheapen_key` rewraps the repository's
master key under the same password with a tiny scrypt cost, using restic's documented key
format (doc/design.rst, "Keys, Encryption and MAC"): a key file holds scrypt parameters and
`data` = IV || AES-256-CTR(master key JSON) || Poly1305-AES MAC of the ciphertext. Only the
key file changes; what restic computes (snapshots, forget) is restic's own.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import shutil

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
