"""The backup walker: reads a tree, feeds the chunk pipeline, builds tree blobs.

See backup.py for the pipeline as a whole. The calling thread walks the tree (sorted,
depth first), reads files (with read-ahead for small ones) and cuts them into chunks;
a thread pool hashes, deduplicates, compresses and encrypts each chunk. Directory trees
are finished in post-order as soon as their chunk futures are done, without stalling
the walk, and their node lists are dropped once stored.
"""

from __future__ import annotations

import collections
import os
import stat
from concurrent.futures import Future

from sharebackup.engine import file_reader
from sharebackup.engine.byte_budget import ByteBudget
from sharebackup.engine.errors import EngineError
from sharebackup.engine.pack import BLOB_DATA, BLOB_TREE
from sharebackup.engine.packer import BlobWriter
from sharebackup.engine.progress import ProgressTracker, Reporter
from sharebackup.engine.read_ahead import ReadAhead
from sharebackup.engine.tree import decode_tree, encode_tree, node_from_stat, read_xattrs
from sharebackup.engine.context_pool import ContextThreadPool

SPECIAL_TYPES = ("fifo", "socket", "chardev", "blockdev")


class _PendingTree:
    __slots__ = ("nodes", "futures", "tree_id")

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.futures: list[Future] = []
        self.tree_id: str | None = None

    def ready(self) -> bool:
        return all(f.done() for f in self.futures)


