"""When each branch's wanted commits were noticed: what push-to-live is measured from.

The engine notes a time when ``_schedule`` wants a new head for a branch and takes it when that
commit's sync sets the route book (engine.py). Kept per branch *and commit*: a push that arrives
while the previous commit is syncing must not take that sync's time, nor lose its own. A head
noticed again (a poll, a forge's retried delivery) keeps its first time. A head that supersedes a
waiting one has its own time, not the older head's: push-to-live says how long *this* push took,
and the superseded push never went live. Superseded commits are never taken, so each branch keeps
at most ``PER_BRANCH`` times, the oldest dropped first; a removed branch forgets all of its own.
"""

from __future__ import annotations

from gitops_ingress.sync.watcher import Noticed

PER_BRANCH = 4  # the commit in flight, the one waiting, and slack for a burst of pushes


class PushTimes:
    def __init__(self) -> None:
        self._times: dict[str, dict[str, Noticed]] = {}

    def note(self, branch: str, commit: str, noticed: Noticed) -> None:
        times = self._times.setdefault(branch, {})
        times.setdefault(commit, noticed)
        while len(times) > PER_BRANCH:
            del times[next(iter(times))]

    def get(self, branch: str, commit: str) -> Noticed | None:
        return self._times.get(branch, {}).get(commit)

    def forget(self, branch: str, commit: str | None = None) -> None:
        """Drop ``commit``'s time (None: every time of ``branch``)."""
        times = self._times.get(branch)
        if times is None:
            return
        if commit is not None:
            times.pop(commit, None)
        if commit is None or not times:
            del self._times[branch]
