"""Builders of state-store rows for the sync tests: a branch saved as applied at one commit."""

from __future__ import annotations

from gitops_ingress.core.status import SyncState
from gitops_ingress.sync.store import Store, SyncEntry


def save_applied(store: Store, branch: str, head: str = "c1", at: str = "t") -> None:
    """``branch`` applied at ``head`` in production, written at ``at``, with its one sync."""
    store.save_branch(
        branch,
        head=head,
        head_info=None,
        state=SyncState.APPLIED,
        message="",
        updated_at=at,
        history=[SyncEntry(head, "production", at, 1.0, "applied")],
    )
