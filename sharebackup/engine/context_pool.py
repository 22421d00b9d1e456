"""A thread pool whose tasks run in the submitter's context (contextvars).

Callers bind things such as log fields (the job and backup ids of the service's structured
logs) in context variables; plain ThreadPoolExecutor threads start with an empty context, so
a line logged by a store retry inside a pool thread would lose them. Copying the context at
submit time costs a dict copy per task, nothing next to hashing a chunk.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor


class ContextThreadPool(ThreadPoolExecutor):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
