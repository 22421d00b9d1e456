"""The process's umask, read without changing it.

os.umask() can only read the mask by setting it, which would change it for every thread of
the process for a moment; Linux shows it in /proc/self/status instead (since 4.7). Kept out
of the modules that touch share contents: it opens a path of our own, not of a share.
"""

from __future__ import annotations


def current_umask() -> int | None:
    """The umask, or None where /proc does not show it (the caller then sets modes always)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None
