"""The installed release of sharebackup (`--version`, the extension API's discovery document)."""
from __future__ import annotations

import importlib.metadata


def release() -> str:
    try:
        return importlib.metadata.version("sharebackup")
    except importlib.metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "(not installed)"
