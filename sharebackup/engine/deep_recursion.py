"""Room on the Python stack for trees as deep as safe_fs.MAX_DEPTH.

The backup walker and the restore descend one directory level per three Python frames,
and the default recursion limit (1000) would stop them near 330 levels: a tenant's tree
of a few hundred nested directories would fail its backup. Since Python 3.11, calls
between Python functions use no C stack, so a higher limit is safe. The limit is
process-wide and other threads may be walking too, so it is only ever raised.
"""

from __future__ import annotations

import sys

from sharebackup.engine.safe_fs import MAX_DEPTH

FRAMES_PER_LEVEL = 4  # three in the walkers, and one to spare
_NEEDED = MAX_DEPTH * FRAMES_PER_LEVEL + 1000


def allow_deep_trees() -> None:
    if sys.getrecursionlimit() < _NEEDED:
        sys.setrecursionlimit(_NEEDED)
