"""The one owner of the engine's access to the mirror: fetches in order, on their own thread.

Fetches are serialised (one at a time, in arrival order) and run on a thread of their own: a
fetch that hangs on the network never takes a build thread, so builds of commits already fetched
go on. Reads (``branches()``, and the tree and blob reads a build does) need no lock here: the
repository's reads are safe from several threads (``RepoSource``). Before this object the engine
kept the fetch thread and the fetch order itself, next to its scheduling.

``BuildCache.build`` (sync/build.py) does its reads on the engine's build pool; everything else that
touches the mirror goes through the methods here.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gitops_ingress.sync.protocols import RepoSource

T = TypeVar("T")


class RepoAccess:
    def __init__(self, repo: RepoSource) -> None:
        self.repo = repo
        self._fetch_thread = ThreadPoolExecutor(1, thread_name_prefix="sync-fetch")
        self._fetch_order = asyncio.Lock()

    async def ensure(self) -> None:
        """Create the mirror when it is missing (on the fetch thread: it may clone)."""
        await self._on_fetch_thread(self.repo.ensure)

    async def fetch(self, branch: str | None) -> dict[str, str]:
        """Fetch ``branch`` (None: every branch), then read the heads; one fetch at a time."""
        async with self._fetch_order:
            return await self._on_fetch_thread(self._fetch_and_read_heads, branch)

    async def heads(self) -> dict[str, str]:
        """The heads the mirror holds now, without fetching (on the fetch thread, in order)."""
        async with self._fetch_order:
            return await self._on_fetch_thread(self._read_heads)

    async def preload(self, commits: Sequence[str], root: str, max_file_bytes: int) -> None:
        """Read a burst's new objects ahead of its builds (on the fetch thread: a burst's next
        fetch waits for it anyway, and no build thread is taken)."""
        await self._on_fetch_thread(functools.partial(self.repo.preload, commits, root, max_file_bytes=max_file_bytes))

    def close(self) -> None:
        self._fetch_thread.shutdown(wait=False, cancel_futures=True)

    def _fetch_and_read_heads(self, branch: str | None) -> dict[str, str]:
        heads = self.repo.fetch(branch).heads  # a fetch of every branch read them already
        return dict(heads) if heads is not None else self._read_heads()

    def _read_heads(self) -> dict[str, str]:
        return self.repo.branches()

    async def _on_fetch_thread(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._fetch_thread, call, *args)
