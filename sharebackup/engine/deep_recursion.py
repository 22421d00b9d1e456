"""Room for trees as deep as safe_fs.MAX_DEPTH: Python stack frames and file descriptors.

The backup walker and the restore descend one directory level per three Python frames,
and the default recursion limit (1000) would stop them near 330 levels: a tenant's tree
of a few hundred nested directories would fail its backup. Since Python 3.11, calls
between Python functions use no C stack, so a higher limit is safe.

A walk by fd holds each open level's directory fd (the restore up to two: the walker's
and a task's reference), so a tree MAX_DEPTH deep needs a few thousand descriptors; the
usual soft limit is 1024. The soft limit is raised towards the hard one, which needs no
privilege. Both limits are process-wide and other threads may be walking too, so they
are only ever raised.
"""

from __future__ import annotations

import resource
import sys

from sharebackup.engine.safe_fs import MAX_DEPTH

FRAMES_PER_LEVEL = 4  # three in the walkers, and one to spare
_NEEDED = MAX_DEPTH * FRAMES_PER_LEVEL + 1000
FDS_PER_LEVEL = 2
FDS_SPARE = 1024  # the repository, the database, sockets, worker threads' files
_FDS_NEEDED = MAX_DEPTH * FDS_PER_LEVEL + FDS_SPARE


def allow_deep_trees() -> None:
    if sys.getrecursionlimit() < _NEEDED:
        sys.setrecursionlimit(_NEEDED)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = _FDS_NEEDED if hard == resource.RLIM_INFINITY else min(_FDS_NEEDED, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
