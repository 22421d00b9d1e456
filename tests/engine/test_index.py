"""The compact index: lookups over sorted arrays and the pending dict, both delta formats, an id
listed in several deltas kept once, and a damaged binary delta refused."""
from __future__ import annotations

import os

import pytest

from sharebackup.engine.index import Index
from sharebackup.engine.index_delta import MAGIC, MAGIC_V2, delta_document
from sharebackup.engine.pack import ALONE, PackEntry


def _pack(n: int, seed: int, grouped: bool = False) -> tuple[str, int, list[PackEntry]]:
    """n blobs; grouped: every third blob is stored alone, the others are members of groups."""
    entries = [PackEntry(i % 2, os.urandom(32), i * 100, 90 + i, 200 + i, 7 * i if grouped and i % 3 else ALONE)
               for i in range(n)]
    return os.urandom(32).hex(), 100 * n, entries


@pytest.mark.parametrize("version", [1, 2, 3])
def test_every_blob_of_every_delta_is_found_after_seal(version):
    packs = [_pack(50, s, grouped=version == 3) for s in range(6)]
    index = Index()
    for i in range(0, 6, 2):
        payload = delta_document(packs[i:i + 2], version=version)
        assert payload.startswith({1: b"{", 2: MAGIC_V2, 3: MAGIC}[version])
        index.merge_delta(f"d{i}", payload)
    index.seal()
    assert len(index.blobs) == 300 and index.totals()[0] == 300
    for pack_id, size, entries in packs:
        assert index.packs[pack_id] == size
        for e in entries:
            loc = index.get(e.id)
            assert (loc.pack_id, loc.type, loc.offset, loc.length, loc.plain_len, loc.inner) == \
                (pack_id, e.type, e.offset, e.length, e.plain_len, e.inner)
    assert index.get(os.urandom(32)) is None and os.urandom(32) not in index
    assert sorted(bid for bid, _ in index.blobs.items()) == sorted(e.id for _, _, es in packs for e in es)


def test_an_id_in_two_deltas_is_kept_once_and_new_adds_wait_in_the_pending_dict():
    first = _pack(10, 1)
    copy = (os.urandom(32).hex(), 999, first[2][:3])  # three of its blobs again, in another pack
    index = Index()
    index.merge_delta("a", delta_document([first], version=2))
    index.merge_delta("b", delta_document([copy], version=2))
    index.seal()
    assert len(index.blobs) == 10
    late = _pack(5, 2)
    index.add_pack(*late)
    assert late[2][0].id in index and len(index.blobs) == 15
    index.seal()
    assert index.get(late[2][4].id).pack_id == late[0] and len(index.blobs) == 15
    assert len(index.entries_by_pack()[late[0]]) == 5


def test_a_binary_delta_naming_a_pack_it_does_not_list_is_refused():
    payload = bytearray(delta_document([_pack(3, 1)], version=2))
    record_pack_field = len(payload) - 53 + 32  # the last record's pack row
    payload[record_pack_field:record_pack_field + 4] = (7).to_bytes(4, "little")
    index = Index()
    index.merge_delta("x", bytes(payload))
    with pytest.raises(ValueError):
        index.seal()
    with pytest.raises(ValueError):
        Index().merge_delta("y", bytes(payload[:-5]))  # shorter than its counts say


def test_blobs_added_by_a_long_backup_move_into_the_arrays_and_stay_found_by_lookups_running_beside(monkeypatch):
    import threading

    from sharebackup.engine import index as index_module

    monkeypatch.setattr(index_module, "SEAL_PENDING", 200)
    index = Index()
    packs = [_pack(50, s) for s in range(40)]  # 2,000 blobs: several seals on the way
    added: list[bytes] = []
    missing: list[bytes] = []
    stop = threading.Event()

    def look():  # every id already added must be found at every moment, seal or not
        while not stop.is_set():
            for blob_id in list(added):
                if index.get(blob_id) is None or blob_id not in index:
                    missing.append(blob_id)

    reader = threading.Thread(target=look)
    reader.start()
    try:
        for pack in packs:
            index.add_pack(*pack)
            added.extend(e.id for e in pack[2])
            assert len(index._pending) < 200 or len(index._pending) < len(index._keys) // 4 + 50
    finally:
        stop.set()
        reader.join()
    assert missing == []
    assert len(index._keys) >= 1_500  # most of them in the compact arrays, not the dict
    assert len(index.blobs) == 2_000
    for pack_id, _size, entries in packs:
        for e in entries:
            assert index.get(e.id).pack_id == pack_id


