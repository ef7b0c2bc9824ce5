"""The control-plane stream's wire format, encoded by ``web/stream.py`` and decoded by the proxy.

``GET /api/v1/proxy/stream`` answers newline-delimited JSON, one object per line:

* ``{"type": "state", "revision": N, "state": RoutingState.to_dict(), "backends": {...}}``: the
  whole routing state (``backends`` is ``{"[NS/]SVC:PORT": [URL, ...]}``). It is the first line of
  every connection, and the line a receiver that fell far behind gets instead of a delta;
* ``{"type": "delta", "base": M, "revision": N, "stable": TABLE, "previews": {BRANCH: TABLE | null}}``:
  what changed from revision M to N; ``stable`` is there only when the stable table changed, and a
  ``null`` preview is a removed branch. One branch's change costs that branch's table, not the
  whole state (a thousand branches of twenty files make a 10 MB state);
* ``{"type": "ping"}`` when nothing happened for a ping interval, so that proxies and load
  balancers can tell a quiet stream from a dead one.

The revision is ``RoutingState.version``. A receiver applies a delta only to the state at its
``base`` revision (``apply``); anything else is a gap (``StreamGapError``), which the receiver
answers by reconnecting: every connection starts with a whole state, so no history is kept
anywhere. A delta is computed from two immutable states (``changed``), never from a log of
changes, so a burst of changes, or a slow receiver, costs one delta of the branches that moved.

Both ends live here so the format exists once: the encoder and the decoder cannot drift apart
(tests/test_layering.py checks that both adapters use this module).

Decoding builds ``Route`` objects while the JSON is parsed (``object_hook``), so the decoded dicts
of a 100,000-route state are freed one by one instead of all living until the end of the parse;
that halves a proxy's peak memory (bench/proxy.py). A receiver that keeps a ``DecodeMemo`` across
its lines decodes what repeats once: a route whose wire form it has met is that very Route object
again (the branches of a burst carry main's routes, 19 files of 20, in every delta), so their
tables share main's host groups (core/routing/groups.py) and their overlays compare as the same
objects (core/routing/overlay.py), as on the control plane. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.errors import ConfigError, SourceError, StreamGapError
from gitops_ingress.core.routing import Route, RouteTable, RoutingState
from gitops_ingress.core.routing.groups import GroupMemo
from gitops_ingress.core.routing.table import WireMemo

STREAM_PATH = "/api/v1/proxy/stream"
MEDIA_TYPE = "application/x-ndjson"
DEFAULT_PING_INTERVAL = 15.0
STATE, DELTA, PING = "state", "delta", "ping"
PING_LINE = b'{"type":"ping"}\n'


@dataclass(frozen=True, slots=True)
class Changes:
    """What differs between two states: the new stable table (None: unchanged) and the new table
    of each changed preview (None: removed)."""

    stable: RouteTable | None
    previews: Mapping[str, RouteTable | None]

    def __len__(self) -> int:
        return len(self.previews) + (self.stable is not None)


def changed(old: RoutingState, new: RoutingState) -> Changes:
    """The branches whose tables differ. Tables are immutable and shared between successive
    states, so identity finds the unchanged ones; the content fingerprint catches equal rebuilds."""
    stable = None if _same(old.stable, new.stable) else new.stable
    previews: dict[str, RouteTable | None] = {}
    for branch in old.previews.keys() | new.previews.keys():
        table = new.previews.get(branch)
        if not _same(old.previews.get(branch), table):
            previews[branch] = table
    return Changes(stable, dict(sorted(previews.items())))


def _same(a: RouteTable | None, b: RouteTable | None) -> bool:
    return a is b or (a is not None and b is not None and a.version == b.version)


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def state_line(state: RoutingState, backends: dict[str, list[str]]) -> bytes:
    """One ``state`` line (newline included); ``backends`` is ``BackendMap.to_dict()``."""
    return _line({"type": STATE, "revision": state.version, "state": state.to_dict(), "backends": backends})


def delta_line(base: RoutingState, state: RoutingState, changes: Changes, memo: WireMemo | None = None) -> bytes:
    """One ``delta`` line from ``base`` to ``state`` (``changes`` is ``changed(base, state)``).
    With ``memo`` (the stream's), each table is written from its routes' kept texts: the
    branches of a burst share main's route objects, so a delta of 100 new branches encodes
    main's routes once (the table's keys then come sorted; a decoder reads either)."""
    if memo is not None:
        stable = "" if changes.stable is None else f',"stable":{changes.stable.to_json(memo)}'
        previews = ",".join(
            f"{json.dumps(b)}:{'null' if t is None else t.to_json(memo)}" for b, t in changes.previews.items()
        )
        head = f'{{"type":{json.dumps(DELTA)},"base":{base.version},"revision":{state.version}'
        return f'{head}{stable},"previews":{{{previews}}}}}\n'.encode()
    message: dict[str, Any] = {"type": DELTA, "base": base.version, "revision": state.version}
    if changes.stable is not None:
        message["stable"] = changes.stable.to_dict()
    message["previews"] = {b: None if t is None else t.to_dict() for b, t in changes.previews.items()}
    return _line(message)


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One decoded line: its type; for ``state`` lines the state and the backend map; for
    ``delta`` lines the two revisions and the changes."""

    kind: str
    state: RoutingState | None = None
    backends: BackendMap | None = None
    base: int = 0
    revision: int = 0
    changes: Changes = field(default_factory=lambda: Changes(None, {}))