class BackupRun:
    def __init__(self, repo, options, progress: ProgressTracker, report: Reporter):
        self.repo = repo
        self.options = options
        self.progress = progress
        self.report = report
        self.writer = BlobWriter(repo, index_every=options.index_every)
        workers = options.workers or max(2, os.cpu_count() or 2)
        self.pool = ContextThreadPool(workers, thread_name_prefix="sharebackup-backup")
        self.budget = ByteBudget(options.max_inflight_bytes)
        self.chunker = repo.chunker()
        self.small_limit = repo.config["chunker"]["min_size"]
        self.queue: collections.deque[_PendingTree] = collections.deque()
        self.links: dict[tuple[int, int], dict] = {}
        self.next_link = 0
        self.stats = collections.Counter()

    # -- chunk work, run in the pool ---------------------------------------------
    def _store_chunk(self, data: bytes) -> bytes:
        try:
            return self.writer.store_blob(BLOB_DATA, data)
        finally:
            self.budget.release(len(data))

    def _submit(self, data: bytes) -> Future:
        self.budget.acquire(len(data))
        return self.pool.submit(self._store_chunk, data)

    # -- tree finishing --------------------------------------------------------------
    def _finalize(self, pt: _PendingTree) -> None:
        for node in pt.nodes:
            content = node.get("content")
            if content:
                for i, item in enumerate(content):
                    if isinstance(item, Future):
                        content[i] = item.result().hex()
            sub = node.get("subtree")
            if isinstance(sub, _PendingTree):
                node["subtree"] = sub.tree_id
        pt.tree_id = self.writer.store_blob(BLOB_TREE, encode_tree(pt.nodes)).hex()
        # Only the id is needed from now on; dropping the nodes keeps memory bounded by
        # the directories still open, not by the size of the tree.
        pt.futures = []
        pt.nodes = []

    def _drain(self, block: bool) -> None:
        while self.queue and (block or self.queue[0].ready()):
            self._finalize(self.queue.popleft())

    # -- walking ------------------------------------------------------------------------
    def _parent_children(self, pnode: dict | None, rel: str) -> dict | None:
        if not pnode or not pnode.get("subtree"):
            return None
        try:
            nodes = decode_tree(self.repo.load_tree(bytes.fromhex(pnode["subtree"])))
        except (EngineError, ValueError, KeyError) as exc:
            self.report(rel, "error", f"parent snapshot tree unreadable, reading all files: {exc}")
            return None
        return {n["name"]: n for n in nodes}

    def walk_dir(self, path: str, rel: str, parent: dict | None) -> _PendingTree:
        pt = _PendingTree()
        try:
            with os.scandir(path) as it:
                entries = sorted(e.name for e in it if e.name not in self.options.exclude_names)
        except OSError as exc:
            self.report(rel or "/", "error", f"cannot list directory: {exc.strerror}")
            entries = []
        stats: dict[str, os.stat_result | OSError] = {}
        for name in entries:
            try:
                stats[name] = os.lstat(os.path.join(path, name))
            except OSError as exc:
                stats[name] = exc
        # Runs of non-directory entries get read-ahead for their small files.
        run: list[str] = []
        for name in entries + [None]:
            st = stats.get(name)
            if name is not None and not (isinstance(st, os.stat_result) and stat.S_ISDIR(st.st_mode)):
                run.append(name)
                continue
            if run:
                self._walk_run(path, rel, run, stats, parent, pt)
                run = []
            if name is not None:
                self._walk_entry(path, rel, name, stats[name], parent, pt, None)
        self.stats["dirs"] += 1
        self.queue.append(pt)
        self._drain(block=False)
        return pt

    def _walk_run(self, path, rel, names, stats, parent, pt) -> None:
        small = []
        for name in names:
            st = stats[name]
            if (isinstance(st, os.stat_result) and stat.S_ISREG(st.st_mode) and 0 < st.st_size < self.small_limit
                    and st.st_nlink == 1  # other names of an inode are not read again
                    and not self._unchanged(st, parent.get(name) if parent else None)):
                small.append(os.path.join(path, name))
        ahead = ReadAhead(small, _open_for_reading) if len(small) > 1 else None
        try:
            for name in names:
                self._walk_entry(path, rel, name, stats[name], parent, pt, ahead)
        finally:
            if ahead is not None:
                ahead.close()

    def _walk_entry(self, path, rel, name, st, parent, pt, ahead) -> None:
        full = os.path.join(path, name)
        relp = f"{rel}/{name}"
        try:
            if isinstance(st, OSError):
                raise st
            node = self._entry(full, relp, name, st, parent.get(name) if parent else None, pt, ahead)
        except FileNotFoundError:
            self.report(relp, "vanished", "removed during backup; not in snapshot")
            return
        except OSError as exc:
            self.report(relp, "error", f"{exc.strerror or exc}; not in snapshot")
            return
        if node is not None:
            pt.nodes.append(node)

    def _entry(self, full: str, rel: str, name: str, st: os.stat_result, pnode: dict | None, pt: _PendingTree,
               ahead: ReadAhead | None = None) -> dict | None:
        node = node_from_stat(name, st)
        kind = node["type"]
        if pnode is not None and pnode.get("type") != kind:
            pnode = None
        if kind in SPECIAL_TYPES and self.options.special_files == "skip":
            self.report(rel, "skipped", f"{kind} not backed up (special_files=skip)")
            return None
        xattrs = read_xattrs(full, is_link=kind == "symlink")
        if xattrs:
            node["xattrs"] = xattrs
        if kind != "dir" and st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                # another name of an inode already in this snapshot: share its content
                node["link"] = first["link"]
                for key in ("content", "size", "target"):
                    if key in first:
                        node[key] = first[key]
                pt.futures.extend(f for f in node.get("content", ()) if isinstance(f, Future))
                self.stats["hardlinks"] += 1
                return node
            node["link"] = self.next_link
            self.next_link += 1
            self.links[(st.st_dev, st.st_ino)] = node
        if kind == "dir":
            node["subtree"] = self.walk_dir(full, rel, self._parent_children(pnode, rel))
        elif kind == "file":
            self._file(full, rel, st, node, pnode, pt, ahead.take(full) if ahead else None)
        elif kind == "symlink":
            node["target"] = os.readlink(full)
        else:
            self.stats["special"] += 1
        return node

    def _unchanged(self, st: os.stat_result, pnode: dict | None) -> bool:
        if not pnode or pnode.get("type") != "file":
            return False
        if (pnode.get("size"), pnode.get("mtime_ns"), pnode.get("ctime_ns"), pnode.get("inode")) != (
            st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino,
        ):
            return False
        index = self.repo.index
        return all(isinstance(c, int) or bytes.fromhex(c) in index for c in pnode.get("content", ()))

    def _file(self, full: str, rel: str, st: os.stat_result, node: dict, pnode: dict | None, pt: _PendingTree,
              fd: int | None = None) -> None:
        if self._unchanged(st, pnode):
            node["size"] = st.st_size
            node["content"] = list(pnode.get("content", ()))
            self.progress.add(st.st_size)
            self.stats["files_unmodified"] += 1
            return
        self.stats["files_changed" if pnode else "files_new"] += 1
        if fd is None:
            fd = _open_for_reading(full)
        try:
            st2 = os.fstat(fd)
            if st2.st_ino != st.st_ino:
                self.report(rel, "changed", "replaced between listing and reading; the new file is saved")
            node.update({k: v for k, v in node_from_stat(node["name"], st2).items() if k != "name"})
            content: list = []
            size = 0
            for piece in file_reader.iter_pieces(fd, st2, self.chunker, self.small_limit):
                if isinstance(piece, int):
                    content.append(piece)
                    size += piece
                else:
                    fut = self._submit(piece)
                    content.append(fut)
                    pt.futures.append(fut)
                    size += len(piece)
                self.progress.add(len(piece) if not isinstance(piece, int) else piece)
                self.stats["bytes_read"] += 0 if isinstance(piece, int) else len(piece)
            st3 = os.fstat(fd)
        finally:
            os.close(fd)
        if st3.st_mtime_ns != st2.st_mtime_ns or size != st2.st_size:
            self.report(rel, "changed", f"modified while being read (saved {size} bytes as read)")
        node["size"] = size
        node["content"] = content

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _open_for_reading(path: str) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
    try:
        return os.open(path, flags | os.O_NOATIME)  # keep atime: we are not a reader the user cares about
    except PermissionError:
        return os.open(path, flags)  # O_NOATIME needs ownership
