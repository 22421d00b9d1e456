"""The S3 store against a real S3 protocol server (moto, started once for this module).

The five-call contract tests of test_stores.py run here unchanged (imported below, they
pick up this module's `store` fixture), then S3-specific behaviour, then a whole engine
round trip: init, backup, restore, check --read-data, forget, gc.
"""

import os
import uuid

import pytest

from sharebackup import engine
from sharebackup.engine.errors import ObjectExists, ObjectMissing, StoreError
from sharebackup.engine.stores.s3 import MIN_PART_SIZE, S3Store
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, make_bucket, moto_server, s3_url

from .helpers import FAST_KDF, assert_same_tree, make_rich_tree
from .test_stores import (  # noqa: F401 - collected here with the S3 `store` fixture
    test_head_list_delete,
    test_put_if_absent_refuses_a_second_write,
    test_ranged_and_suffix_get,
)

BUCKET = "sharebackup-test"


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        make_bucket(endpoint, BUCKET)
        yield endpoint


def _store(endpoint, prefix=None, **kw) -> S3Store:
    return S3Store(BUCKET, prefix or uuid.uuid4().hex, endpoint, REGION, ACCESS_KEY, SECRET_KEY, **kw)


@pytest.fixture
def store(s3_endpoint):
    """A fresh prefix of the shared bucket for every test, opened through open_store."""
    s = engine.open_store(s3_url(s3_endpoint, BUCKET, "t/" + uuid.uuid4().hex))
    assert isinstance(s, S3Store)
    yield s
    s.close()


class _Client:
    """Delegates to a real boto3 client; `put_object` can be replaced per test."""

    def __init__(self, real, put_object):
        self._real, self.put_object = real, put_object

    def __getattr__(self, name):
        return getattr(self._real, name)


def _client_error(status: int, code: str, retries: int = 0):
    from botocore.exceptions import ClientError
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": retries}}, "PutObject")


def test_prefixes_keep_repositories_apart_and_names_relative(s3_endpoint):
    a, b = _store(s3_endpoint, "shared/a"), _store(s3_endpoint, "shared/ab")
    a.put_if_absent("index/1", b"a")
    b.put_if_absent("index/1", b"b")
    assert [i.name for i in a.list("")] == ["index/1"] and a.get("index/1") == b"a"
    assert [(i.name, i.size) for i in b.list("index/")] == [("index/1", 1)]
    assert a.location == f"s3://{BUCKET}/shared/a"


def test_list_is_paginated(s3_endpoint):
    s = _store(s3_endpoint, list_page_size=2)
    for i in range(7):
        s.put_if_absent(f"snapshots/{i}", b"x" * i)
    s.put_if_absent("snapshotsX", b"-")
    found = sorted((i.name, i.size) for i in s.list("snapshots/"))
    assert found == [(f"snapshots/{i}", i) for i in range(7)]
    assert all(i.mtime > 1.7e9 for i in s.list(""))


def test_edges_of_ranged_reads(store):
    store.put_if_absent("empty", b"")
    store.put_if_absent("two", b"ab")
    assert store.get("empty") == b"" and store.get("empty", -8) == b"" and store.get("empty", 0, 4) == b""
    assert store.get("two", 2) == b"" and store.get("two", 5, 3) == b""
    assert store.get("two", -8) == b"ab" and store.get("two", -2, 1) == b"a" and store.get("two", 1, 0) == b""
    with pytest.raises(ObjectMissing):
        store.get("missing", 0, 0)
    with pytest.raises(ObjectMissing):
        store.get("missing", -4)


def test_large_objects_go_up_in_parts(s3_endpoint):
    s = _store(s3_endpoint, multipart_threshold=MIN_PART_SIZE, part_size=MIN_PART_SIZE)
    data = os.urandom(2 * MIN_PART_SIZE + 12345)
    s.put_if_absent("data/ab/big", data)
    head = s._client.head_object(Bucket=BUCKET, Key=s._key("data/ab/big"))
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert s.get("data/ab/big") == data
    assert s.get("data/ab/big", MIN_PART_SIZE - 10, 20) == data[MIN_PART_SIZE - 10:MIN_PART_SIZE + 10]
    assert s.get("data/ab/big", -100) == data[-100:]
    with pytest.raises(ObjectExists):
        s.put_if_absent("data/ab/big", data[::-1])
    assert s.get("data/ab/big", 0, 16) == data[:16]
    assert not s._client.list_multipart_uploads(Bucket=BUCKET).get("Uploads")  # none left over


def test_head_then_put_fallback(s3_endpoint):
    s = _store(s3_endpoint, conditional_writes=False)
    s.put_if_absent("config", b"one")
    with pytest.raises(ObjectExists):
        s.put_if_absent("config", b"two")
    assert s.get("config") == b"one"


def test_server_without_conditional_writes_switches_to_the_fallback(s3_endpoint):
    s = _store(s3_endpoint)
    real_put = s._client.put_object

    def put_object(**kw):
        if "IfNoneMatch" in kw:
            raise _client_error(501, "NotImplemented")
        return real_put(**kw)
    s._client = _Client(s._client, put_object)
    s.put_if_absent("a", b"1")
    assert s._conditional is False
    with pytest.raises(ObjectExists):
        s.put_if_absent("a", b"2")
    assert s.get("a") == b"1"


