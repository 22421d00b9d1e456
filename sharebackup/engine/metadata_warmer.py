"""Read a tree's directory listings and inodes a little ahead of an incremental backup's walk.

From a cold cache the walk of a mostly unchanged tree waits on the disk for every directory
block and inode-table block it needs, one at a time: on the benchmark tree (20,000 files, 851
directories) that was 0.2 s of a 1.0 s incremental. A helper that lists the directories and
lstat()s their entries in the walk's order, a bounded number of directories ahead, has those
reads done (in the kernel's dentry and inode caches) by the time the walk asks.

The helper is a child process, not a thread: a thread doing this holds the GIL between its
system calls, and the walk, itself Python between system calls, then waited for it at every
one (measured: the walk got slower, 0.65 -> 0.70 s, and system time doubled). The child runs
this file as a script (`python -I -S metadata_warmer.py`): standard library only, so it starts
in about 20 ms without importing the engine.

It only warms caches. Everything it learns is thrown away; the walk lists, stats and opens
each entry itself, with every check of safe_fs, so a tenant who changes the tree meanwhile
changes nothing the backup relies on. The child touches the share as the walk does: below
directory fds it opened itself (starting with the walk's root, opened anew as "." below the fd
it is handed, whose directory position it must not move), one name at
a time, O_NOFOLLOW. It never opens a file, writes nothing, and ignores its errors.

Pacing: the parent writes one byte to a pipe for each directory the walk enters; the child
lists at most `ahead` directories beyond that. The parent's end is non-blocking (a full pipe
means the child is far behind anyway). The child stops at end of pipe, or when the tree ends.
"""

from __future__ import annotations

import os
import stat
import sys

# as safe_fs.DIR_FLAGS and safe_fs.MAX_DEPTH: this file runs in the child without the package
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 2048
DIRS_AHEAD = 256


class MetadataWarmer:
    """The parent's side: start() the child, entered() per directory walked, close()."""

    def __init__(self, proc, pace_fd: int):
        self._proc = proc
        self._pace = pace_fd

    @classmethod
    def start(cls, root_fd: int, exclude: frozenset[bytes] = frozenset(),
              ahead: int = DIRS_AHEAD) -> "MetadataWarmer | None":
        """The running warmer, or None where no child can be started (the backup goes on
        without it: it is only a speed-up)."""
        import subprocess  # here: the child, which runs this file, has no use for it

        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        try:
            os.set_blocking(write_end, False)
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), str(root_fd), str(read_end), str(ahead),
                 *(name.hex() for name in sorted(exclude))],
                pass_fds=(root_fd, read_end), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        except OSError:
            os.close(write_end)
            return None
        finally:
            os.close(read_end)
        return cls(proc, write_end)

    def entered(self) -> None:
        """The walk has entered one more directory."""
        try:
            os.write(self._pace, b"\0")
        except OSError:
            pass  # a full pipe (the child is behind) or a child gone: nothing to pace

    def close(self) -> None:
        os.close(self._pace)
        if self._proc.poll() is None:
            self._proc.kill()  # the walk is done: what is left to warm is of no use
        self._proc.wait()


def warm(root_fd: int, pace_fd: int, ahead: int, exclude: frozenset[bytes]) -> None:
    """The child's work: depth first in the walk's order (sorted names), one fd a level.

    root_fd is the walk's own open directory, passed to the child: it shares the walk's file
    offset, and listing through it would move the walk's position in the directory mid-listing
    (the walk then read the root's entries twice). So the root is opened anew, as ".", and
    root_fd is only closed."""
    allowed = ahead
    listed = 0
    stack: list[tuple[int, list[bytes]]] = []
    try:
        fd = os.open(".", DIR_FLAGS, dir_fd=root_fd)
    finally:
        os.close(root_fd)
    while True:
        if fd >= 0:
            if listed >= allowed:
                credit = os.read(pace_fd, 65536)
                if not credit:
                    return  # the walk has finished
                allowed += len(credit)
            listed += 1
            stack.append((fd, _subdirs(fd, exclude) if len(stack) < MAX_DEPTH else []))
        if not stack:
            return
        parent, subdirs = stack[-1]
        if not subdirs:
            os.close(parent)
            stack.pop()
            fd = -1
            continue
        try:
            fd = os.open(subdirs.pop(), DIR_FLAGS, dir_fd=parent)
        except OSError:
            fd = -1  # gone, or no longer a directory: the walk sees it and reports it


def _subdirs(fd: int, exclude: frozenset[bytes]) -> list[bytes]:
    """lstat() every entry of fd's directory; returns its subdirectories, last name first."""
    try:
        names = sorted(os.fsencode(n) for n in os.listdir(fd))
    except OSError:
        return []
    found = []
    for name in names:
        if name in exclude:
            continue
        try:
            if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                found.append(name)
        except OSError:
            pass
    found.reverse()
    return found


if __name__ == "__main__":
    try:
        warm(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), frozenset(bytes.fromhex(n) for n in sys.argv[4:]))
    except (OSError, KeyboardInterrupt):
        pass  # warming is optional: the walk never depends on it
