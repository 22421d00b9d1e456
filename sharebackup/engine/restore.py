"""Restore of a snapshot into a target directory.

Safety: every name from the snapshot must be one plain path component (decode_tree
refuses others before anything is written), and every file system call is made
relative to a directory fd opened with O_NOFOLLOW, so neither a crafted snapshot (`..`,
`/etc/x`, names with '/') nor a symlink planted in the target makes us write outside
it. A symlink found where the snapshot has a directory is refused (merge mode) or
replaced by a real directory (replace mode); it is never followed.

Integrity: blobs are verified against their ids before their bytes are written. Where a
file may replace something (a directory that existed before this restore), it is written
as an unnamed O_TMPFILE inode (or under a temporary name) and linked or renamed into
place only when whole. In a directory this restore made itself nothing can be replaced,
so files are created there under their own names (O_EXCL | O_NOFOLLOW), as restic and
tar do, which halves the metadata work on a journaled file system. A damaged blob
aborts the restore with IntegrityError; the file being written is unlinked, so no
partial file is left behind (only a killed process can leave one, in a new directory of
a restore that is then reported failed).

Order: the calling thread walks the trees and creates directories, symlinks and
special files; regular files are written by a thread pool (restore_files.py), with the
bytes in flight bounded. Small files (one blob) go to the pool in batches of a
directory's files, which are read from their pack in one go: per-file tasks made
two million GIL hand-offs (futex calls) for a 20,000-file tree. Hard links are made
fd to fd as soon as their first name is written (restore_links.py). A directory's
metadata (mode, times, xattrs) is applied to its own fd once nothing more is written
below it. No path from the target's root is
ever resolved again after the walk has passed it: the target is a tenant's share, and
any directory of it may have been swapped for a symlink meanwhile.

Modes: "merge" overwrites what the snapshot has and leaves other entries; "replace"
also deletes entries the snapshot does not have, making the target an exact copy.
"""

from __future__ import annotations

import os
import stat
import threading

from sharebackup.engine import fs_apply, safe_fs
from sharebackup.engine.blob_prefetch import BlobPrefetcher
from sharebackup.engine.byte_budget import ByteBudget
from sharebackup.engine.errors import EngineError, UnsafePathError
from sharebackup.engine.malloc_tuning import tune_malloc
from sharebackup.engine.progress import ProgressCallback, ProgressTracker, Reporter, ReportCallback
from sharebackup.engine.process_umask import current_umask
from sharebackup.engine.restore_files import (DirHandle, NewFiles, batchable, error_text as _why, remove_entry,
                                              replace_into, tmp_name, write_file)
from sharebackup.engine.restore_target import open_target
from sharebackup.engine.tree import decode_tree
from sharebackup.engine.context_pool import ContextThreadPool
from sharebackup.engine.deep_recursion import allow_deep_trees
from sharebackup.engine.restore_links import LinkGroups
from sharebackup.engine.restore_strays import MAX_STRAYS, Strays
from sharebackup.engine.browse import node_at
from sharebackup.engine.selection import INSIDE, OUT, WAY, Selection

MODES = ("merge", "replace")
# Small files are written in batches: one task (one pack read for the lot, one hand-off between
# threads) for up to this many files or bytes of one directory, instead of one task each.
BATCH_FILES = 64
BATCH_BYTES = 4 * 1024 * 1024
# Directory listings the plan keeps for the walk instead of loading and decoding them twice
# (a node is a few hundred bytes: at most ~15 MB, whatever the tree's size).
PLANNED_NODES = 50_000