def test_a_retried_put_whose_first_attempt_landed_succeeds(s3_endpoint):
    s = _store(s3_endpoint)
    real_put = s._client.put_object

    def put_object(**kw):  # the first attempt lands, its answer is lost, the retry sees 412
        real_put(**kw)
        raise _client_error(412, "PreconditionFailed", retries=1)
    s._client = _Client(s._client, put_object)
    assert s.put_if_absent("locks/x", b"mine") is True
    s._client = s._client._real
    s.put_if_absent("locks/y", b"theirs")
    s._client = _Client(s._client, lambda **kw: (_ for _ in ()).throw(_client_error(412, "PreconditionFailed", 1)))
    with pytest.raises(ObjectExists):  # different bytes: someone else's object
        s.put_if_absent("locks/y", b"mine")


def test_errors_map_to_store_errors(s3_endpoint):
    gone = S3Store("no-such-bucket", "p", s3_endpoint, REGION, ACCESS_KEY, SECRET_KEY)
    for call in (lambda: gone.put_if_absent("a", b"x"), lambda: list(gone.list("")), lambda: gone.get("a")):
        with pytest.raises(StoreError) as info:
            call()
        assert not isinstance(info.value, ObjectMissing)
    dead = S3Store(BUCKET, "p", "http://127.0.0.1:9", REGION, ACCESS_KEY, SECRET_KEY,
                   max_attempts=1, connect_timeout=1)
    with pytest.raises(StoreError):
        dead.head("config")
    with pytest.raises(StoreError):
        dead.put_if_absent("config", b"x")
    with pytest.raises(StoreError):
        _store(s3_endpoint).put_if_absent("../escape", b"x")


def test_credentials_from_the_environment(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    s = engine.open_store(f"s3://{BUCKET}/env-{uuid.uuid4().hex}?endpoint={s3_endpoint}")
    s.put_if_absent("config", b"{}")
    assert s.get("config") == b"{}"
    with_secret = engine.open_store(s3_url(s3_endpoint, BUCKET, "p"))
    assert SECRET_KEY not in with_secret.location and "?" not in with_secret.location


def test_engine_round_trip_on_s3(s3_endpoint, tmp_path):
    store = engine.open_store(s3_url(s3_endpoint, BUCKET, "repo-" + uuid.uuid4().hex))
    key = b"s3 passphrase"
    engine.Repository.init(store, key=key, scrypt_n=FAST_KDF, pack_size=1 << 20)
    repo = engine.Repository.open(store, key=key)
    src = tmp_path / "src"
    make_rich_tree(src)
    first = engine.backup(repo, str(src))
    engine.restore(repo, first, str(tmp_path / "out1"))
    assert_same_tree(str(src), str(tmp_path / "out1"))
    assert engine.check(repo, read_data=True).ok

    os.unlink(src / "random.bin")
    (src / "new.bin").write_bytes(os.urandom(500_000))
    second = engine.backup(repo, str(src), parent=first)
    packs_before = {i.name for i in store.list("data/")}
    engine.forget(repo, first)
    stats = engine.gc(repo, grace=0)
    assert stats["packs_deleted"] + stats["packs_repacked"] >= 1
    assert {i.name for i in store.list("data/")} != packs_before
    assert not list(store.list("locks/"))

    repo = engine.Repository.open(engine.open_store(s3_url(s3_endpoint, BUCKET, store.prefix)), key=key)
    assert [s["id"] for s in repo.list_snapshots()] == [second]
    result = engine.check(repo, read_data=True)
    assert result.ok, result.errors
    engine.restore(repo, second, str(tmp_path / "out2"))
    assert_same_tree(str(src), str(tmp_path / "out2"))


def test_url_values_are_percent_decoded_and_plus_stays_plus(s3_endpoint):
    s = engine.open_store(f"s3://{BUCKET}/my%20repo?endpoint={s3_endpoint}&region={REGION}"
                          f"&access_key={ACCESS_KEY}&secret_key=a+b/c%26d")
    assert s.prefix == "my repo"
    assert s._client._request_signer._credentials.secret_key == "a+b/c&d"


def test_a_body_read_that_breaks_off_is_read_again(store):
    from botocore.exceptions import ResponseStreamingError
    store.put_if_absent("data/00/p", b"pack bytes")
    real_get, calls = store._client.get_object, []

    class Broken:
        def read(self):
            raise ResponseStreamingError(error="connection reset")

        def close(self):
            pass

    def get_object(**kw):
        calls.append(kw)
        return {"Body": Broken()} if len(calls) == 1 else real_get(**kw)
    store._client = _Client(store._client, store._client.put_object)
    store._client.get_object = get_object
    assert store.get("data/00/p", 5, 5) == b"bytes"
    assert len(calls) == 2 and calls[1]["Range"] == "bytes=5-9"
