"""The annotation support table: per ingress-nginx annotation key found in the repository, how
this project treats it (core/annotations), how often it occurs and where first.

Kept apart from the format modules so each of them adds the table with one call: text lines,
a JSON list, or markdown rows (escaped by the markdown module's own ``cell``). The SARIF, JUnit and
GitHub modules encode the same uses in their own structures and take the words from ``label``
and ``summary``, so every format says the same thing about a key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gitops_ingress.core.annotations import Status
from gitops_ingress.core.annotations.usage import AnnotationUse

_LABELS = {
    Status.HONOURED: "honoured",
    Status.DIFFERENT: "honoured, with a difference",
    Status.IGNORED: "ignored",
    Status.REFUSED: "refused",
}


def label(status: Status) -> str:
    return _LABELS[status]


def summary(use: AnnotationUse) -> str:
    """One key's line without its place (formats that carry the place as a field): status, the
    difference or reason, how often."""
    note = f": {use.note}" if use.note else ""
    return f"{_LABELS[use.status]}{note}; {use.count}x"


def _where(use: AnnotationUse) -> str:
    return f"{use.file}:{use.line}" if use.line else use.file


def text_lines(uses: Sequence[AnnotationUse]) -> list[str]:
    if not uses:
        return []
    lines = ["ingress-nginx annotations:"]
    width = max(len(use.key) for use in uses)
    for use in uses:
        lines.append(f"  {use.key:<{width}}  {summary(use)}, first at {_where(use)}")
    return lines


def json_list(uses: Sequence[AnnotationUse]) -> list[dict[str, object]]:
    return [use.to_dict() for use in uses]


def markdown_table(uses: Sequence[AnnotationUse], cell: Callable[[object], str]) -> list[str]:
    if not uses:
        return []
    lines = [
        "#### ingress-nginx annotations",
        "",
        "| Annotation | Status | Difference or reason | Uses | First at |",
        "| --- | --- | --- | --- | --- |",
    ]
    for use in uses:
        lines.append(
            f"| {cell(use.key)} | {_LABELS[use.status]} | {cell(use.note)} | {use.count} | {cell(_where(use))} |"
        )
    lines.append("")
    return lines