class _RestoreRun:
    def __init__(self, repo, mode: str, tracker: ProgressTracker, report: Reporter, workers: int, budget: int,
                 exclude_names: tuple = (), selection: Selection | None = None):
        self.repo = repo
        self.exclude_names = frozenset(exclude_names)
        self.selection = selection or Selection()
        self.mode = mode
        self.progress = tracker
        self.report = report
        # one writer a core: with more, the GIL changed hands at nearly every system call
        self.files = ContextThreadPool(workers, thread_name_prefix="sharebackup-restore")
        self.blob_pool = ContextThreadPool(workers, thread_name_prefix="sharebackup-prefetch")
        self.prefetch = BlobPrefetcher(repo, self.blob_pool, window=8 * 1024 * 1024)
        self.budget = ByteBudget(budget)
        self.slots = ByteBudget(1024)  # files in flight, so small files cannot pile up without bound
        self.first_names: dict[int, str] = {}  # hard-link group -> the name that carries the data
        self.links = LinkGroups(report, self.stats_add)
        self.strays = Strays(repo)
        self.fatal: BaseException | None = None
        self.stats_lock = threading.Lock()
        self.umask = current_umask()
        # (tree id, path) -> the directory's chosen nodes, from plan() to the walk
        self.planned: dict[tuple[str, str], list[dict]] = {}
        self.planned_nodes = 0
        self.stats = {"files": 0, "dirs": 0, "symlinks": 0, "special": 0, "hardlinks": 0, "bytes": 0}

    def tree(self, tree_id: str, rel: str = "", inside: bool = True) -> list[dict]:
        """The entries of a directory that this restore writes (all of them, when nothing is chosen)."""
        planned = self.planned.pop((tree_id, rel), None)
        if planned is not None:  # chosen by plan() for this very path
            self.planned_nodes -= len(planned)
            return planned
        nodes = decode_tree(self.repo.load_tree(bytes.fromhex(tree_id)))
        if self.exclude_names:
            nodes = [n for n in nodes if n["name"] not in self.exclude_names]
        if self.selection.everything and not self.selection.exclude:
            return nodes
        chosen = []
        for node in nodes:
            relp = f"{rel}/{node['name']}"
            where = INSIDE if inside else self.selection.state(relp)
            if where == OUT or (where == WAY and node["type"] != "dir") or self.selection.excluded(relp, node["name"]):
                continue
            chosen.append(node)
        return chosen

    def inside(self, rel: str) -> bool:
        return self.selection.state(rel) == INSIDE

    def plan(self, tree_id: str, rel: str = "") -> int:
        """Pre-pass: refuse unsafe names early, total bytes, first name of each hard-link group."""
        total = 0
        nodes = self.tree(tree_id, rel, self.inside(rel))
        if self.planned_nodes + len(nodes) <= PLANNED_NODES:  # kept for the walk: decoded once
            self.planned[(tree_id, rel)] = nodes
            self.planned_nodes += len(nodes)
        for node in nodes:
            relp = f"{rel}/{node['name']}"
            if node["type"] == "dir":
                total += self.plan(node["subtree"], relp)
            elif "link" in node:
                self.links.count_name(node["link"])
                if node["link"] not in self.first_names:
                    self.first_names[node["link"]] = relp
                    total += node.get("size", 0) if node["type"] == "file" else 0
            elif node["type"] == "file":
                total += node.get("size", 0)
        return total

    # -- the walk (calling thread) -------------------------------------------------
    def restore_dir(self, handle: DirHandle, tree_id: str, rel: str) -> None:
        inside = self.inside(rel)
        nodes = self.tree(tree_id, rel, inside)
        existing = {os.fsdecode(n) for n in safe_fs.names(handle.fd)}
        if self.mode == "replace" and inside:  # a directory on the way keeps what it has
            for name in sorted(existing - {n["name"] for n in nodes} - self.exclude_names):
                try:
                    remove_entry(handle.fd, name)
                except FileNotFoundError:
                    pass  # gone already: the tenant is still working in the share
                except OSError as exc:
                    self.report(f"{rel}/{name}", "error", f"cannot remove: {exc.strerror or exc}")
        batch: list[tuple[dict, str]] = []
        batch_bytes = 0
        for node in nodes:
            if self.fatal is not None:
                raise self.fatal
            relp = f"{rel}/{node['name']}"
            if batchable(node):
                batch.append((node, relp))
                batch_bytes += node.get("size", 0)
                if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                    self._submit_batch(handle, batch, batch_bytes)
                    batch, batch_bytes = [], 0
                continue
            try:
                self.restore_node(handle, node, relp, node["name"] in existing)
            except (UnsafePathError, OSError) as exc:
                self.report(relp, "error", _why(exc))
                if "link" in node and node["type"] != "dir" and self.first_names.get(node["link"]) == relp:
                    self.links.first_failed(node["link"])
        if batch:
            self._submit_batch(handle, batch, batch_bytes)
        if len(self.strays) >= MAX_STRAYS:
            self._write_strays()

    def restore_node(self, handle: DirHandle, node: dict, rel: str, exists: bool) -> None:
        name, kind, fd = node["name"], node["type"], handle.fd
        if "link" in node and kind != "dir" and self.first_names.get(node["link"]) != rel:
            self.links.add_later_name(node["link"], handle, name, rel)
            return
        if kind == "dir":
            self._dir(handle, node, rel, exists)
        elif kind == "file":
            self._submit_file(handle, node, rel)
        elif kind == "symlink":
            made = self._via_tmp(fd, name, lambda tmp: os.symlink(node["target"], tmp, dir_fd=fd))
            fs_apply.apply_to_link(fd, name, node, self.report, rel)
            self.stats["symlinks"] += 1
            self._linked_ok(node, handle, made)
        elif kind == "socket":
            self.report(rel, "skipped", "sockets are recorded but not recreated")
        elif kind in ("fifo", "chardev", "blockdev"):
            fmt = {"fifo": stat.S_IFIFO, "chardev": stat.S_IFCHR, "blockdev": stat.S_IFBLK}[kind]
            made = self._via_tmp(fd, name, lambda tmp: os.mknod(tmp, fmt | 0o600, node.get("rdev", 0), dir_fd=fd))
            fs_apply.apply_to_link(fd, name, node, self.report, rel)
            self.stats["special"] += 1
            self._linked_ok(node, handle, made)
        else:
            self.report(rel, "skipped", f"unknown node type {kind!r}")

    def _dir(self, handle: DirHandle, node: dict, rel: str, exists: bool) -> None:
        fd, name = handle.fd, node["name"]
        if exists:
            st = os.lstat(name, dir_fd=fd)
            if stat.S_ISLNK(st.st_mode) and self.mode == "merge":
                raise UnsafePathError(f"refusing to follow the symlink at {rel} where the snapshot has a directory")
            if not stat.S_ISDIR(st.st_mode):
                os.unlink(name, dir_fd=fd)
                exists = False
        if not exists:
            os.mkdir(name, 0o700, dir_fd=fd)
        # a directory that only leads to a chosen path, and was there already, keeps its own metadata
        kept = os.lstat(name, dir_fd=fd) if exists and not self.inside(rel) else None

        # Applied once the directory is complete (its last reference gone: the walk, its
        # files' tasks, and hard links still to be made to or from it), so restore keeps
        # no per-directory state for the whole tree and never looks a directory up again.
        def on_last(dir_fd, node=node, rel=rel, kept=kept):
            try:
                if kept is not None:
                    os.utime(dir_fd, ns=(kept.st_atime_ns, kept.st_mtime_ns))
                else:
                    fs_apply.apply_to_fd(dir_fd, node, self.report, rel)
            except OSError as exc:
                self.report(rel, "error", f"directory metadata: {exc.strerror or exc}")
        # O_NOFOLLOW: a tenant who swaps the new directory for a symlink gets an error, not our writes
        try:
            child_fd = safe_fs.open_dir(fd, os.fsencode(name))
        except safe_fs.EntryChanged:
            raise safe_fs.EntryChanged(os.fsencode(name), "changed during restore (the new directory was "
                                       "replaced by something else); not restored") from None
        child = DirHandle(child_fd, on_last, fresh=None if exists else NewFiles(child_fd, self.umask))
        try:
            self.restore_dir(child, node["subtree"], rel)
        finally:
            child.unref()
        self.stats["dirs"] += 1

    def _submit(self, handles: list[DirHandle], size: int, files: int, work, referenced: bool = False) -> None:
        """Run ``work`` in the file pool, holding ``size`` bytes and ``files`` slots of the budgets
        and a reference to the directories (taken here unless ``referenced``) until it is done;
        damage stops the whole restore."""
        held = min(size, self.budget.limit)
        self.budget.acquire(held)
        self.slots.acquire(files)
        if not referenced:
            for handle in handles:
                handle.ref()

        def task():
            try:
                work()
            except BaseException as exc:  # damage: stop the whole restore
                self.fatal = self.fatal or exc
            finally:
                for handle in handles:
                    handle.unref()
                self.budget.release(held)
                self.slots.release(files)

        self.files.submit(task)

    def _submit_file(self, handle: DirHandle, node: dict, rel: str) -> None:
        def work():
            try:
                written, made = write_file(self.repo, self.prefetch, handle.fd, node, rel, self.progress, self.report,
                                           want_stat="link" in node, fresh=handle.fresh)
                self.stats_add(files=1, bytes=written)
                self._linked_ok(node, handle, made)
            except (OSError, UnsafePathError) as exc:
                self.report(rel, "error", _why(exc))
                if "link" in node:
                    self.links.first_failed(node["link"])

        self._submit([handle], node.get("size", 0), 1, work)

    def _submit_batch(self, handle: DirHandle, batch: list[tuple[dict, str]], size: int) -> None:
        def work():
            self._write_small([(handle, node, rel) for node, rel in self.strays.set_aside(handle, batch)])

        self._submit([handle], size, len(batch), work)

    def _write_strays(self) -> None:
        """Write the strays set aside so far, in group order, in batches (restore_strays.py)."""
        items = self.strays.take()
        for start in range(0, len(items), BATCH_FILES):
            chunk = [(handle, node, rel) for _, handle, node, rel in items[start:start + BATCH_FILES]]
            self._submit([handle for handle, _, _ in chunk], sum(node.get("size", 0) for _, node, _ in chunk),
                         len(chunk), lambda chunk=chunk: self._write_small(chunk), referenced=True)

    def _write_small(self, items: list[tuple[DirHandle, dict, str]]) -> None:
        """Small files, each into its directory; their blobs loaded together (verified)."""
        per_node = [[bytes.fromhex(c) for c in node.get("content", ()) if isinstance(c, str)] for _, node, _ in items]
        loaded = iter(self.repo.load_blobs([i for ids in per_node for i in ids]))
        written = files = 0
        for (handle, node, rel), ids in zip(items, per_node):
            blobs = [next(loaded) for _ in ids]  # this file's, whether or not it gets written
            if self.fatal is not None:
                break
            try:
                n, _ = write_file(self.repo, None, handle.fd, node, rel, self.progress, self.report,
                                  blobs=iter(blobs), want_stat=False, fresh=handle.fresh)
                written, files = written + n, files + 1
            except (OSError, UnsafePathError) as exc:
                self.report(rel, "error", _why(exc))
        self.stats_add(files=files, bytes=written)

    def stats_add(self, **counts: int) -> None:
        with self.stats_lock:
            for key, n in counts.items():
                self.stats[key] += n

    def _linked_ok(self, node: dict, handle: DirHandle, made: os.stat_result) -> None:
        if "link" in node:
            self.links.first_done(node["link"], handle, node["name"], made)

    def _via_tmp(self, dir_fd: int, name: str, make) -> os.stat_result:
        tmp = tmp_name()
        make(tmp)
        made = os.stat(tmp, dir_fd=dir_fd, follow_symlinks=False)
        replace_into(dir_fd, tmp, name)
        return made

    # -- the end ---------------------------------------------------------------------------
    def finish(self) -> None:
        self.slots.wait_idle()
        while len(self.strays) and self.fatal is None:  # batches still running may set more aside
            self._write_strays()
            self.slots.wait_idle()
        if self.fatal is not None:
            raise self.fatal
        self.links.finish()

    def close(self) -> None:
        self.files.shutdown(wait=True, cancel_futures=True)
        self.blob_pool.shutdown(wait=True, cancel_futures=True)
        self.strays.release()


