"""Master keys and their wrapping under a passphrase or key file.

The master key is 64 random bytes made once at `init`: 32 for AES-256-GCM and 32 for
keyed BLAKE3 blob ids (so ids of encrypted repositories leak nothing about content).
It is never stored in clear. Each `keys/<id>` object holds it wrapped (AES-256-GCM)
under a key-encryption key derived from a passphrase with scrypt. Changing the
passphrase writes a new key object and deletes the old one; data is untouched.
A key file is treated as a passphrase: its bytes, with one trailing newline removed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import time

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sharebackup.engine.errors import ObjectMissing, WrongKeyError
from sharebackup.engine.stores.base import Store

# scrypt cost: n=2**15, r=8 takes ~0.1 s and 32 MiB here; tests may pass a smaller n.
DEFAULT_SCRYPT_N = 2**15
_WRAP_AAD = b"sharebackup master key v1"


@dataclasses.dataclass(frozen=True)
class MasterKey:
    enc_key: bytes  # AES-256-GCM key for blobs and repository files
    id_key: bytes  # BLAKE3 key for blob ids

    @classmethod
    def generate(cls) -> "MasterKey":
        raw = os.urandom(64)
        return cls(raw[:32], raw[32:])

    def to_bytes(self) -> bytes:
        return self.enc_key + self.id_key

    @property
    def check(self) -> str:
        """A fingerprint of this master key, kept in `config`: a reader accepts only the key
        object whose master matches it, never a stray one wrapped with the same passphrase
        (left by an `init` that lost a race or died before writing `config`)."""
        return blake3.blake3(b"master key check", key=self.id_key).hexdigest()[:32]

    @property
    def chunker_seed(self) -> int:
        # A secret gear-table seed keeps chunk boundaries (and so file-size
        # fingerprints) key-dependent, as borg does. pyfastcdc takes 31 bits safely.
        digest = blake3.blake3(b"chunker seed", key=self.id_key).digest()
        return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def read_key_file(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        raise WrongKeyError(f"key file {path} is empty")
    return data


def _kek(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def wrap_master_key(master: MasterKey, passphrase: bytes, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> bytes:
    salt = os.urandom(16)
    nonce = os.urandom(12)
    kek = _kek(passphrase, salt, scrypt_n, 8, 1)
    wrapped = AESGCM(kek).encrypt(nonce, master.to_bytes(), _WRAP_AAD)
    doc = {
        "kdf": "scrypt",
        "n": scrypt_n,
        "r": 8,
        "p": 1,
        "salt": base64.b64encode(salt).decode(),
        "nonce": base64.b64encode(nonce).decode(),
        "wrapped": base64.b64encode(wrapped).decode(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return json.dumps(doc, sort_keys=True).encode()


def unwrap_master_key(key_doc: bytes, passphrase: bytes) -> MasterKey:
    doc = json.loads(key_doc)
    if doc.get("kdf") != "scrypt":
        raise WrongKeyError(f"unknown key derivation {doc.get('kdf')!r}")
    kek = _kek(passphrase, base64.b64decode(doc["salt"]), doc["n"], doc["r"], doc["p"])
    try:
        raw = AESGCM(kek).decrypt(base64.b64decode(doc["nonce"]), base64.b64decode(doc["wrapped"]), _WRAP_AAD)
    except InvalidTag:
        raise WrongKeyError("wrong passphrase or key file") from None
    return MasterKey(raw[:32], raw[32:])


def add_key(store: Store, master: MasterKey, passphrase: bytes, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> str:
    doc = wrap_master_key(master, passphrase, scrypt_n=scrypt_n)
    name = "keys/" + blake3.blake3(doc).hexdigest()
    store.put_if_absent(name, doc)
    return name


def find_master_key(store: Store, passphrase: bytes, check: str | None = None) -> tuple[MasterKey, str]:
    """Try every key object; return the master key and the name of the one that opened.

    ``check``: the repository's `master_key_check`; a key object whose master does not match it
    is skipped (repositories made before the check existed pass None: the first that opens wins)."""
    names = [info.name for info in store.list("keys/")]
    if not names:
        raise WrongKeyError("the repository has no key objects")
    for name in names:
        try:
            master = unwrap_master_key(store.get(name), passphrase)
        except (WrongKeyError, ObjectMissing):
            continue  # not ours, or deleted while we listed (a stray key being cleaned up)
        if check is None or master.check == check:
            return master, name
    raise WrongKeyError("wrong passphrase or key file")


def config_check(store: Store) -> str | None:
    """The `master_key_check` recorded in the repository's `config` (None when absent)."""
    try:
        return json.loads(store.get("config")).get("master_key_check")
    except (ObjectMissing, ValueError):
        return None


def change_passphrase(store: Store, old: bytes, new: bytes, *, scrypt_n: int = DEFAULT_SCRYPT_N) -> str:
    master, old_name = find_master_key(store, old, config_check(store))
    new_name = add_key(store, master, new, scrypt_n=scrypt_n)
    store.delete(old_name)
    return new_name
