"""Codec, packs, keys and chunker: the pieces of the repository format."""

import os

import pytest

from sharebackup import engine
from sharebackup.engine import keys
from sharebackup.engine.codec import Codec
from sharebackup.engine.errors import IntegrityError, RepositoryError, WrongKeyError
from sharebackup.engine.pack import BLOB_DATA, PackBuilder, parse_trailer

from .helpers import FAST_KDF

MASTER = keys.MasterKey.generate()


@pytest.mark.parametrize("master", [None, MASTER], ids=["plain", "encrypted"])
def test_codec_round_trip_and_skip_compression(master):
    codec = Codec(master)
    text = b"hello world, " * 1000
    noise = os.urandom(50_000)
    for data in (b"", b"x", text, noise):
        bid = codec.blob_id(data)
        stored = codec.encode(data, bid)
        assert codec.decode_blob(stored, bid, len(data)) == data
    # compressible data is compressed; random data is stored raw (plus flag/nonce/tag)
    assert len(codec.encode(text, b"i")) < len(text) // 10
    overhead = 1 + (28 if master else 0)
    assert len(codec.encode(noise, b"i")) == len(noise) + overhead


def test_keyed_ids_differ_from_plain_ids():
    data = b"same content"
    assert Codec(MASTER).blob_id(data) != Codec(None).blob_id(data)
    assert Codec(MASTER).blob_id(data) != Codec(keys.MasterKey.generate()).blob_id(data)


def test_encryption_binds_the_blob_id():
    codec = Codec(MASTER)
    stored = codec.encode(b"secret", b"id-1")
    assert b"secret" not in stored
    with pytest.raises(IntegrityError):
        codec.decode(stored, b"id-2")


