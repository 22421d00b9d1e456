"""Tree nodes: what a snapshot records about each directory entry, and name safety.

A tree blob is the JSON document {"nodes": [node, ...]} with nodes sorted by name.
Names and symlink targets are `os.fsdecode`d, so undecodable bytes survive as lone
surrogates (JSON escapes them as \\udcXX) and `os.fsencode` gives the bytes back.
Node keys (absent when not applicable):
    name, type (file|dir|symlink|fifo|socket|chardev|blockdev), mode (permission bits),
    uid, gid, mtime_ns, ctime_ns, inode, size, rdev (devices),
    content (files: list of blob id hex strings, or ints = lengths of sparse holes),
    subtree (dirs: tree blob id hex), target (symlinks), link (hard-link group number,
    same for every name of one inode), xattrs ({name: base64 value}).
ctime_ns and inode are kept only for the next backup's unchanged-file test.
"""

from __future__ import annotations

import json
import os
import stat

from sharebackup.engine.errors import UnsafePathError

TYPE_BY_MODE = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "chardev",
    stat.S_IFBLK: "blockdev",
}


def check_name(name: str) -> str:
    """Refuse any name that is not exactly one path component inside its directory."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise UnsafePathError(f"unsafe name in snapshot: {name!r}")
    return name


def node_from_stat(name: str, st: os.stat_result) -> dict:
    node = {
        "name": name,
        "type": TYPE_BY_MODE.get(stat.S_IFMT(st.st_mode), "unknown"),
        "mode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "inode": st.st_ino,
    }
    if node["type"] in ("chardev", "blockdev"):
        node["rdev"] = st.st_rdev
    return node


def encode_tree(nodes: list[dict]) -> bytes:
    nodes.sort(key=lambda n: n["name"])
    return json.dumps({"nodes": nodes}, separators=(",", ":"), sort_keys=True).encode()


def decode_tree(doc: dict) -> list[dict]:
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        raise ValueError("tree has no node list")
    for n in nodes:
        check_name(n["name"])
    return nodes
