"""Restore of a snapshot into a target directory.

Safety: every name from the snapshot is checked to be one plain path component, and
all file system calls are made relative to directory fds opened with O_NOFOLLOW, so
neither a crafted snapshot (`..`, `/etc/x`, names with '/') nor a symlink planted in
the target can make us write outside it. A symlink found where the snapshot has a
directory is refused (merge mode) or replaced by the real directory (replace mode);
it is never followed.

Integrity: blobs are verified against their ids before their bytes are written; a file
is written under a temporary name and renamed into place only when complete, with its
metadata applied. Directory times are set after their children.

Modes: "merge" overwrites what the snapshot has and leaves other entries; "replace"
also deletes entries the snapshot does not have, making the target an exact copy.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor

from sharebackup.engine import fs_apply
from sharebackup.engine.blob_prefetch import BlobPrefetcher
from sharebackup.engine.errors import EngineError, UnsafePathError
from sharebackup.engine.malloc_tuning import tune_malloc
from sharebackup.engine.progress import ProgressCallback, ProgressTracker, Reporter, ReportCallback
from sharebackup.engine.tree import check_name, decode_tree

TMP_PREFIX = ".sbk-restore-"


class _LinkGroupFailed(EngineError):
    pass
MODES = ("merge", "replace")


class _RestoreRun:
    def __init__(self, repo, mode: str, tracker: ProgressTracker, report: Reporter, workers: int):
        self.repo = repo
        self.mode = mode
        self.progress = tracker
        self.report = report
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="sharebackup-restore")
        self.prefetch = BlobPrefetcher(repo, self.pool)
        self.links: dict[int, str] = {}  # hard-link group -> path restored, relative to the root
        self.first_names: dict[int, str] = {}  # hard-link group -> name that carries the data
        self.root_fd = -1
        self.stats = {"files": 0, "dirs": 0, "symlinks": 0, "special": 0, "hardlinks": 0, "bytes": 0}

    def tree(self, tree_id: str) -> list[dict]:
        return decode_tree(self.repo.load_tree(bytes.fromhex(tree_id)))

    def plan(self, tree_id: str, rel: str = "") -> int:
        """Pre-pass in restore order: total bytes, and the first name of each hard-link group."""
        total = 0
        for node in self.tree(tree_id):
            relp = f"{rel}/{node['name']}"
            if node["type"] == "dir":
                total += self.plan(node["subtree"], relp)
            elif "link" in node:
                if node["link"] not in self.first_names:
                    self.first_names[node["link"]] = relp
                    total += node.get("size", 0) if node["type"] == "file" else 0
            elif node["type"] == "file":
                total += node.get("size", 0)
        return total

    # -- directories ------------------------------------------------------------
    def restore_dir(self, dir_fd: int, tree_id: str, rel: str) -> None:
        nodes = self.tree(tree_id)
        wanted = {n["name"] for n in nodes}
        existing = {}
        with os.scandir(dir_fd) as it:
            for e in it:
                existing[e.name] = e
        if self.mode == "replace":
            for name in sorted(set(existing) - wanted):
                _remove(dir_fd, name)
                del existing[name]
        # Prefetch the data of every file in this directory, in order. Only the first
        # name of a hard-link group is written; later names are linked to it.
        writes = [n for n in nodes if n["type"] == "file"
                  and ("link" not in n or self.first_names.get(n["link"]) == f"{rel}/{n['name']}")]
        to_write = {id(n) for n in writes}
        ids = (bytes.fromhex(c) for n in writes for c in n.get("content", ()) if isinstance(c, str))
        blobs = self.prefetch.iter_blobs(ids)
        for node in nodes:
            name = check_name(node["name"])
            relp = f"{rel}/{name}"
            mine = None
            if id(node) in to_write:
                # this file's share of the directory's blob stream
                mine = itertools.islice(blobs, sum(isinstance(c, str) for c in node.get("content", ())))
            try:
                self.restore_node(dir_fd, node, relp, name in existing, mine)
            except (UnsafePathError, OSError, _LinkGroupFailed) as exc:
                msg = (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
                self.report(relp, "error", msg)
                if mine is not None:
                    for _ in mine:  # keep the stream aligned for the next file
                        pass

    def _linked(self, node: dict) -> bool:
        """True for the 2nd and later names of a hard-link group (to be linked, not written)."""
        return "link" in node and node["link"] in self.links

    def restore_node(self, dir_fd: int, node: dict, rel: str, exists: bool, blobs) -> None:
        name, kind = node["name"], node["type"]
        if kind == "dir":
            self._dir(dir_fd, name, node, rel, exists)
        elif kind == "file":
            if blobs is not None:
                self._file(dir_fd, name, node, rel, blobs)
            elif self._linked(node):
                self._hardlink(dir_fd, name, node, rel)
            else:
                raise _LinkGroupFailed("not restored: the first name of its hard-link group failed")
        elif kind == "symlink":
            if self._linked(node):
                self._hardlink(dir_fd, name, node, rel)
                return
            self._via_tmp(dir_fd, name, lambda tmp: os.symlink(node["target"], tmp, dir_fd=dir_fd))
            fs_apply.apply_to_link(dir_fd, name, node, self.report, rel)
            self.stats["symlinks"] += 1
            self._remember_link(node, rel)
        elif kind == "socket":
            self.report(rel, "skipped", "sockets are recorded but not recreated")
        elif kind in ("fifo", "chardev", "blockdev"):
            fmt = {"fifo": stat.S_IFIFO, "chardev": stat.S_IFCHR, "blockdev": stat.S_IFBLK}[kind]
            self._via_tmp(dir_fd, name, lambda tmp: os.mknod(tmp, fmt | 0o600, node.get("rdev", 0), dir_fd=dir_fd))
            fs_apply.apply_to_link(dir_fd, name, node, self.report, rel)
            self.stats["special"] += 1
        else:
            self.report(rel, "skipped", f"unknown node type {kind!r}")

    def _dir(self, dir_fd: int, name: str, node: dict, rel: str, exists: bool) -> None:
        if exists:
            st = os.lstat(name, dir_fd=dir_fd)
            if stat.S_ISLNK(st.st_mode) and self.mode == "merge":
                raise UnsafePathError(f"refusing to follow the symlink at {rel} where the snapshot has a directory")
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=dir_fd)
                exists = False
        if not exists:
            os.mkdir(name, 0o700, dir_fd=dir_fd)
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            self.restore_dir(fd, node["subtree"], rel)
            fs_apply.apply_to_fd(fd, node, self.report, rel)
        finally:
            os.close(fd)
        self.stats["dirs"] += 1

    def _file(self, dir_fd: int, name: str, node: dict, rel: str, blobs) -> None:
        tmp = TMP_PREFIX + os.urandom(6).hex()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        try:
            pos = 0
            for item in node.get("content", ()):
                if isinstance(item, int):
                    pos += item  # hole: leave unallocated
                    self.progress.add(item)
                    continue
                data = next(blobs)
                view = memoryview(data)
                while view:
                    n = os.pwrite(fd, view, pos)
                    pos += n
                    view = view[n:]
                self.progress.add(len(data))
            os.ftruncate(fd, pos)
            fs_apply.apply_to_fd(fd, node, self.report, rel)
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.close(fd)
        self._replace(dir_fd, tmp, name)
        self.stats["files"] += 1
        self.stats["bytes"] += pos
        self._remember_link(node, rel)

    def _hardlink(self, dir_fd: int, name: str, node: dict, rel: str) -> None:
        first = self.links[node["link"]]
        tmp = TMP_PREFIX + os.urandom(6).hex()
        # `first` is a path we created ourselves below the root during this restore
        os.link(first, tmp, src_dir_fd=self.root_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        self._replace(dir_fd, tmp, name)
        self.stats["hardlinks"] += 1

    def _remember_link(self, node: dict, rel: str) -> None:
        if "link" in node and node["link"] not in self.links:
            self.links[node["link"]] = rel.lstrip("/")

    def _via_tmp(self, dir_fd: int, name: str, make) -> None:
        tmp = TMP_PREFIX + os.urandom(6).hex()
        make(tmp)
        self._replace(dir_fd, tmp, name)

    def _replace(self, dir_fd: int, tmp: str, name: str) -> None:
        try:
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except IsADirectoryError:
            # the snapshot has a non-directory where the target has a directory
            _remove(dir_fd, name)
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError:
            os.unlink(tmp, dir_fd=dir_fd)
            raise


def _remove(dir_fd: int, name: str) -> None:
    st = os.lstat(name, dir_fd=dir_fd)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd)  # uses fds and does not follow symlinks
    else:
        os.unlink(name, dir_fd=dir_fd)


def restore(
    repo,
    snap_id: str,
    target: str,
    *,
    mode: str = "merge",
    progress: ProgressCallback | None = None,
    report: ReportCallback | None = None,
    workers: int = 0,
) -> dict:
    """Restore snapshot `snap_id` into `target`; returns a summary with an `errors` list."""
    if mode not in MODES:
        raise EngineError(f"unknown restore mode {mode!r}; use merge or replace")
    tune_malloc()
    reporter = Reporter(report)
    with repo.lock(exclusive=False, purpose="restore"):
        snap = repo.load_snapshot(repo.resolve_snapshot(snap_id))
        os.makedirs(target, exist_ok=True)
        tracker = ProgressTracker(progress)
        run = _RestoreRun(repo, mode, tracker, reporter, workers or max(2, os.cpu_count() or 2))
        try:
            tracker.total = run.plan(snap["tree"])
            run.root_fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                run.restore_dir(run.root_fd, snap["tree"], "")
                root = snap.get("root")
                if root:
                    fs_apply.apply_to_fd(run.root_fd, root, reporter, "/")
            finally:
                os.close(run.root_fd)
        finally:
            run.pool.shutdown(wait=True, cancel_futures=True)
        tracker.finish()
    summary = dict(run.stats)
    summary["snapshot"] = snap["id"]
    summary["errors"] = [i for i in reporter.items if i["kind"] == "error"]
    summary["warnings"] = reporter.items
    return summary