@pytest.mark.parametrize("master", [None, MASTER], ids=["plain", "encrypted"])
def test_every_flipped_bit_of_a_blob_is_detected(master):
    codec = Codec(master)
    data = b"some file content " * 50
    bid = codec.blob_id(data)
    stored = codec.encode(data, bid)
    for i in range(0, len(stored) * 8, 7):
        damaged = bytearray(stored)
        damaged[i // 8] ^= 1 << (i % 8)
        with pytest.raises(IntegrityError):
            codec.decode_blob(bytes(damaged), bid, len(data))


@pytest.mark.parametrize("master", [None, MASTER], ids=["plain", "encrypted"])
def test_pack_trailer_lists_the_blobs(master):
    codec = Codec(master)
    builder = PackBuilder()
    blobs = [os.urandom(n) for n in (10, 1000, 5000)]
    for b in blobs:
        bid = codec.blob_id(b)
        builder.add(BLOB_DATA, bid, codec.encode(b, bid), len(b))
    pack_id, data = builder.finish(codec)
    assert pack_id == Codec.content_id(data)
    entries = parse_trailer(codec, data, len(data))
    for entry, b in zip(entries, blobs):
        assert codec.decode_blob(data[entry.offset:entry.offset + entry.length], entry.id) == b


def test_passphrase_change_keeps_data_readable(tmp_path):
    store = engine.open_store(str(tmp_path / "r"))
    repo = engine.Repository.init(store, key=b"old", scrypt_n=FAST_KDF)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_bytes(b"payload")
    snap = engine.backup(repo, str(tmp_path / "src"))
    keys.change_passphrase(store, b"old", b"new", scrypt_n=FAST_KDF)
    with pytest.raises(WrongKeyError):
        engine.Repository.open(store, key=b"old")
    reopened = engine.Repository.open(store, key=b"new")
    engine.restore(reopened, snap, str(tmp_path / "out"))
    assert (tmp_path / "out" / "f").read_bytes() == b"payload"


def test_open_refuses_missing_key_wrong_key_and_unknown_version(tmp_path):
    store = engine.open_store(str(tmp_path / "r"))
    engine.Repository.init(store, key=b"k", scrypt_n=FAST_KDF)
    with pytest.raises(WrongKeyError):
        engine.Repository.open(store)
    with pytest.raises(WrongKeyError):
        engine.Repository.open(store, key=b"wrong")
    with pytest.raises(RepositoryError):
        engine.Repository.init(store)
    other = engine.MemoryStore()
    other.put_if_absent("config", b'{"format": "sharebackup-repository", "version": 99}')
    with pytest.raises(RepositoryError):
        engine.Repository.open(other)


def test_chunk_boundaries_are_stable_and_bounded(mem_repo):
    # pyfastcdc is pinned by behaviour: a fixed input must keep its cut points
    import random

    data = random.Random(42).randbytes(12 << 20)
    lengths = [c.length for c in mem_repo.chunker().cut_buf(data)]
    cfg = mem_repo.config["chunker"]
    assert sum(lengths) == len(data)
    assert all(cfg["min_size"] <= n <= cfg["max_size"] for n in lengths[:-1])
    assert lengths[:4] == EXPECTED_FIRST_CUTS


EXPECTED_FIRST_CUTS = [2887635, 1497989, 1362853, 1120302]  # pyfastcdc 0.3.1, seed 0


def test_losing_a_concurrent_init_leaves_no_stray_key():
    """Two processes initialise the same encrypted repository at once: the loser's key object
    must not stay behind, or an open could later unwrap the wrong master key."""
    import pytest as _pytest

    from sharebackup.engine import MemoryStore, Repository, RepositoryError

    store = MemoryStore()
    Repository.init(store, key=b"pass", scrypt_n=2 ** 4)
    keys_before = [info.name for info in store.list("keys/")]
    real_exists = store.exists
    store.exists = lambda name: False if name == "config" else real_exists(name)  # lost the race
    with _pytest.raises(RepositoryError, match="already exists"):
        Repository.init(store, key=b"pass", scrypt_n=2 ** 4)
    assert [info.name for info in store.list("keys/")] == keys_before


def _stray_key_sorted_first(store, passphrase: bytes) -> str:
    """A key object wrapping another master under the same passphrase, named to list first
    (what an init that died between its key and its config leaves behind)."""
    doc = keys.wrap_master_key(keys.MasterKey.generate(), passphrase, scrypt_n=FAST_KDF)
    name = "keys/" + "0" * 64
    store.put_if_absent(name, doc)
    return name


def test_a_stray_key_with_the_same_passphrase_is_never_used(tmp_path):
    store = engine.MemoryStore()
    repo = engine.Repository.init(store, key=b"pw", scrypt_n=FAST_KDF)
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(os.urandom(5000))
    snap = engine.backup(repo, str(src))
    stray = _stray_key_sorted_first(store, b"pw")
    assert [i.name for i in store.list("keys/")][0] == stray
    reopened = engine.Repository.open(store, key=b"pw")
    assert reopened.master == repo.master
    engine.restore(reopened, snap, str(tmp_path / "out"))
    assert (tmp_path / "out" / "f").read_bytes() == (src / "f").read_bytes()
    keys.change_passphrase(store, b"pw", b"new", scrypt_n=FAST_KDF)  # rewraps the right master
    assert engine.Repository.open(store, key=b"new").master == repo.master
    assert engine.check(engine.Repository.open(store, key=b"new", load_index=False), read_data=True).ok


def test_repositories_without_a_key_check_still_open(tmp_path):
    """Repositories made before `master_key_check` existed: the first key that opens wins."""
    import json

    store = engine.MemoryStore()
    repo = engine.Repository.init(store, key=b"pw", scrypt_n=FAST_KDF)
    config = json.loads(store.get("config"))
    assert config["master_key_check"] == repo.master.check
    del config["master_key_check"]
    store.delete("config")
    store.put_if_absent("config", json.dumps(config).encode())
    assert engine.Repository.open(store, key=b"pw").master == repo.master
    with pytest.raises(WrongKeyError):
        engine.Repository.open(store, key=b"other")
