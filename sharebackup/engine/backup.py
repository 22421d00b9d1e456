"""Backup of a directory tree into a snapshot.

Pipeline: the calling thread walks the tree (sorted, depth first), reads files and cuts
them into chunks (pyfastcdc's scan releases the GIL); a thread pool hashes, dedups,
compresses and encrypts each chunk (BLAKE3, zstd and AES-GCM all release the GIL) and
fills packs. Memory is bounded by a byte budget for chunks in flight plus one open
pack per blob type, whatever the file or tree size.

Directory trees are finished in post-order as soon as their files' chunk futures are
done, without stalling the walk. The manifest is saved last, after every pack and index
delta is stored: a crash leaves unreferenced packs (reused by the next backup, removed
by gc), never a snapshot that points at missing data.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import time

from sharebackup.engine import safe_fs, safe_tree
from sharebackup.engine.backup_parent import parent_children
from sharebackup.engine.backup_walk import BackupRun
from sharebackup.engine.deep_recursion import allow_deep_trees
from sharebackup.engine.errors import EngineError
from sharebackup.engine.malloc_tuning import tune_malloc
from sharebackup.engine.metadata_warmer import MetadataWarmer
from sharebackup.engine.progress import ProgressCallback, ProgressTracker, Reporter, ReportCallback
from sharebackup.engine.tree import node_from_stat


@dataclasses.dataclass
class BackupOptions:
    workers: int = 0  # 0: one per CPU, at least 2
    max_inflight_bytes: int = 16 * 1024 * 1024
    special_files: str = "record"  # "record" fifos/sockets/devices, or "skip" them (reported)
    index_every: int = 8  # packs per index delta
    exclude_names: tuple = ()  # entry names skipped at any depth (e.g. "lost+found")
    # an incremental whose parent snapshot has at least this many entries runs a MetadataWarmer
    # (engine/metadata_warmer.py) beside its walk; 0 turns it off
    warm_metadata_from: int = 2000


def backup(
    repo,
    src: str,
    *,
    parent: str | None = None,
    progress: ProgressCallback | None = None,
    report: ReportCallback | None = None,
    hostname: str | None = None,
    tags: list[str] | tuple = (),
    options: BackupOptions | None = None,
    snapshot_time_ns: int | None = None,
) -> str:
    """Back up directory `src`; returns the new snapshot id. See the package docstring.

    ``snapshot_time_ns`` records another time than now as the snapshot's (restic's --time)."""
    tune_malloc()
    options = options or BackupOptions()
    src = os.path.abspath(src)
    try:
        root_fd = safe_fs.open_root(src)
    except NotADirectoryError:
        raise EngineError(f"{src} is not a directory") from None
    try:
        return _backup_root(repo, src, root_fd, parent, progress, report, hostname, tags, options,
                            snapshot_time_ns)
    finally:
        os.close(root_fd)


def _backup_root(repo, src, root_fd, parent, progress, report, hostname, tags, options, snapshot_time_ns) -> str:
    root_st = os.fstat(root_fd)
    started = time.time()
    reporter = Reporter(report)
    with repo.lock(exclusive=False, purpose="backup"):
        repo.recover_unindexed_packs()
        parent_id = repo.resolve_snapshot(parent) if parent else None
        parent_root = parent_doc = None
        if parent_id:
            parent_doc = repo.load_snapshot(parent_id)
            parent_root = {"type": "dir", "subtree": parent_doc["tree"]}
        # the size walk of a large share takes a while: it reports "0 done" as it goes, so a
        # caller watching for a stalled job (jobs.backup_job_progress.JobProgress) sees it alive
        total = safe_tree.tree_size(root_fd, skip_errors=True, tick=lambda: progress(0, 0)) if progress else 0
        tracker = ProgressTracker(progress, total)
        run = BackupRun(repo, options, tracker, reporter)
        try:
            allow_deep_trees()
            if parent_doc and 0 < options.warm_metadata_from <= _entries(parent_doc):
                run.warmer = MetadataWarmer.start(root_fd, run.exclude)
            root_tree = run.walk_dir(root_fd, b"", parent_children(repo, parent_root, b"", reporter))
            run._drain(block=True)
            run.writer.flush()
        finally:
            run.close()
        tracker.finish()
        root = node_from_stat("", root_st)
        xattrs = safe_fs.xattrs(root_fd)
        if xattrs:
            root["xattrs"] = xattrs
        w = run.writer
        summary = dict(run.stats)
        summary.update(
            {
                "blobs_added": w.new_blobs,
                "data_added": w.new_plain_bytes,
                "data_added_stored": w.new_stored_bytes,
                "packs_added": w.packs_written,
                "total_bytes": tracker.done,
                "warnings": reporter.count,
                "duration_s": round(time.time() - started, 3),
            }
        )
        doc = {
            "v": 1,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snapshot_time_ns / 1e9 if snapshot_time_ns
                                                                    else started)),
            "time_ns": snapshot_time_ns or time.time_ns(),
            "hostname": hostname or os.uname().nodename,  # gethostname(), without importing socket
            "username": _username(),
            "paths": [src],
            "tree": root_tree.tree_id,
            "root": root,
            "parent": parent_id,
            "tags": list(tags),
            "summary": summary,
            "warnings": reporter.items,
        }
        return repo.save_snapshot(doc)


def _entries(snapshot: dict) -> int:
    summary = snapshot.get("summary") or {}
    return sum(summary.get(k, 0) for k in ("files_new", "files_changed", "files_unmodified", "dirs"))


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
