"""Repository format 3: the new small blobs of a backup batch are stored as one group (their
plaintexts concatenated, encoded once), each member keeping its own index entry (the group's unit
and its own offset inside it). Grouping, reading, checking, damage, gc, index recovery and a
property round trip (engine/blob_groups.py)."""
from __future__ import annotations

import collections
import itertools
import os
import random
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharebackup import engine
from sharebackup.engine import blob_groups
from sharebackup.engine.blob_groups import GroupCache
from sharebackup.engine.errors import IntegrityError
from sharebackup.engine.index import Index
from sharebackup.engine.index_delta import INDEX_AAD, MAGIC
from sharebackup.engine.pack import ALONE, BLOB_DATA, MAGIC_GROUPED, PackEntry, pack_name

from .helpers import FAST_KDF, CountingStore, assert_same_tree, flip_bit

KEY = b"groups passphrase"
WORDS = b"alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()


def _repo(store=None, *, version=3, pack_size=1 << 20, key=KEY):
    store = engine.MemoryStore() if store is None else store
    engine.Repository.init(store, key=key, scrypt_n=FAST_KDF, pack_size=pack_size, format_version=version)
    return engine.Repository.open(store, key=key)


def _reopen(repo):
    return engine.Repository.open(repo.store, key=KEY)  # a fresh GroupCache


def _reopen_plain(repo):
    return engine.Repository.open(repo.store)


