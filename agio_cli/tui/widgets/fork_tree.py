"""The fork tree a run belongs to: the root run and every run continued from its checkpoints."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode as UINode

from agio_core import TreeNode

from ..format import checkpoint_label, clip, status_text


class ForkTree(Tree[str]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("forks", id=id)
        self.show_root = True
        self.guide_depth = 3

    def show(self, root: TreeNode, current: str) -> None:
        self.clear()
        self.root.data = root.run_id
        self.root.set_label(self._label(root, current))
        self._add_branches(self.root, root, current)
        self.root.expand_all()

    def _add_branches(self, parent: UINode[str], node: TreeNode, current: str) -> None:
        for child in node.children:
            branch = parent.add(self._label(child, current), data=child.run_id)
            self._add_branches(branch, child, current)

    @staticmethod
    def _label(node: TreeNode, current: str) -> Text:
        origin = (
            f" from {checkpoint_label(node.from_checkpoint_id)}" if node.from_checkpoint_id else ""
        )
        # What tells runs apart first (status, input, where it forked); the id last, as it
        # is the same length for every run and is cut first when the panel is narrow.
        return Text.assemble(
            ("▶ " if node.run_id == current else "", "bold cyan"),
            status_text(node.status),
            " ",
            (clip(node.input, 24), "bold" if node.run_id == current else "italic"),
            (origin, "dim"),
            " ",
            (node.run_id, "dim"),
            no_wrap=True,
            overflow="ellipsis",
        )
