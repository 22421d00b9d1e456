"""malloc tuning reaches glibc's mallopt wherever glibc is the C library (a wrong library name
would quietly turn it into a no-op, and peak memory would drift up again)."""

import platform

import pytest

from sharebackup.engine import malloc_tuning


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_tuning_reaches_glibc(monkeypatch):
    monkeypatch.setattr(malloc_tuning, "_done", False)
    assert malloc_tuning.tune_malloc() is True
    malloc_tuning.release_free_memory()  # must not raise


def test_without_the_library_it_is_a_no_op(monkeypatch):
    def missing():
        raise OSError("no such library")

    monkeypatch.setattr(malloc_tuning, "_done", False)
    monkeypatch.setattr(malloc_tuning, "_libc", missing)
    assert malloc_tuning.tune_malloc() is False
    malloc_tuning.release_free_memory()
