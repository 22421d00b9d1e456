"""The backup walker: reads a tree, feeds the chunk pipeline, builds tree blobs.

The tree is a tenant's and may change under us at any time: it is read only through
directory fds (safe_fs), names are bytes until they go into a tree node, and an entry
that is not what was listed is reported as changed, never read from elsewhere.

See backup.py for the pipeline as a whole. The calling thread walks the tree (sorted,
depth first), reads files (with read-ahead for small ones) and cuts them into chunks; a
reader thread does the same for large files meanwhile; a thread pool hashes, deduplicates,
compresses and encrypts each chunk. Directory trees are finished in post-order as soon as
their chunk futures are done, without stalling the walk (backup_pending.py), and their node
lists are dropped once stored; a directory whose nodes are all its parent snapshot's keeps
that snapshot's tree.
"""

from __future__ import annotations

import collections
import os
import stat
import threading
from concurrent.futures import Future

from sharebackup.engine import file_reader, safe_fs
from sharebackup.engine.blob_groups import GROUP_BLOBS, GROUP_BYTES
from sharebackup.engine.backup_pending import PENDING, Batch, LargeRead, PendingTree, Slot
from sharebackup.engine.backup_parent import ask_index_once, parent_children, same_tree, unchanged
from sharebackup.engine.byte_budget import ByteBudget
from sharebackup.engine.errors import EngineError
from sharebackup.engine.pack import BLOB_DATA, BLOB_TREE
from sharebackup.engine.metadata_warmer import MetadataWarmer
from sharebackup.engine.packer import BlobWriter
from sharebackup.engine.progress import ProgressTracker, Reporter
from sharebackup.engine.read_ahead import ReadAhead
from sharebackup.engine.safe_fs import display
from sharebackup.engine.tree import encode_tree, node_from_stat
from sharebackup.engine.context_pool import ContextThreadPool

