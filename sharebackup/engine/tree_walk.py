"""Walking every tree reachable from snapshots, each tree once (shared subtrees are common)."""

from __future__ import annotations

from typing import Callable, Iterator

from sharebackup.engine.tree import decode_tree


def iter_trees(repo, root_ids: list[str], seen: set[str] | None = None,
               on_error: Callable[[str, Exception], None] | None = None) -> Iterator[tuple[str, list[dict]]]:
    """Yield (tree id, nodes) depth first. Errors go to on_error, else they raise."""
    seen = set() if seen is None else seen
    stack = list(reversed(root_ids))
    while stack:
        tree_id = stack.pop()
        if tree_id in seen:
            continue
        seen.add(tree_id)
        try:
            nodes = decode_tree(repo.load_tree(bytes.fromhex(tree_id)))
        except Exception as exc:  # noqa: BLE001 - the caller decides what a bad tree means
            if on_error is None:
                raise
            on_error(tree_id, exc)
            continue
        yield tree_id, nodes
        for node in reversed(nodes):
            if node.get("type") == "dir" and node.get("subtree"):
                stack.append(node["subtree"])


def referenced_blobs(repo, snapshots: list[dict]) -> tuple[set[bytes], set[bytes]]:
    """(tree blob ids, data blob ids) referenced by the given snapshot manifests."""
    trees: set[str] = set()
    data: set[bytes] = set()
    for _tree_id, nodes in iter_trees(repo, [s["tree"] for s in snapshots], trees):
        for node in nodes:
            for item in node.get("content", ()):
                if isinstance(item, str):
                    data.add(bytes.fromhex(item))
    return {bytes.fromhex(t) for t in trees}, data
