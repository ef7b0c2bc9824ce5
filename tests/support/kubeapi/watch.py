"""Watch streams: newline-delimited JSON events over chunked HTTP, one thread per watcher.

Semantics follow the API concepts page: no resourceVersion (or "0") starts with synthetic ADDED
events for the current state; a resourceVersion resumes after it; one older than the compacted
history gets a single ERROR event with a 410 Expired Status and the stream ends (HTTP 200, as the
watch cache answers). Objects moving in or out of a selector arrive as ADDED or DELETED. BOOKMARK
events carry only kind, apiVersion and resourceVersion. ``sendInitialEvents`` ends its initial
burst with a bookmark annotated ``k8s.io/initial-events-end``.

The watcher sleeps on the store's Condition, so events go out as soon as they are written; it
wakes at least every quarter second to notice a closed client socket, the end of
``timeoutSeconds``, a due bookmark, ``drop_watches`` or server shutdown.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .resources import ResourceType
from .selectors import Matcher
from .store import Event, Obj, Store

Send = Callable[[dict[str, Any]], None]
_MAX_WATCH_SECONDS = 1800.0  # the API server's default --min-request-timeout
_POLL = 0.25


@dataclass(frozen=True)
class WatchRequest:
    rt: ResourceType
    namespace: str  # "" for every namespace
    matcher: Matcher
    resource_version: str
    bookmarks: bool
    send_initial_events: bool
    timeout_seconds: float | None
    bookmark_interval: float


def _in_scope(req: WatchRequest, event: Event) -> bool:
    return event.rt is req.rt and (not req.namespace or event.namespace == req.namespace)


def translate(req: WatchRequest, event: Event) -> tuple[str, Obj] | None:
    """The event this watcher sees, after selector transitions; None when it sees nothing."""
    if not _in_scope(req, event):
        return None
    now_matches = req.matcher(event.obj)
    was_matching = event.prev is not None and req.matcher(event.prev)
    if event.type == "DELETED":
        return ("DELETED", event.obj) if was_matching else None
    if event.type == "ADDED":
        return ("ADDED", event.obj) if now_matches else None
    if now_matches:
        return ("MODIFIED" if was_matching else "ADDED", event.obj)
    return ("DELETED", event.obj) if was_matching else None


def expired_event(rv: int, oldest: int) -> dict[str, Any]:
    return {
        "type": "ERROR",
        "object": {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": f"too old resource version: {rv} ({oldest})",
            "reason": "Expired",
            "code": 410,
        },
    }


def bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}}


def _woken(store: Store, last: int, epoch: int) -> bool:
    return store.resource_version > last or store.closed or store.watch_epoch != epoch


def serve(store: Store, req: WatchRequest, send: Send, client_gone: Callable[[], bool]) -> None:
    """Stream events until timeout, client disconnect, drop_watches or shutdown."""
    start = time.monotonic()
    deadline = start + min(req.timeout_seconds or _MAX_WATCH_SECONDS, _MAX_WATCH_SECONDS)
    with store.cond:
        epoch = store.watch_epoch
        initial = req.send_initial_events or req.resource_version in ("", "0")
        if initial:
            items, last = store.list_objects(req.rt, req.namespace or None)
        else:
            last, items = int(req.resource_version), []
    if last < store.compacted_rv:
        send(expired_event(last, store.compacted_rv))
        return
    for obj in items:
        if req.matcher(obj):
            send({"type": "ADDED", "object": obj})
    if req.send_initial_events and req.bookmarks:
        send(bookmark(req.rt, last, initial_end=True))
    next_bookmark = time.monotonic() + req.bookmark_interval
    while time.monotonic() < deadline:
        due = [deadline, next_bookmark] if req.bookmarks else [deadline]
        wait = max(0.0, min(_POLL, *(t - time.monotonic() for t in due)))
        with store.cond:
            store.cond.wait_for(functools.partial(_woken, store, last, epoch), timeout=wait)
            if store.closed or store.watch_epoch != epoch:
                return
            if last < store.compacted_rv:
                send(expired_event(last, store.compacted_rv))
                return
            events = store.events_after(last)
        for event in events:
            last = event.rv
            seen = translate(req, event)
            if seen is not None:
                send({"type": seen[0], "object": seen[1]})
        if req.bookmarks and time.monotonic() >= next_bookmark:
            send(bookmark(req.rt, last))
            next_bookmark = time.monotonic() + req.bookmark_interval
        if client_gone():
            return
