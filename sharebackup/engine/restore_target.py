"""Opening a restore's target directory, and the directory below it that a restore writes into.

The target is the service's or the operator's path; ``subdir`` (a partial restore's
target_path) may be tenant content, so it is walked component by component by directory fd
with O_NOFOLLOW: a symlink planted in the share cannot point the restore elsewhere.
"""

from __future__ import annotations

import os

from sharebackup.engine import safe_fs
from sharebackup.engine.browse import split_path


def open_target(target: str, subdir: str) -> int:
    os.makedirs(target, exist_ok=True)
    root_fd = safe_fs.open_root(target)  # the service's or operator's path, not tenant content
    return _descend(root_fd, split_path(subdir))


def _descend(dir_fd: int, parts: list[str]) -> int:
    """The directory ``parts`` below ``dir_fd`` (made 0o755 where missing), by fd, never through a
    symlink (``parts`` may be tenant content: a share cannot point the restore elsewhere);
    closes ``dir_fd`` and returns the new fd."""
    for part in parts:
        name = os.fsencode(part)
        try:
            try:
                safe_fs.mkdir(dir_fd, name, 0o755)
            except FileExistsError:
                pass
            child = safe_fs.open_dir(dir_fd, name)  # O_NOFOLLOW | O_DIRECTORY: a symlink is refused
        finally:
            os.close(dir_fd)
        dir_fd = child
    return dir_fd
