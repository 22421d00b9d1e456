"""Fixtures for the engine tests: repositories in a tmp dir or in memory."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.engine.helpers")

from sharebackup import engine

from .helpers import FAST_KDF


@pytest.fixture(params=["plain", "encrypted"])
def repo(request, tmp_path):
    key = b"test passphrase" if request.param == "encrypted" else None
    store = engine.open_store(str(tmp_path / "repo"))
    engine.Repository.init(store, key=key, scrypt_n=FAST_KDF, pack_size=1 << 20)
    return engine.Repository.open(store, key=key)


@pytest.fixture
def mem_repo():
    store = engine.MemoryStore()
    engine.Repository.init(store, pack_size=1 << 20)
    return engine.Repository.open(store)
