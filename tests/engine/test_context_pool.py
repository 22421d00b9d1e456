"""Engine pool threads run in the submitter's context, so a caller's bound log fields reach them."""
from __future__ import annotations

import contextvars
import threading

from sharebackup.engine.context_pool import ContextThreadPool

JOB = contextvars.ContextVar("job", default=None)


def test_tasks_see_the_context_of_the_submitter_not_of_an_earlier_one():
    seen = []
    with ContextThreadPool(1) as pool:
        token = JOB.set("backup-1")
        first = pool.submit(lambda: (JOB.get(), threading.current_thread().name))
        JOB.reset(token)
        token = JOB.set("backup-2")
        second = pool.submit(JOB.get)
        via_map = list(pool.map(lambda _: JOB.get(), range(3)))
        JOB.reset(token)
        seen = [first.result(), second.result(), via_map]
    value, thread_name = seen[0]
    assert value == "backup-1" and thread_name != threading.current_thread().name
    assert seen[1] == "backup-2"
    assert seen[2] == ["backup-2"] * 3
    assert JOB.get() is None


def test_a_task_cannot_change_the_submitters_context():
    token = JOB.set("outer")
    try:
        with ContextThreadPool(1) as pool:
            pool.submit(JOB.set, "inner").result()
        assert JOB.get() == "outer"
    finally:
        JOB.reset(token)
