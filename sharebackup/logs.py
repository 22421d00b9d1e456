"""Structured logs: the request id and the job (id, kind, resource) on every log line.

A contextvar holds the fields of the request or job the current thread works on; the
request-id middleware binds ``request_id`` for a request, the worker pool binds ``job_id``,
``job_kind``, ``resource_id`` (and ``backup_id`` for share-backup jobs) while it runs a job.
``ContextFilter`` copies them onto every record; ``configure(conf)`` puts it on the root
handlers with the text or JSON formatter (``log_format`` in ``[DEFAULT]``).

Both formatters escape what a log reader could not show: a file name that is not UTF-8
reaches a message or a traceback as lone surrogates (os.fsdecode), and is written as
``\\xNN`` instead (``services.text.display_text``). Loggers that log such text (the jobs')
come from ``escaping_logger``, which escapes each record before any handler sees it, also
handlers that are not ours.

A new thread starts with an empty context, so threads started inside a request or job must
run in a copy of it: the engine's pools do (engine/context_pool.py), and the service's keeper
threads start with ``start_thread``.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import threading
from typing import Iterator

from sharebackup.core.text import display_text

FIELDS = ("request_id", "job_id", "job_kind", "resource_id", "backup_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(log_context)s] %(message)s"

_CONTEXT: contextvars.ContextVar[dict] = contextvars.ContextVar("sharebackup_log_context", default={})


def current() -> dict:
    """The fields bound in this context (a copy)."""
    return dict(_CONTEXT.get())


def push(**fields) -> contextvars.Token:
    """Bind fields on top of the current ones; undo with ``pop(token)``."""
    return _CONTEXT.set({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}})


def pop(token: contextvars.Token) -> None:
    try:
        _CONTEXT.reset(token)
    except ValueError:  # set in another context (should not happen); just clear
        _CONTEXT.set({})


@contextlib.contextmanager
def bound(**fields) -> Iterator[None]:
    token = push(**fields)
    try:
        yield
    finally:
        pop(token)


def start_thread(target, name: str) -> threading.Thread:
    """A daemon thread running ``target`` in a copy of the current context, so its log lines carry
    the ids bound here (a job's keeper threads)."""
    thread = threading.Thread(target=contextvars.copy_context().run, args=(target,), name=name, daemon=True)
    thread.start()
    return thread


class ContextFilter(logging.Filter):
    """Adds every FIELDS name (None when unbound) and ``log_context`` (a short text) to records."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CONTEXT.get()
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name))
        if not hasattr(record, "log_context"):
            parts = []
            if fields.get("request_id"):
                parts.append(fields["request_id"])
            if fields.get("job_id"):
                parts.append(f"job={fields['job_id']} kind={fields.get('job_kind')} "
                             f"resource={fields.get('resource_id')}")
            record.log_context = " ".join(parts) or "-"
        return True


class EscapeFilter(logging.Filter):
    """Makes a record's message and traceback storable text for every handler (our formatters
    escape too, but a handler of a library or a test runner formats on its own: pytest-xdist,
    for one, fails a whole worker on a captured line with a lone surrogate)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: leave it to the handler's error path
            return True
        shown = display_text(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and not record.exc_text:
            text = self._formatter.formatException(record.exc_info)
            shown = display_text(text)
            if shown != text:
                record.exc_text = shown  # what formatters write instead of formatting exc_info again
        return True


def escaping_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with an EscapeFilter (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, EscapeFilter) for f in logger.filters):
        logger.addFilter(EscapeFilter())
    return logger


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": display_text(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = _CONTEXT.get().get(name)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = display_text(self.formatException(record.exc_info))
        if record.stack_info:
            out["stack"] = display_text(self.formatStack(record.stack_info))
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, with what a terminal or a log file could not show escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return display_text(super().format(record))


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return TextFormatter(TEXT_FORMAT)


def configure(conf, root: logging.Logger | None = None) -> None:
    """Apply ``conf.log_format`` to the root logger's handlers (added by the command line)."""
    root = root or logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter = make_formatter(conf.log_format)
    for handler in root.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        handler.setFormatter(formatter)