@dataclass(frozen=True, slots=True)
class Followed:
    """What a receiver holds after a line: the routing state and the backend map."""

    state: RoutingState
    backends: BackendMap


def apply(current: Followed | None, message: StreamMessage) -> Followed | None:
    """The receiver's side: a ``state`` replaces what it holds, a ``delta`` moves it from the
    delta's base to its revision. StreamGapError when the delta does not start where the receiver
    is (or it holds nothing yet); other types change nothing."""
    if message.kind == STATE and message.state is not None and message.backends is not None:
        return Followed(message.state, message.backends)
    if message.kind != DELTA:
        return current
    if current is None:
        raise StreamGapError(f"control plane sent a delta to revision {message.revision} before any state")
    if current.state.version != message.base:
        raise StreamGapError(
            f"control plane sent a delta from revision {message.base} to {message.revision}, "
            f"but this proxy holds revision {current.state.version}"
        )
    changes = message.changes
    return Followed(current.state.with_changes(changes.stable, changes.previews, message.revision), current.backends)


def _is_route(data: dict[str, Any]) -> bool:
    """Whether a decoded JSON object is a route's: only route objects carry both of these keys."""
    return "pathType" in data and "backend" in data


def _decode_object(data: dict[str, Any]) -> Any:
    return Route.from_dict(data) if _is_route(data) else data


class DecodeMemo:
    """What one receiver keeps between the lines it decodes (module docstring): routes by their
    wire form (the decoded dict's ``repr``: equal text, equal route; about half the cost of
    building the route), and the host groups of its tables. Bounded: past ``capacity`` distinct
    routes it starts again, which only costs decoding them anew. What pays is the few routes every
    branch repeats (main's), so the bound is low: a key is its route's text, some 300 bytes, and a
    proxy of 100,000 distinct routes must not keep 30 MB of them (at most some 6 MB here). For one
    receiver at a time."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._routes: dict[str, Route] = {}
        self.groups = GroupMemo()

    def decode_object(self, data: dict[str, Any]) -> Any:
        if not _is_route(data):
            return data
        key = repr(data)
        found = self._routes.get(key)
        if found is None:
            if len(self._routes) >= self._capacity:
                self._routes.clear()
            found = self._routes[key] = Route.from_dict(data)
        return found


def decode_line(line: bytes | bytearray, memo: DecodeMemo | None = None) -> StreamMessage:
    """One line to a message; SourceError when it is not the wire form. Types other than
    ``state`` and ``delta`` come back with ``kind`` only (a receiver ignores what it does not know).
    ``memo``: the receiver's, kept across its lines."""
    hook = _decode_object if memo is None else memo.decode_object
    groups = None if memo is None else memo.groups
    try:
        message = json.loads(line, object_hook=hook)
    except ValueError as exc:
        raise SourceError(f"control plane sent a line that is not JSON: {exc}") from exc
    except (KeyError, TypeError, AttributeError) as exc:  # a route object without its fields
        raise SourceError(f"control plane sent a malformed route: {type(exc).__name__}: {exc}") from exc
    if not isinstance(message, dict):
        raise SourceError("control plane sent a line that is not a JSON object")
    kind = message.get("type")
    if kind == STATE:
        return decode_state(message, groups)
    if kind == DELTA:
        return decode_delta(message, groups)
    return StreamMessage(str(kind))


def decode_state(message: dict[str, Any], groups: GroupMemo | None = None) -> StreamMessage:
    """A ``state`` message's parts; SourceError when it does not have the wire form."""
    try:
        state = RoutingState.from_dict(message["state"], groups)
        backends = BackendMap({str(k): [str(u) for u in v] for k, v in (message.get("backends") or {}).items()})
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise SourceError(f"control plane sent a malformed state: {type(exc).__name__}: {exc}") from exc
    return StreamMessage(STATE, state, backends, revision=state.version)


def decode_delta(message: dict[str, Any], groups: GroupMemo | None = None) -> StreamMessage:
    """A ``delta`` message's parts; SourceError when it does not have the wire form."""
    try:
        base, revision = int(message["base"]), int(message["revision"])
        stable = message.get("stable")
        previews = {
            str(branch): None if table is None else RouteTable.from_dict(table, groups)
            for branch, table in dict(message["previews"]).items()
        }
        changes = Changes(None if stable is None else RouteTable.from_dict(stable, groups), previews)
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise SourceError(f"control plane sent a malformed delta: {type(exc).__name__}: {exc}") from exc
    return StreamMessage(DELTA, base=base, revision=revision, changes=changes)
