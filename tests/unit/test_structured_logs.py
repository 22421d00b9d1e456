"""Structured logs: every line of a request carries its request id, every line of a job its job id,
kind and resource (and the backup id for share-backup jobs); log_format = text | json."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time

import pytest
from falcon import testing

from sharebackup import logs
from sharebackup.api.app import make_app
from sharebackup.config import ConfigError, load_config
from sharebackup.queue.lease_queue import LeaseQueue, enqueue
from sharebackup.queue.worker_pool import WorkerPool
from tests.conftest import make_runtime


class Capture(logging.Handler):
    def __init__(self, log_format: str):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.addFilter(logs.ContextFilter())
        self.setFormatter(logs.make_formatter(log_format))
        self._lock2 = threading.Lock()

    def emit(self, record):
        with self._lock2:
            self.lines.append(self.format(record))


@contextlib.contextmanager
def captured(log_format: str):
    handler = Capture(log_format)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def rt(tmp_path):
    rt = make_runtime(tmp_path / "state")
    yield rt
    rt.db.dispose()


def _json_lines(handler) -> list[dict]:
    return [json.loads(line) for line in handler.lines]


def test_every_line_of_a_request_carries_its_request_id(rt, monkeypatch):
    client = testing.TestClient(make_app(rt))

    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(rt.db, "reader", broken)  # the healthcheck logs a warning inside the request
    with captured("json") as handler:
        resp = client.simulate_get("/healthcheck")
    rid = resp.headers["x-openstack-request-id"]
    lines = _json_lines(handler)
    warning = [line for line in lines if line["logger"] == "sharebackup.services.health"]
    access = [line for line in lines if line["logger"] == "sharebackup.access"]
    assert warning and warning[0]["request_id"] == rid and warning[0]["level"] == "WARNING"
    assert access and access[0]["request_id"] == rid
    assert logs.current() == {}  # nothing left behind in this thread for the next request


def test_requests_do_not_share_ids(rt):
    client = testing.TestClient(make_app(rt))
    with captured("json") as handler:
        first = client.simulate_get("/healthcheck").headers["x-openstack-request-id"]
        second = client.simulate_get("/healthcheck").headers["x-openstack-request-id"]
    ids = [line["request_id"] for line in _json_lines(handler) if line["logger"] == "sharebackup.access"]
    assert ids == [first, second] and first != second


def test_text_format_shows_the_request_id(rt):
    client = testing.TestClient(make_app(rt))
    with captured("text") as handler:
        rid = client.simulate_get("/healthcheck").headers["x-openstack-request-id"]
    access = [line for line in handler.lines if "sharebackup.access" in line]
    assert any(f"sharebackup.access [{rid}] GET /healthcheck" in line for line in access)
    assert all(line.count(rid) == 1 for line in access)  # issue 10: it was shown twice
    logging.getLogger("sharebackup.test").info("outside")
    with captured("text") as handler:
        logging.getLogger("sharebackup.test").info("outside")
    assert "sharebackup.test [-] outside" in handler.lines[0]


def test_every_line_of_a_job_carries_the_job_and_backup_ids(rt):
    done = threading.Event()

    def runner(claim, heartbeat):
        logging.getLogger("sharebackup.jobs.test").info("working on it")
        raise RuntimeError("and failing")  # the pool's own error line must carry the ids too

    def after(claim, heartbeat):
        logging.getLogger("sharebackup.jobs.test").info("share job")
        done.set()

    with rt.db.transaction() as session:
        job = enqueue(session, "share_backup.create", "backup-1")
        session.flush()
        job_id = job.id
    from sharebackup.workflows.backup_jobs import _BackupJob  # the backup runners name the backup in their lines
    backup_runner = _BackupJob(rt, runner, lambda claim, reason: None)
    pool = WorkerPool(lambda owner: LeaseQueue(rt.db, owner, 30.0),
                      {"share_backup.create": backup_runner, "share.create": after}, threads=1, poll_seconds=0.02)
    with captured("json") as handler:
        pool.start()
        try:
            deadline = time.monotonic() + 30
            while not any("failed" in line for line in handler.lines):
                assert time.monotonic() < deadline
                time.sleep(0.02)
            with rt.db.transaction() as session:
                enqueue(session, "share.create", "share-1")
            pool.wake()
            assert done.wait(30)
        finally:
            pool.stop()
    lines = _json_lines(handler)
    working = next(line for line in lines if line["message"] == "working on it")
    assert (working["job_id"], working["job_kind"], working["resource_id"], working["backup_id"]) == (
        job_id, "share_backup.create", "backup-1", "backup-1")
    failed = next(line for line in lines if line["logger"] == "sharebackup.queue.worker_pool" and "exception" in line)
    assert failed["job_id"] == job_id and "RuntimeError: and failing" in failed["exception"]
    share = next(line for line in lines if line["message"] == "share job")
    assert share["resource_id"] == "share-1" and "backup_id" not in share and "request_id" not in share
    # issue 10: every job says when it starts and how it ended, with its ids, duration and attempt
    pool_lines = [(line["message"], line["job_id"]) for line in lines if line["logger"] == "sharebackup.queue.worker_pool"
                  and line["message"].startswith("job ")]
    started = [m for m, j in pool_lines if j == job_id and m.startswith("job started: share_backup.create of backup-1")]
    ended = [m for m, j in pool_lines if j == job_id and m.startswith("job failed: share_backup.create of backup-1 after")]
    assert started and started[0].endswith("attempt 1") and ended and "attempt 1" in ended[0]
    assert any(m.startswith("job done: share.create of share-1 after") for m, _ in pool_lines)


def test_text_format_shows_the_job():
    handler = Capture("text")
    logger = logging.getLogger("sharebackup.test.jobtext")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with logs.bound(job_id="j1", job_kind="share_backup.delete", resource_id="b1", backup_id="b1"):
            logger.warning("deleting")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert "[job=j1 kind=share_backup.delete resource=b1] deleting" in handler.lines[0]


def test_log_format_option(tmp_path):
    assert load_config(None, environ={}).log_format == "text"
    assert load_config(None, environ={"SHAREBACKUP_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(ConfigError, match="log_format"):
        load_config(None, environ={"SHAREBACKUP_LOG_FORMAT": "yaml"})


def test_configure_sets_the_formatter_on_the_root_handlers():
    root = logging.Logger("test-root")
    stream = logging.StreamHandler()
    root.addHandler(stream)
    logs.configure(load_config(None, environ={"SHAREBACKUP_LOG_FORMAT": "json"}), root=root)
    assert isinstance(stream.formatter, logs.JsonFormatter)
    assert any(isinstance(f, logs.ContextFilter) for f in stream.filters)
    logs.configure(load_config(None, environ={}), root=root)  # again: still one filter
    assert sum(isinstance(f, logs.ContextFilter) for f in stream.filters) == 1
    assert not isinstance(stream.formatter, logs.JsonFormatter)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_name_that_is_not_utf8_is_escaped_in_the_line_and_the_traceback(log_format):
    """os.fsdecode makes the byte 0xff of a share's name a lone surrogate; a log line shows it as
    \\xff (a JSON reader would get the surrogate back from "\\udcff", and a text line could not be
    written as UTF-8 at all)."""
    name = os.fsdecode(b"/d\xff")
    handler = Capture(log_format)
    logger = logging.getLogger("sharebackup.test.undecodable")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise FileNotFoundError(f"cannot list {name}")
        except FileNotFoundError:
            logger.warning("backup failed: %s", name, exc_info=True)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    (line,) = handler.lines
    line.encode("utf-8")  # strict
    if log_format == "json":
        record = json.loads(line)
        assert record["message"] == "backup failed: /d\\xff"
        assert "FileNotFoundError: cannot list /d\\xff" in record["exception"]
    else:
        assert "backup failed: /d\\xff" in line and "FileNotFoundError: cannot list /d\\xff" in line
