"""Emptying the kernel's caches before a measured step.

`sync; echo 3 > /proc/sys/vm/drop_caches` (root) drops the page cache and the dentries and
inodes too: the reference method. Without root, sync + POSIX_FADV_DONTNEED on the given paths
evicts their file pages only, which hides the walk's and the restore's metadata costs, so the
fallback says so loudly.
"""
from __future__ import annotations

import os
import subprocess
import sys


def evict(*paths: str) -> None:
    subprocess.run(["sync"], check=True)
    for root in paths:
        for d, _dirs, files in os.walk(root):
            for f in files:
                p = os.path.join(d, f)
                try:
                    fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
                except OSError:
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


class CacheDrop:
    """Empties the kernel's caches before a measured step, for real when it can."""

    def __init__(self, method: str | None = None):
        """method: "drop" (drop_caches), "fadvise", or None: drop when root, else fadvise."""
        self.method = "drop_caches"
        self.warning = ""
        if method == "fadvise":
            self.method = "fadvise"
        elif os.geteuid() != 0:
            self._fall_back("not running as root")
        else:
            self()

    def __call__(self, *paths: str) -> None:
        if self.method == "drop_caches":
            try:
                os.sync()  # dirty pages are not dropped, so write them out first
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("3\n")  # 3 = page cache + dentries and inodes
                return
            except OSError as e:
                self._fall_back(f"writing /proc/sys/vm/drop_caches failed: {e}")
        evict(*paths)

    def _fall_back(self, why: str) -> None:
        self.method = "fadvise"
        self.warning = (f"WARNING: caches NOT dropped ({why}). Falling back to sync + POSIX_FADV_DONTNEED "
                        "on the share and the repositories only: dentries, inodes and the interpreter's "
                        "files stay cached, so the walk and restore costs of a by-fd engine are HIDDEN. "
                        "Do not use these numbers to judge the by-fd change.")
        banner(self.warning)


def banner(text: str) -> None:
    line = "!" * 78
    for stream in (sys.stderr, sys.stdout):
        print(f"{line}\n{text}\n{line}", file=stream, flush=True)