def restore(
    repo,
    snap_id: str,
    target: str,
    *,
    mode: str = "merge",
    progress: ProgressCallback | None = None,
    report: ReportCallback | None = None,
    workers: int = 0,
    max_inflight_bytes: int = 64 * 1024 * 1024,
    exclude_names: tuple = (),
    include: list[str] | tuple = (),
    exclude: list[str] | tuple = (),
    target_subdir: str = "",
) -> dict:
    """Restore snapshot `snap_id` into `target` (or its directory ``target_subdir``, see _descend);
    returns a summary with an `errors` list.

    ``include``: only these paths of the snapshot (and the directories leading to them);
    ``exclude``: glob patterns matched against each name and each /path. Replace mode then
    removes extras only inside the included paths."""
    if mode not in MODES:
        raise EngineError(f"unknown restore mode {mode!r}; use merge or replace")
    selection = Selection(include, exclude)
    tune_malloc()
    reporter = Reporter(report)
    with repo.lock(exclusive=False, purpose="restore"):
        snap = repo.load_snapshot(repo.resolve_snapshot(snap_id))
        for path in include:
            node_at(repo, snap, path)  # PathNotFound before anything is written
        tracker = ProgressTracker(progress)
        run = _RestoreRun(repo, mode, tracker, reporter, workers or max(2, os.cpu_count() or 2), max_inflight_bytes,
                          exclude_names, selection)
        try:
            tracker.total = run.plan(snap["tree"])
            root_fd = open_target(target, target_subdir)
            root_before = os.fstat(root_fd)
            try:
                root = DirHandle(os.dup(root_fd),  # an empty target is as good as one we made
                                 fresh=None if safe_fs.names(root_fd) else NewFiles(root_fd, run.umask))
                try:
                    allow_deep_trees()
                    run.restore_dir(root, snap["tree"], "")
                finally:
                    root.unref()
                run.finish()
                if selection.everything and snap.get("root"):
                    fs_apply.apply_to_fd(root_fd, snap["root"], reporter, "/")
                elif not selection.everything:  # the target's root only leads to the chosen paths
                    os.utime(root_fd, ns=(root_before.st_atime_ns, root_before.st_mtime_ns))
            finally:
                os.close(root_fd)
        finally:
            run.close()
        tracker.finish()
    summary = dict(run.stats)
    summary["snapshot"] = snap["id"]
    summary["errors"] = [i for i in reporter.items if i["kind"] == "error"]
    summary["warnings"] = reporter.items
    return summary