def _text(rng: random.Random, n: int) -> bytes:
    return b" ".join(rng.choice(WORDS) for _ in range(n // 6 + 1))[:n]


def _mixed_tree(root, count=300, seed=1, big=True) -> dict[str, bytes]:
    """count small files in a few directories: compressible text and random bytes of varied
    sizes, some identical copies, some empty; and (big) two files above the chunker's min_size."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i in range(count):
        kind = i % 10
        if kind < 6:
            data = _text(rng, rng.randrange(20, 12_000))
        elif kind < 8:
            data = rng.randbytes(rng.randrange(1, 3_000))
        elif kind == 8:
            data = files[f"d{(i - 3) % 5}/f{i - 3:03d}"]  # a duplicate of an earlier file
        else:
            data = b"" if i % 20 == 9 else f"tiny {i}".encode()
        files[f"d{i % 5}/f{i:03d}"] = data
    if big:
        files["big/random.bin"] = rng.randbytes(300 << 10)
        files["big/text.txt"] = _text(rng, 700 << 10)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def _text_tree(root, count=250, seed=2) -> None:
    """Compressible text files only, of varied small sizes (each alone compresses poorly)."""
    rng = random.Random(seed)
    for i in range(count):
        path = root / f"d{i % 4}" / f"t{i:03d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_text(rng, rng.randrange(50, 1500)))


def _units(repo) -> dict[tuple[str, int], list]:
    """(pack, offset) -> [(blob id, location)] of every stored unit holding grouped blobs."""
    out = collections.defaultdict(list)
    for bid, loc in repo.index.blobs.items():
        if loc.inner != ALONE:
            out[(loc.pack_id, loc.offset)].append((bid, loc))
    return out


def _assert_members_tile_their_groups(repo) -> None:
    for members in _units(repo).values():
        spans = sorted((loc.inner, loc.plain_len) for _bid, loc in members)
        assert spans[0][0] == 0 and len({loc.length for _b, loc in members}) == 1
        for (start, n), (nxt, _) in zip(spans, spans[1:]):
            assert start + n == nxt  # one after another, no overlap and no gap


def test_a_backup_of_small_files_stores_them_in_groups(tmp_path):
    repo = _repo()
    files = _mixed_tree(tmp_path / "src")
    snap = engine.backup(repo, str(tmp_path / "src"))
    small = {d for d in files.values() if 0 < len(d) < 256 << 10}
    data = [(bid, loc) for bid, loc in repo.index.blobs.items() if loc.type == BLOB_DATA]
    grouped = [loc for _bid, loc in data if loc.inner != ALONE]
    assert len(grouped) >= 0.9 * len(small) and len(small) > 200
    units = _units(repo)
    assert max(len(m) for m in units.values()) >= 20 and len(units) < len(grouped) / 10
    alone = [loc for _bid, loc in data if loc.inner == ALONE]
    assert alone and all(loc.plain_len > 4096 for loc in alone)  # the big files' chunks
    _assert_members_tile_their_groups(repo)
    packs = list(repo.store.list("data/"))
    assert packs and all(repo.store.get(p.name)[-8:] == MAGIC_GROUPED for p in packs)
    assert repo.index_ids() and all(repo.read_file("index", i, INDEX_AAD).startswith(MAGIC) for i in repo.index_ids())
    engine.restore(_reopen(repo), snap, str(tmp_path / "out"))
    assert_same_tree(str(tmp_path / "src"), str(tmp_path / "out"))
    result = engine.check(_reopen(repo), read_data=True)
    assert result.ok, result.errors
    stats = engine.stats(repo)
    per_member = sum(loc.length for _bid, loc in repo.index.blobs.items())
    once = sum({(loc.pack_id, loc.offset): loc.length for _bid, loc in repo.index.blobs.items()}.values())
    assert stats["unique_stored_bytes"] == once < per_member / 10


def test_a_grouped_repository_is_smaller_than_a_version_2_one(tmp_path):
    _text_tree(tmp_path / "src")
    sizes = {}
    for version in (2, 3):
        repo = _repo(version=version)
        snap = engine.backup(repo, str(tmp_path / "src"))
        sizes[version] = engine.stats(repo)["repository_bytes"]
        engine.restore(repo, snap, str(tmp_path / f"out{version}"))
        assert_same_tree(str(tmp_path / "src"), str(tmp_path / f"out{version}"))
    assert sizes[3] < 0.75 * sizes[2], sizes  # about 0.64


def test_load_blobs_mixes_grouped_and_alone_blobs_and_reuses_decoded_groups(tmp_path):
    repo = _repo(pack_size=1 << 16)  # small packs: the blobs asked lie in several
    _mixed_tree(tmp_path / "src", count=200)
    engine.backup(repo, str(tmp_path / "src"))
    data = [(bid, loc) for bid, loc in repo.index.blobs.items() if loc.type == BLOB_DATA]
    grouped = [bid for bid, loc in data if loc.inner != ALONE]
    alone = [bid for bid, loc in data if loc.inner == ALONE]
    rng = random.Random(3)
    asked = rng.sample(grouped, 40) + alone
    rng.shuffle(asked)
    assert len({repo.index.get(b).pack_id for b in asked}) >= 3 and len(alone) >= 2
    fresh = _reopen(repo)
    got = fresh.load_blobs(asked)
    assert len(got) == len(asked)
    assert all(repo.codec.blob_id(d) == b for d, b in zip(got, asked))  # in the order asked, verified
    assert got == [_reopen(repo).load_blob(b) for b in asked]
    # the other members of the groups just decoded come from the cache, not the store
    touched = {(repo.index.get(b).pack_id, repo.index.get(b).offset) for b in asked}
    siblings = [b for b in grouped if b not in asked and
                (repo.index.get(b).pack_id, repo.index.get(b).offset) in touched]
    assert siblings
    counting = CountingStore(fresh.store)
    fresh.store = counting
    again = fresh.load_blobs(siblings)
    one = fresh.load_blob(siblings[0])
    assert counting.gets == 0
    assert [repo.codec.blob_id(d) for d in again] == siblings and one == again[0]


def test_the_group_cache_decodes_once_for_threads_asking_together():
    cache, calls, barrier = GroupCache(), [], threading.Barrier(8)
    results = [None] * 8

    def decode():
        calls.append(1)
        time.sleep(0.05)
        return b"group plaintext"

    def ask(i):
        barrier.wait()
        results[i] = cache.get(("pack", 0), decode)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and results == [b"group plaintext"] * 8


def test_a_failed_decode_is_retried_by_the_next_caller():
    cache, started, outcome = GroupCache(), threading.Event(), {}

    def bad():
        started.set()
        time.sleep(0.1)
        raise IntegrityError("damaged")

    good_calls = []

    def good():
        good_calls.append(1)
        return b"fine"

    def first():
        try:
            cache.get("k", bad)
        except IntegrityError as exc:
            outcome["first"] = exc

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    outcome["second"] = cache.get("k", good)  # waits for the failing loader, then decodes itself
    t.join()
    assert isinstance(outcome["first"], IntegrityError) and outcome["second"] == b"fine"
    assert good_calls == [1] and cache.peek("k") == b"fine"
    with pytest.raises(IntegrityError):
        cache.get("other", bad)
    assert cache.peek("other") is None and cache.get("other", good) == b"fine"


def test_the_group_cache_evicts_the_least_recent_and_stays_within_its_bytes():
    cache = GroupCache(max_bytes=1000)
    for i in range(10):
        cache.get(i, lambda i=i: bytes([i]) * 300)
        if i == 2:
            assert cache.peek(0) is not None  # used: now the most recent
        cached = [k for k in range(10) if cache.peek(k) is not None]
        assert sum(len(cache.peek(k)) for k in cached) <= 1000
    assert [k for k in range(10) if cache.peek(k) is not None] == [7, 8, 9]
    assert cache.get("huge", lambda: b"x" * 2000) == b"x" * 2000  # returned, not kept
    assert cache.peek("huge") is None and cache.peek(9) is not None


def test_a_damaged_group_fails_every_member_and_is_never_restored(tmp_path):
    repo = _repo(engine.open_store(str(tmp_path / "repo")))
    src = tmp_path / "src"
    files = _mixed_tree(src / "old", count=60, seed=7, big=False)
    first = engine.backup(repo, str(src))  # one group for old/, another for new/ below
    old_units = set(_units(repo))
    files = {f"old/{rel}": d for rel, d in files.items()}
    files.update({f"new/{rel}": d for rel, d in _mixed_tree(src / "new", count=60, seed=8, big=False).items()})
    snap = engine.backup(repo, str(src), parent=first)
    (pack_id, offset), members = max(((u, m) for u, m in _units(repo).items() if u not in old_units),
                                     key=lambda um: len(um[1]))
    assert len(members) >= 20
    flip_bit(tmp_path / "repo" / pack_name(pack_id), (offset + members[0][1].length // 2) * 8 + 3)
    result = engine.check(_reopen(repo), read_data=True)
    assert not result.ok
    for bid, _loc in members:
        assert any(bid.hex() in e and pack_id in e for e in result.errors), bid.hex()
    for bid, _loc in members[:3]:
        with pytest.raises(IntegrityError):
            _reopen(repo).load_blob(bid)
    with pytest.raises(IntegrityError):
        _reopen(repo).load_blobs([members[0][0]])
    damaged = {bid for bid, _loc in members}
    out = tmp_path / "out"
    with pytest.raises(IntegrityError):
        engine.restore(_reopen(repo), snap, str(out))
    written = {os.path.relpath(os.path.join(d, f), out) for d, _s, fs in os.walk(out) for f in fs}
    assert not any(name.startswith(".sbk-restore-") for w in written for name in w.split(os.sep))
    for rel in written:  # nothing wrong is written: what is there is the source's
        assert (out / rel).read_bytes() == files[rel], rel
    in_group = [rel for rel, d in files.items() if d and repo.codec.blob_id(d) in damaged]
    assert in_group and not set(in_group) & written


def test_a_member_reaching_past_its_group_is_refused(tmp_path):
    repo = _repo()
    codec = repo.codec
    group = b"abc" + b"defgh"
    bid = codec.blob_id(b"defgh")
    assert blob_groups.member(codec, group, bid, 3, 5) == b"defgh"
    for inner, n in ((3, 6), (4, 5), (8, 1), (1 << 20, 5)):
        with pytest.raises(IntegrityError, match="past the end"):
            blob_groups.member(codec, group, bid, inner, n)
    with pytest.raises(IntegrityError, match="does not match"):
        blob_groups.member(codec, group, bid, 2, 5)
    # and through the repository: an index entry that says the member ends past its group
    _mixed_tree(tmp_path / "src", count=30, big=False)
    engine.backup(repo, str(tmp_path / "src"))
    (pack_id, offset), members = next(iter(_units(repo).items()))
    bid, loc = max(members, key=lambda m: m[1].inner)
    total = sum(m[1].plain_len for m in members)
    liar = _reopen(repo)
    liar.index = Index()
    liar.index.add_pack(pack_id, repo.index.packs[pack_id],
                        [PackEntry(loc.type, bid, offset, loc.length, loc.plain_len + 1, loc.inner)])
    assert loc.inner + loc.plain_len == total
    with pytest.raises(IntegrityError, match="past the end"):
        liar.load_blob(bid)
    with pytest.raises(IntegrityError, match="past the end"):
        liar.load_blobs([bid])


def test_gc_repacks_a_group_whose_members_are_mostly_dead(tmp_path):
    repo = _repo()
    src = tmp_path / "src"
    src.mkdir()
    rng = random.Random(5)
    for i in range(80):
        (src / f"f{i:02d}.txt").write_bytes(_text(rng, 3000) + rng.randbytes(200))
    first = engine.backup(repo, str(src))
    assert len(_units(repo)) == 1 and len(next(iter(_units(repo).values()))) == 80
    for i in range(1, 80):
        os.unlink(src / f"f{i:02d}.txt")
    second = engine.backup(repo, str(src), parent=first)
    engine.forget(repo, first)
    before = engine.stats(repo)["repository_bytes"]
    stats = engine.gc(repo, grace=0)
    assert stats["packs_repacked"] >= 1 and stats["packs_written"] >= 1
    live = repo.codec.blob_id((src / "f00.txt").read_bytes())
    assert [b for b, loc in repo.index.blobs.items() if loc.type == BLOB_DATA] == [live]
    assert engine.stats(repo)["repository_bytes"] < before / 4
    result = engine.check(_reopen(repo), read_data=True)
    assert result.ok, result.errors
    engine.restore(_reopen(repo), second, str(tmp_path / "out"))
    assert_same_tree(str(src), str(tmp_path / "out"))


def test_recover_unindexed_packs_reindexes_groups_from_the_trailers(tmp_path):
    repo = _repo(pack_size=1 << 16)
    _mixed_tree(tmp_path / "src", count=150)
    snap = engine.backup(repo, str(tmp_path / "src"))
    wanted = dict(repo.index.blobs.items())
    assert sum(loc.inner != ALONE for loc in wanted.values()) > 100
    for delta_id in repo.index_ids():
        repo.store.delete(f"index/{delta_id}")
    lost = _reopen(repo)
    assert len(lost.index.blobs) == 0
    assert lost.recover_unindexed_packs() == len(list(repo.store.list("data/"))) == len(repo.index.packs)
    assert dict(lost.index.blobs.items()) == wanted  # the same locations, inner included
    assert all(lost.read_file("index", i, INDEX_AAD).startswith(MAGIC) for i in lost.index_ids())
    reopened = _reopen(repo)  # from the recovered delta
    assert dict(reopened.index.blobs.items()) == wanted
    engine.restore(reopened, snap, str(tmp_path / "out"))
    assert_same_tree(str(tmp_path / "src"), str(tmp_path / "out"))


NAME = st.text("abcdefgh0123", min_size=1, max_size=6).map(lambda s: "f" + s)  # never a directory's name
CONTENT = st.one_of(
    st.binary(max_size=1500),
    st.builds(lambda b, n: b * n, st.binary(min_size=1, max_size=40), st.integers(1, 300)),
    st.sampled_from([b"", b"same content\n" * 20]),  # empties and duplicates
)
FILES = st.dictionaries(st.tuples(st.sampled_from(["", "a", "a/b", "c"]), NAME), CONTENT, min_size=1, max_size=25)
_counter = itertools.count()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=FILES)
def test_small_file_trees_round_trip_through_groups(tmp_path, files):
    base = tmp_path / str(next(_counter))
    src = base / "src"
    src.mkdir(parents=True)
    for (sub, name), data in files.items():
        (src / sub).mkdir(parents=True, exist_ok=True)
        (src / sub / name).write_bytes(data)
    for d in sorted({p for p in src.rglob("*") if p.is_dir()}, reverse=True) + [src]:
        os.utime(d, ns=(10**18, 10**18))
    repo = _repo(key=None, pack_size=1 << 16)
    snap = engine.backup(repo, str(src))
    _assert_members_tile_their_groups(repo)
    data = [loc for _bid, loc in repo.index.blobs.items() if loc.type == BLOB_DATA]
    assert len(data) == len({d for d in files.values() if d})
    if len(data) >= 2:  # one batch, so all new small blobs in groups
        assert all(loc.inner != ALONE for loc in data)
    engine.restore(_reopen_plain(repo), snap, str(base / "out"))
    assert_same_tree(str(src), str(base / "out"))
    assert engine.check(_reopen_plain(repo), read_data=True).ok


def test_plan_groups_closes_a_group_at_its_limits_and_keeps_a_huge_blob_alone():
    plan, limit = blob_groups.plan_groups, blob_groups.GROUP_BLOBS
    assert plan([10] * (limit + 3)) == [(0, limit), (limit, limit + 3)]
    assert plan([3 << 20, 2 << 20, 1]) == [(0, 2), (2, 3)]  # closed once 4 MiB is reached
    assert plan([10, blob_groups.GROUP_BYTES, 5, 5]) == [(0, 1), (1, 2), (2, 4)]
    assert plan([]) == []
