"""Blob and file encoding: blob ids, zstd compression, AEAD encryption.

Stored form of one blob (see docs/repository-format.md):
    plaintext repo:  [flag:1][payload]
    encrypted repo:  [nonce:12][AES-256-GCM([flag:1][payload], aad=<blob id or kind>)]
flag 0 = payload is the raw bytes, flag 1 = payload is one zstd frame.
Compression is skipped when it saves less than 1/32 of the size (random or already
compressed data), which keeps incompressible chunks cheap to read back.

Every call here releases the GIL inside the C libraries (zstd, BLAKE3, OpenSSL), so the
codec runs in the backup pipeline's worker threads; zstd contexts are per thread.
"""

from __future__ import annotations

import os
import threading

import blake3
import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sharebackup.engine.errors import IntegrityError
from sharebackup.engine.keys import MasterKey

FLAG_RAW = 0
FLAG_ZSTD = 1
_MIN_COMPRESS = 128  # below this, zstd's frame header eats the gain


_forks = [0]  # bumped in every forked child: thread-local nonce pools are refilled there
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


class Codec:
    def __init__(self, master: MasterKey | None, compression_level: int = 3):
        self.master = master
        self.level = compression_level
        self._aead = AESGCM(master.enc_key) if master else None
        self._local = threading.local()

    @property
    def encrypted(self) -> bool:
        return self.master is not None

    # -- ids ---------------------------------------------------------------
    def blob_id(self, data) -> bytes:
        if self.master is not None:
            return blake3.blake3(data, key=self.master.id_key).digest()
        return blake3.blake3(data).digest()

    @staticmethod
    def content_id(data) -> str:
        """Name of a stored object (pack, index, snapshot): unkeyed hash of its stored bytes."""
        return blake3.blake3(data).hexdigest()

    # -- per-thread zstd contexts ---------------------------------------------
    def _compressor(self) -> zstandard.ZstdCompressor:
        c = getattr(self._local, "c", None)
        if c is None:
            c = self._local.c = zstandard.ZstdCompressor(level=self.level)
        return c

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        d = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = zstandard.ZstdDecompressor()
        return d

    # -- encode / decode --------------------------------------------------------
    def encode(self, data, aad: bytes) -> bytes:
        """Compress (when it pays) and encrypt (when keyed) `data`, bound to `aad`."""
        body = None
        if len(data) >= _MIN_COMPRESS:
            packed = self._compressor().compress(data)
            if len(packed) < len(data) - (len(data) >> 5):
                body = b"\x01" + packed
        if body is None:
            body = b"\x00" + bytes(data)
        return self._seal(body, aad)

    def encode_parts(self, parts: list[bytes], aad: bytes) -> bytes:
        """encode() of the parts' concatenation, without making it (a blob group's members are
        compressed as one zstd stream: the same frame, one copy of 4 MiB less per group)."""
        total = sum(len(part) for part in parts)
        if total >= _MIN_COMPRESS:
            stream = self._compressor().compressobj(size=total)
            packed = [b"\x01", *(stream.compress(part) for part in parts), stream.flush()]
            if sum(len(piece) for piece in packed) - 1 < total - (total >> 5):
                return self._seal(b"".join(packed), aad)
        return self._seal(b"".join([b"\x00", *parts]), aad)

    def _seal(self, body: bytes, aad: bytes) -> bytes:
        if self._aead is None:
            return body
        nonce = self._nonce()
        return nonce + self._aead.encrypt(nonce, body, aad)

    def _nonce(self) -> bytes:
        """12 random bytes, from a per-thread 4 KiB pool: a getrandom call per blob was one of a
        small file's system calls. Still random nonces (a counter would need state that
        survives processes); 96 random bits keep GCM's collision odds negligible."""
        local = self._local
        pool, at = getattr(local, "nonces", b""), getattr(local, "nonce_at", 0)
        if at + 12 > len(pool) or getattr(local, "nonce_fork", None) != _forks[0]:
            # a forked child must never hand out its parent's remaining nonces again
            pool, at = os.urandom(4092), 0
            local.nonces, local.nonce_fork = pool, _forks[0]
        local.nonce_at = at + 12
        return pool[at:at + 12]

    def decode(self, stored, aad: bytes, plain_len: int | None = None) -> bytes:
        """Reverse of encode(); raises IntegrityError on any tampering it can see."""
        if self._aead is not None:
            if len(stored) < 12 + 16 + 1:
                raise IntegrityError("stored object too short")
            try:
                view = memoryview(stored)  # slices of a view copy nothing; OpenSSL reads them in place
                body = self._aead.decrypt(view[:12], view[12:], aad)
            except InvalidTag:
                raise IntegrityError("authentication failed (damaged or tampered)") from None
        else:
            body = stored
        if not body:
            raise IntegrityError("empty stored object")
        flag = body[0]
        payload = memoryview(body)[1:]
        if flag == FLAG_RAW:
            return bytes(payload)
        if flag == FLAG_ZSTD:
            try:
                if plain_len is not None:
                    return self._decompressor().decompress(payload, max_output_size=max(plain_len, 1))
                return self._decompressor().decompress(payload)
            except zstandard.ZstdError as exc:
                raise IntegrityError(f"corrupt zstd frame: {exc}") from None
        raise IntegrityError(f"unknown blob flag {flag}")

    def decode_blob(self, stored, blob_id: bytes, plain_len: int | None = None) -> bytes:
        """Decode and verify that the plaintext hashes to its id."""
        data = self.decode(stored, blob_id, plain_len)
        if self.blob_id(data) != blob_id:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} does not match its id")
        return data