SPECIAL_TYPES = ("fifo", "socket", "chardev", "blockdev")
# Small files' blobs go to the pool in batches (one task for up to this many, or this many
# bytes): a task per file made a million thread hand-offs, each a few futex calls, for a
# million small files. In a format-3 repository a batch's new blobs are stored as one group
# (engine/blob_groups.py), so a batch is as large as a group.
BATCH_BLOBS = GROUP_BLOBS
BATCH_BYTES = GROUP_BYTES
# A file this large (the chunker's largest chunk) is read and cut by the reader thread while the
# walk goes on: in an incremental the walk is one core's work, and the other core was idle while
# the walk read a changed 102 MiB disk image again (about 0.15 s of a 1.2 s CLI incremental).
# At most LARGE_QUEUED such files are open and waiting for the reader at once.
LARGE_FILE = 4 << 20
LARGE_QUEUED = 2


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
        self.large_file = max(LARGE_FILE, self.small_limit)  # the reader sends no small-file batches
        self.exclude = frozenset(os.fsencode(n) for n in options.exclude_names)
        self.queue: collections.deque[PendingTree] = collections.deque()
        self.links: dict[tuple[int, int], dict] = {}
        self.next_link = 0
        self.stats = collections.Counter()
        self.batch = Batch()
        self.warmer: MetadataWarmer | None = None  # told of each directory entered, where one runs
        self.reader = ContextThreadPool(1, thread_name_prefix="sharebackup-read")
        self._large_slots = threading.BoundedSemaphore(LARGE_QUEUED)
        self._stopping = False

    # -- chunk work, run in the pool ---------------------------------------------
    def _store_chunk(self, data: bytes) -> bytes:
        try:
            return self.writer.store_blob(BLOB_DATA, data)
        finally:
            self.budget.release(len(data))

    def _submit(self, data: bytes) -> Future:
        if self._stopping:  # set by close(): the reader thread gives up the file it reads
            raise EngineError("backup stopped")
        self.budget.acquire(len(data))
        return self.pool.submit(self._store_chunk, data)

    def _store_batch(self, items: list[bytes], size: int) -> list[bytes]:
        try:
            return self.writer.store_blobs(BLOB_DATA, items)
        finally:
            self.budget.release(size)

    def _submit_small(self, data: bytes) -> Slot:
        # The open batch takes its budget when it is sent, not file by file: the walk then
        # never waits for bytes that only it can let go, and a batch is not cut short (a
        # smaller group) because large files hold the budget. Memory: the budget plus one batch.
        batch = self.batch
        slot = Slot(batch, len(batch.items))
        batch.items.append(data)
        batch.size += len(data)
        if len(batch.items) >= BATCH_BLOBS or batch.size >= BATCH_BYTES:
            self._send_batch()
        return slot

    def _send_batch(self) -> None:
        batch, self.batch = self.batch, Batch()
        if batch.items:
            self.budget.acquire(batch.size)
            batch.future = self.pool.submit(self._store_batch, batch.items, batch.size)
            # the slots of queued trees keep the batch: its data must not stay with it
            batch.items = None

    # -- tree finishing --------------------------------------------------------------
    def _finalize(self, pt: PendingTree) -> None:
        if pt.large_reads:
            pt.nodes = [node for node in pt.nodes if self._large_read_kept(node)]
        for node in pt.nodes:
            content = node.get("content")
            if content:
                for i, item in enumerate(content):
                    if isinstance(item, PENDING):
                        content[i] = item.result().hex()
            sub = node.get("subtree")
            if isinstance(sub, PendingTree):
                node["subtree"] = sub.tree_id
        pt.tree_id = same_tree(pt.nodes, pt.parent) or self.writer.store_blob(BLOB_TREE, encode_tree(pt.nodes)).hex()
        # Only the id is needed from now on; dropping the nodes keeps memory bounded by
        # the directories still open, not by the size of the tree.
        pt.futures = []
        pt.nodes = []
        pt.parent = None

    def _large_read_kept(self, node: dict) -> bool:
        """Puts a large file's read content into its node; False if the read failed (reported)."""
        read = node.get("content")
        if not isinstance(read, LargeRead):
            return True
        try:
            content = read.future.result()
        except OSError as exc:
            self.report(display(read.rel), "error", f"{exc.strerror or exc}; not in snapshot")
            return False
        self._file_read(read.rel, node, read.had_parent, content)
        return True

    def _drain(self, block: bool) -> None:
        if block:
            self._send_batch()  # what is waited for must not wait for more files
        while self.queue and (block or self.queue[0].ready()):
            self._finalize(self.queue.popleft())

    # -- walking (by directory fd: see safe_fs) ------------------------------------------
    def walk_dir(self, dir_fd: int, rel: bytes, parent: dict | None, depth: int = 0) -> PendingTree:
        """Back up the directory open as dir_fd (rel: its path below the root, for messages)."""
        pt = PendingTree(parent)
        if self.warmer is not None:
            self.warmer.entered()
        try:
            entries = [n for n in safe_fs.names(dir_fd) if n not in self.exclude]
        except OSError as exc:
            self.report(display(rel or b"/"), "error", f"cannot list directory: {exc.strerror}")
            entries = []
        stats: dict[bytes, os.stat_result | OSError] = {}
        for name in entries:
            try:
                stats[name] = safe_fs.lstat(dir_fd, name)
            except OSError as exc:
                stats[name] = exc
        # Runs of non-directory entries get read-ahead for their small files.
        run: list[bytes] = []
        for name in entries + [None]:
            st = stats.get(name)
            if name is not None and not (isinstance(st, os.stat_result) and stat.S_ISDIR(st.st_mode)):
                run.append(name)
                continue
            if run:
                self._walk_run(dir_fd, rel, run, stats, parent, pt, depth)
                run = []
            if name is not None:
                self._walk_entry(dir_fd, rel, name, stats[name], parent, pt, None, depth)
        if depth:  # directories below the root, as the restore counts them (the root is the target)
            self.stats["dirs"] += 1
        # the batch stays open across directories (a group's compression gains from more files):
        # a directory's tree waits for it until it is full, or until _drain blocks
        if pt.futures:
            # a file read anew has a node of its own, so this tree is not the parent's; its
            # nodes are let go now, not when the batch is done (an incremental changing 1% of
            # 200,000 files held about 50 directories' parent nodes, 115 -> 168 MB)
            pt.parent = None
        self.queue.append(pt)
        self._drain(block=False)
        return pt

    def _walk_run(self, dir_fd, rel, names, stats, parent, pt, depth) -> None:
        if parent:
            ask_index_once(self.repo.index, names, stats, parent)
        small = []
        for name in names:
            st = stats[name]
            if (isinstance(st, os.stat_result) and stat.S_ISREG(st.st_mode) and 0 < st.st_size < self.small_limit
                    and st.st_nlink == 1  # other names of an inode are not read again
                    and not unchanged(self.repo.index, st, parent.get(os.fsdecode(name)) if parent else None)):
                small.append(name)
        ahead = None
        if len(small) > 1:
            ahead = ReadAhead(small, lambda name: _open_for_reading(dir_fd, name, stats[name]))
        try:
            for name in names:
                self._walk_entry(dir_fd, rel, name, stats[name], parent, pt, ahead, depth)
        finally:
            if ahead is not None:
                ahead.close()

    def _walk_entry(self, dir_fd, rel, name, st, parent, pt, ahead, depth) -> None:
        relp = rel + b"/" + name
        pnode = parent.get(os.fsdecode(name)) if parent else None
        try:
            if isinstance(st, OSError):
                raise st
            try:
                node = self._entry(dir_fd, relp, name, st, pnode, pt, ahead, depth)
            except safe_fs.EntryChanged:
                # Replaced between listing and opening: look again, once, at what the
                # name holds now (in this same directory, never through a link).
                node = self._entry(dir_fd, relp, name, safe_fs.lstat(dir_fd, name), pnode, pt, None, depth)
                self.report(display(relp), "changed", "changed during backup (replaced while being listed); "
                                                      "the entry as it was then is saved")
        except safe_fs.EntryChanged:
            self.report(display(relp), "changed", "changed during backup (replaced twice while being read); "
                                                  "not in snapshot")
            return
        except FileNotFoundError:
            self.report(display(relp), "vanished", "removed during backup; not in snapshot")
            return
        except OSError as exc:
            self.report(display(relp), "error", f"{exc.strerror or exc}; not in snapshot")
            return
        if node is not None:
            pt.nodes.append(node)

    def _entry(self, dir_fd: int, rel: bytes, name: bytes, st: os.stat_result, pnode: dict | None,
               pt: PendingTree, ahead: ReadAhead | None, depth: int) -> dict | None:
        node = node_from_stat(os.fsdecode(name), st)
        kind = node["type"]
        if pnode is not None and pnode.get("type") != kind:
            pnode = None
        if kind in SPECIAL_TYPES and self.options.special_files == "skip":
            self.report(display(rel), "skipped", f"{kind} not backed up (special_files=skip)")
            return None
        if kind == "dir":
            if depth + 1 > safe_fs.MAX_DEPTH:
                self.report(display(rel), "error", f"more than {safe_fs.MAX_DEPTH} directory levels deep; "
                                                   "not in snapshot")
                return None
            fd = safe_fs.open_dir(dir_fd, name, st)
            try:
                _set_xattrs(node, safe_fs.xattrs(fd))
                node["subtree"] = self.walk_dir(fd, rel, parent_children(self.repo, pnode, rel, self.report), depth + 1)
            finally:
                os.close(fd)
            return node
        if st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                # another name of an inode already in this snapshot: share its content
                node["link"] = first["link"]
                for key in ("content", "size", "target", "xattrs"):
                    if key in first:
                        node[key] = first[key]
                pt.futures.extend(f for f in node.get("content", ()) if isinstance(f, PENDING))
                self.stats["hardlinks"] += 1
                return node
        if kind == "file":
            self._file(dir_fd, rel, name, st, node, pnode, pt, ahead.take(name) if ahead else None)
        else:
            _set_xattrs(node, safe_fs.xattrs_at(dir_fd, name))
            if kind == "symlink":
                node["target"] = os.fsdecode(safe_fs.readlink(dir_fd, name))
            else:
                self.stats["special"] += 1
        if st.st_nlink > 1:
            # numbered only once whole: a name that failed must not lend its group to others
            node["link"] = self.next_link
            self.next_link += 1
            self.links[(st.st_dev, st.st_ino)] = node
        return node

    def _file(self, dir_fd: int, rel: bytes, name: bytes, st: os.stat_result, node: dict, pnode: dict | None,
              pt: PendingTree, opened: tuple | None = None) -> None:
        if unchanged(self.repo.index, st, pnode):
            if opened is not None:
                os.close(opened[0])
            # the parent's xattrs: setting or removing one changes the ctime, which matched
            _set_xattrs(node, pnode.get("xattrs"))
            node["size"] = st.st_size
            node["content"] = list(pnode.get("content", ()))
            self.progress.add(st.st_size)
            self.stats["files_unmodified"] += 1
            return
        # EntryChanged unless it is the listed file; st2: its fstat right after the open
        fd, st2 = opened or _open_for_reading(dir_fd, name, st)
        try:
            if (st2.st_ctime_ns, st2.st_mtime_ns, st2.st_ino) != (st.st_ctime_ns, st.st_mtime_ns, st.st_ino):
                # changed since it was listed (any metadata change moves the ctime): as opened
                node.update({k: v for k, v in node_from_stat(node["name"], st2).items() if k != "name"})
            _set_xattrs(node, safe_fs.xattrs(fd))
            # (a file of several names is read here: its node lends its content to the other names)
            if st2.st_size >= self.large_file and st.st_nlink == st2.st_nlink == 1:
                self._large_slots.acquire()
                try:
                    future = self.reader.submit(self._read_large, fd, st2)
                except BaseException:
                    self._large_slots.release()
                    raise
                fd = None  # the reader closes it
                node["content"] = LargeRead(future, rel, pnode is not None)
                pt.futures.append(node["content"])
                pt.large_reads = True
                return
            send = self._submit_small if st2.st_size < self.small_limit else self._submit
            content = file_reader.read_content(fd, st2, self.chunker, self.small_limit, send, self.progress.add)
        finally:
            if fd is not None:
                os.close(fd)
        pt.futures.extend(p for p in content.pieces if isinstance(p, PENDING))
        self._file_read(rel, node, pnode is not None, content)

    def _read_large(self, fd: int, st: os.stat_result) -> file_reader.Content:
        """The reader thread's task: one large file's content; closes fd."""
        try:
            return file_reader.read_content(fd, st, self.chunker, self.small_limit, self._submit,
                                            self.progress.add)
        finally:
            os.close(fd)
            self._large_slots.release()

    def _file_read(self, rel: bytes, node: dict, had_parent: bool, content: file_reader.Content) -> None:
        """A file read (in the walk's thread): its node and the run's counts."""
        self.stats["bytes_read"] += content.bytes_read
        self.stats["files_changed" if had_parent else "files_new"] += 1
        if content.modified:
            self.report(display(rel), "changed", f"modified while being read (saved {content.size} bytes as read)")
        node["size"] = content.size
        node["content"] = content.pieces

    def close(self) -> None:
        if self.warmer is not None:
            self.warmer.close()
            self.warmer = None
        # the reader first, while the pool still frees the budget it may wait for; what it was
        # given it gives up at the next chunk (each task closes its file)
        self._stopping = True
        self.reader.shutdown(wait=True)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.writer.close()


def _open_for_reading(dir_fd: int, name: bytes, expect: os.stat_result) -> tuple[int, os.stat_result]:
    """The listed regular file, opened below its directory's fd (safe_fs.EntryChanged if not),
    and its fstat taken right after the open (one fstat a file, not two)."""
    return safe_fs.open_file_stat(dir_fd, name, expect)


def _set_xattrs(node: dict, xattrs: dict) -> None:
    if xattrs:
        node["xattrs"] = xattrs