def test_a_group_member_cannot_go_into_a_version_2_delta():
    with pytest.raises(ValueError):
        delta_document([_pack(3, 1, grouped=True)], version=2)


def test_a_groups_stored_bytes_count_once_in_the_totals():
    pack_id = os.urandom(32).hex()
    members = [PackEntry(0, os.urandom(32), 0, 500, 300, inner) for inner in (0, 300, 600)]
    alone = PackEntry(0, os.urandom(32), 500, 40, 60)
    index = Index()
    index.merge_delta("d", delta_document([(pack_id, 540, members + [alone])], version=3))
    index.seal()
    index.add_pack(os.urandom(32).hex(), 100, [PackEntry(0, os.urandom(32), 0, 100, 90, i) for i in (0, 90)])
    assert index.totals() == (6, 900 + 60 + 180, 500 + 40 + 100)


@pytest.mark.parametrize("parallel_reads", [1, 4])
def test_index_deltas_are_read_in_the_callers_thread_unless_the_store_is_remote(parallel_reads):
    """A thread's freed malloc arena is not given back (71 instead of 61 bytes a blob at 10M):
    a local store's deltas are read and decoded in the opening thread; a remote one's are
    fetched by parallel_reads threads and still decoded in the opening thread."""
    import threading

    from sharebackup import engine

    class RecordingStore(engine.MemoryStore):
        def get(self, name, offset=0, length=None):
            if name.startswith("index/"):
                readers.add(threading.get_ident())
            return super().get(name, offset, length)

    readers: set[int] = set()
    store = RecordingStore()
    store.parallel_reads = parallel_reads
    repo = engine.Repository.init(store)
    for n in range(6):
        repo.write_file("index", b"index", delta_document([_pack(5, n)], version=3))
    opened = engine.Repository.open(store)
    assert len(opened.index.blobs) == 30
    assert (readers == {threading.get_ident()}) == (parallel_reads == 1)


def lookup_case() -> tuple[Index, list[bytes], list[PackEntry]]:
    """An index with sealed rows, a pending pack and three ids sharing their first 8 bytes (only
    the tail tells them apart: rows side by side), and the ids to ask for: found, pending,
    twins, absent (one a twin's prefix), a short one, and a repeat."""
    pack_id, size, entries = _pack(40, 1, grouped=True)
    prefix = os.urandom(8)
    twins = [PackEntry(0, prefix + os.urandom(24), 5000 + i, 10, 20, ALONE) for i in range(3)]
    index = Index()
    index.add_pack(pack_id, size, entries + twins)
    index.seal()
    late = _pack(4, 2)
    index.add_pack(*late)  # not sealed: in the pending dict
    asked = ([e.id for e in reversed(entries)] + [t.id for t in twins] + [late[2][1].id]
             + [os.urandom(32), prefix + os.urandom(24), b"short"] + [entries[0].id])
    return index, asked, twins


def test_get_many_answers_as_get_does_for_found_absent_pending_and_prefix_sharing_ids():
    index, asked, twins = lookup_case()
    assert index.get_many(asked) == [index.get(i) if len(i) == 32 else None for i in asked]
    assert [loc.offset for loc in index.get_many([t.id for t in twins])] == [5000, 5001, 5002]
    assert index.get_many(asked)[-4:-1] == [None, None, None]
    assert Index().get_many(asked[:3]) == [None, None, None] and index.get_many([]) == []


def test_contains_many_answers_as_in_does_for_found_absent_pending_and_prefix_sharing_ids():
    index, asked, _twins = lookup_case()
    answers = index.contains_many(asked)
    assert answers == [i in index for i in asked]
    assert answers == [True] * (len(asked) - 4) + [False, False, False, True]
    assert Index().contains_many(asked[:3]) == [False, False, False] and index.contains_many([]) == []
