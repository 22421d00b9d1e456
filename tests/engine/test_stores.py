"""The five-call store contract, for every store we ship."""

import pytest

from sharebackup import engine
from sharebackup.engine.errors import ObjectExists, ObjectMissing, StoreError


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    return engine.open_store(str(tmp_path / "s")) if request.param == "local" else engine.open_store("memory:")


def test_put_if_absent_refuses_a_second_write(store):
    store.put_if_absent("data/ab/abc", b"one")
    with pytest.raises(ObjectExists):
        store.put_if_absent("data/ab/abc", b"two")
    assert store.get("data/ab/abc") == b"one"


def test_ranged_and_suffix_get(store):
    store.put_if_absent("x", b"0123456789")
    assert store.get("x", 2, 3) == b"234"
    assert store.get("x", 8, 10) == b"89"
    assert store.get("x", -4) == b"6789"


def test_head_list_delete(store):
    store.put_if_absent("index/1", b"aa")
    store.put_if_absent("index/2", b"bbb")
    store.put_if_absent("snapshots/3", b"c")
    assert store.head("index/2").size == 3
    assert sorted(i.name for i in store.list("index/")) == ["index/1", "index/2"]
    store.delete("index/1")
    assert [i.name for i in store.list("index/")] == ["index/2"]
    with pytest.raises(ObjectMissing):
        store.delete("index/1")
    with pytest.raises(ObjectMissing):
        store.get("index/1")
    with pytest.raises(ObjectMissing):
        store.head("nope")


def test_local_store_refuses_escaping_names(tmp_path):
    store = engine.LocalStore(str(tmp_path / "s"))
    for bad in ("../x", "a/../../x", "", "a//b"):
        with pytest.raises(StoreError):
            store.put_if_absent(bad, b"x")
    assert not (tmp_path / "x").exists()


def test_local_store_leaves_no_temp_files(tmp_path):
    store = engine.LocalStore(str(tmp_path / "s"))
    store.put_if_absent("data/00/a", b"x")
    with pytest.raises(ObjectExists):
        store.put_if_absent("data/00/a", b"y")
    assert sorted(p.name for p in (tmp_path / "s" / "data" / "00").iterdir()) == ["a"]


def test_bad_s3_urls_are_refused():
    # the S3 store itself is tested against a moto server in test_s3_store.py
    for bad in ("s3:///prefix", "s3://bucket/p?bogus=1", "s3://bucket/p?conditional_writes=maybe"):
        with pytest.raises(StoreError):
            engine.open_store(bad)
