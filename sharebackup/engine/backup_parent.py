"""What an incremental backup takes from its parent snapshot (backup_walk.py asks).

The walk holds the parent's nodes of the directory it is in, by name (parent_children). A file
whose size, times and inode are the parent's keeps the parent's content without being read,
as long as every blob of it is still in the index (unchanged; ask_index_once asks for a whole
run of files at once). A directory whose nodes all equal the parent's keeps the parent's tree
(same_tree). Both marks live in the parent's dicts under keys no tree node has (they begin with
NUL), and are never stored.
"""

from __future__ import annotations

import os

from sharebackup.engine.errors import EngineError
from sharebackup.engine.safe_fs import display
from sharebackup.engine.tree import decode_tree

VERDICT = "\0unchanged"  # kept in a parent node (never stored): no tree key starts with NUL
# in the dict of a directory's parent nodes (parent_children): the id of the parent
# snapshot's tree those nodes come from
TREE_ID = "\0tree"


def parent_children(repo, pnode: dict | None, rel: bytes, report) -> dict | None:
    """The nodes of the parent's tree of a directory (pnode: the parent's node of it), by name."""
    if not pnode or not pnode.get("subtree"):
        return None
    try:
        nodes = decode_tree(repo.load_tree(bytes.fromhex(pnode["subtree"])))
    except (EngineError, ValueError, KeyError) as exc:
        report(display(rel or b"/"), "error", f"parent snapshot tree unreadable, reading all files: {exc}")
        return None
    children = {n["name"]: n for n in nodes}
    children[TREE_ID] = pnode["subtree"]
    return children


def same_tree(nodes: list[dict], parent: dict | None) -> str | None:
    """The parent snapshot's tree id when this directory's nodes are exactly its nodes, so the
    tree need not be encoded, hashed and looked up again (most directories of an incremental)."""
    if not parent or len(parent) - 1 != len(nodes):
        return None
    for node in nodes:
        pnode = parent.get(node["name"])
        if pnode is None:
            return None
        pnode.pop(VERDICT, None)  # asked for while walking: the walk of this directory is done
        if node != pnode:
            return None
    return parent[TREE_ID]


def same_stat(st: os.stat_result, pnode: dict) -> bool:
    """The parent's file node has this stat's size, times and inode: its content is taken as is."""
    return (pnode.get("type") == "file" and pnode.get("size") == st.st_size and pnode.get("mtime_ns") == st.st_mtime_ns
            and pnode.get("ctime_ns") == st.st_ctime_ns and pnode.get("inode") == st.st_ino)


def ask_index_once(index, names: list[bytes], stats: dict, parent: dict) -> None:
    """Keeps the verdict of each file of a run that looks unchanged: are all its blobs still in
    the index? One search for the whole run, not one a file."""
    looks_unchanged = []
    for name in names:
        pnode, st = parent.get(os.fsdecode(name)), stats[name]
        if pnode is not None and isinstance(st, os.stat_result) and same_stat(st, pnode):
            looks_unchanged.append(pnode)
    blobs = [[bytes.fromhex(c) for c in pnode.get("content", ()) if not isinstance(c, int)]
             for pnode in looks_unchanged]
    found = iter(index.contains_many([blob_id for ids in blobs for blob_id in ids]))
    for pnode, ids in zip(looks_unchanged, blobs):
        pnode[VERDICT] = all([next(found) for _ in ids])  # a list: every answer taken, in order


def unchanged(index, st: os.stat_result, pnode: dict | None) -> bool:
    """The file (stat st) keeps the parent's content: its stat is the parent's and its blobs are
    all in the index (asked here only for a file ask_index_once did not see)."""
    if not pnode or not same_stat(st, pnode):
        return False
    verdict = pnode.get(VERDICT)
    if verdict is None:
        verdict = pnode[VERDICT] = all(isinstance(c, int) or bytes.fromhex(c) in index
                                       for c in pnode.get("content", ()))
    return verdict

