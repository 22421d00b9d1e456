"""Hard links in a restore, made fd to fd while the restore runs.

A hard-link group is the names of one inode in the snapshot. Its first name (in walk
order) is restored with the data; each later name becomes a new link to that inode.
Nothing waits for the end of the restore and nothing walks a path from the root
again: a tenant may have swapped any directory of the target for a symlink by then.
Instead the group holds the DirHandle (the open directory fd) of its first name, and
each later name is linked with linkat(first dir fd, first name, this dir fd, tmp, no
follow), then checked to be the very inode that was restored. A name the tenant
replaced in between is unlinked again and reported: the restore never leaves a link
to anything but what it wrote. Each later name holds its own directory's handle
until it is linked, so that directory's metadata (times) is applied after the link.

A group whose first name failed reports each later name; a group whose first name is
still being written keeps later names waiting, and the task that finishes the first
name links them.
"""

from __future__ import annotations

import collections
import os
import threading

from sharebackup.engine import safe_fs
from sharebackup.engine.restore_files import DirHandle, replace_into, tmp_name


class _Group:
    __slots__ = ("later", "source", "failed", "waiting")

    def __init__(self) -> None:
        self.later = -1  # later names still to link; the first name is not one of them
        self.source: tuple[DirHandle, str, os.stat_result] | None = None
        self.failed = False
        self.waiting: list[tuple[DirHandle, str, str]] = []


class LinkGroups:
    def __init__(self, report, stats_add):
        self.report = report
        self.stats_add = stats_add
        self.groups: dict[int, _Group] = collections.defaultdict(_Group)
        self.lock = threading.Lock()

    def count_name(self, link: int) -> None:
        """Planning: one more name of the group (the first counts too)."""
        self.groups[link].later += 1

    # -- the first name ----------------------------------------------------------------
    def first_done(self, link: int, handle: DirHandle, name: str, made) -> None:
        """The first name is in place in `handle`'s directory as inode `made`."""
        with self.lock:
            group = self.groups[link]
            if group.later <= 0:
                return  # nobody to link to it
            group.source = (handle.ref(), name, made)
            waiting, group.waiting = group.waiting, []
        for dir_handle, later_name, rel in waiting:
            self._link(group, dir_handle, later_name, rel)

    def first_failed(self, link: int) -> None:
        with self.lock:
            group = self.groups[link]
            group.failed = True
            waiting, group.waiting = group.waiting, []
        for dir_handle, _name, rel in waiting:
            self._give_up(group, dir_handle, rel)

    # -- later names -------------------------------------------------------------------
    def add_later_name(self, link: int, handle: DirHandle, name: str, rel: str) -> None:
        handle.ref()
        with self.lock:
            group = self.groups[link]
            if group.source is None and not group.failed:
                group.waiting.append((handle, name, rel))
                return
        if group.failed:
            self._give_up(group, handle, rel)
        else:
            self._link(group, handle, name, rel)

    def _link(self, group: _Group, handle: DirHandle, name: str, rel: str) -> None:
        src_handle, src_name, made = group.source
        tmp = tmp_name()
        try:
            os.link(src_name, tmp, src_dir_fd=src_handle.fd, dst_dir_fd=handle.fd, follow_symlinks=False)
            if not safe_fs.same_inode(safe_fs.lstat(handle.fd, os.fsencode(tmp)), made):
                os.unlink(tmp, dir_fd=handle.fd)
                raise safe_fs.EntryChanged(os.fsencode(rel), "the first name of its hard-link group was replaced "
                                                             "during the restore; not linked")
            replace_into(handle.fd, tmp, name)
            self.stats_add(hardlinks=1)
        except OSError as exc:
            self.report(rel, "error", f"hard link: {exc.strerror or exc}")
        finally:
            handle.unref()
            self._one_done(group)

    def _give_up(self, group: _Group, handle: DirHandle, rel: str) -> None:
        try:
            self.report(rel, "error", "not restored: the first name of its hard-link group failed")
        finally:
            handle.unref()
            self._one_done(group)

    def _one_done(self, group: _Group) -> None:
        with self.lock:
            group.later -= 1
            release = group.later == 0 and group.source is not None
            source, group.source = (group.source, None) if release else (None, group.source)
        if release:
            source[0].unref()

    # -- the end -----------------------------------------------------------------------
    def finish(self) -> None:
        """After every file task: names still waiting had a first name that never came
        (its directory failed); sources still held wait for names that never came."""
        for group in self.groups.values():
            with self.lock:
                waiting, group.waiting = group.waiting, []
                source, group.source = group.source, None
            for dir_handle, _name, rel in waiting:
                self._give_up(group, dir_handle, rel)
            if source is not None:
                source[0].unref()
