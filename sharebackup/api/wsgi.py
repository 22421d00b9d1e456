"""WSGI entry point for gunicorn or uWSGI: ``sharebackup.api.wsgi:application``.

Configuration comes from SHAREBACKUP_CONFIG (a file path) and SHAREBACKUP_* variables.
The database must already be migrated (``sharebackup db upgrade``); no worker runs here.
Logging follows ``log_format`` as under ``sharebackup serve``: gunicorn configures only its own
loggers, so without this our lines would lose the request id (or vanish below WARNING).
"""
from __future__ import annotations

import logging
import os

from sharebackup import logs
from sharebackup.api.app import make_app
from sharebackup.core.runtime import build_runtime
from sharebackup.config import load_config


def build_application():
    conf = load_config(os.environ.get("SHAREBACKUP_CONFIG") or None)
    root = logging.getLogger()
    if not root.handlers:  # the server set up nothing for us: INFO to stderr, like `sharebackup serve`
        root.setLevel(logging.INFO)
    logs.configure(conf, root)
    return make_app(build_runtime(conf))


class _LazyApplication:
    """Build on first request, so importing this module has no side effects."""

    def __init__(self):
        self._app = None

    def __call__(self, environ, start_response):
        if self._app is None:
            self._app = build_application()
        return self._app(environ, start_response)


application = _LazyApplication()
