"""The control-plane stream's wire format, encoded by ``web/stream.py`` and decoded by the proxy.

``GET /api/v1/proxy/stream`` answers newline-delimited JSON, one object per line:

* ``{"type": "state", "state": RoutingState.to_dict(), "backends": {"[NS/]SVC:PORT": [URL, ...]}}``
  when the routing state changes (and once at connect);
* ``{"type": "ping"}`` when nothing happened for a ping interval, so that proxies and load
  balancers can tell a quiet stream from a dead one.

Each line carries the whole state, not a delta: a receiver that reconnects, or misses a line, is
correct again after the next line. Both ends live here so the format exists once: the encoder and
the decoder cannot drift apart (tests/test_layering.py checks that both adapters use this module).

Decoding builds ``Route`` objects while the JSON is parsed (``object_hook``), so the decoded dicts
of a 100,000-route state are freed one by one instead of all living until the end of the parse;
that halves a proxy's peak memory (bench/proxy.py). Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gitops_ingress.core.backends import BackendMap
from gitops_ingress.core.errors import ConfigError, SourceError
from gitops_ingress.core.routing import Route, RoutingState

STREAM_PATH = "/api/v1/proxy/stream"
MEDIA_TYPE = "application/x-ndjson"
DEFAULT_PING_INTERVAL = 15.0
STATE, PING = "state", "ping"
PING_LINE = b'{"type":"ping"}\n'


def state_line(state: RoutingState, backends: dict[str, list[str]]) -> bytes:
    """One ``state`` line (newline included); ``backends`` is ``BackendMap.to_dict()``."""
    message = {"type": STATE, "state": state.to_dict(), "backends": backends}
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One decoded line: its type, and for ``state`` lines the state and the backend map."""

    kind: str
    state: RoutingState | None = None
    backends: BackendMap | None = None


def _decode_object(data: dict[str, Any]) -> Any:
    # only route objects carry both ``pathType`` and ``backend``
    if "pathType" in data and "backend" in data:
        return Route.from_dict(data)
    return data


def decode_line(line: bytes | bytearray) -> StreamMessage:
    """One line to a message; SourceError when it is not the wire form. Types other than
    ``state`` come back with ``kind`` only (a receiver ignores what it does not know)."""
    try:
        message = json.loads(line, object_hook=_decode_object)
    except ValueError as exc:
        raise SourceError(f"control plane sent a line that is not JSON: {exc}") from exc
    except (KeyError, TypeError, AttributeError) as exc:  # a route object without its fields
        raise SourceError(f"control plane sent a malformed route: {type(exc).__name__}: {exc}") from exc
    if not isinstance(message, dict):
        raise SourceError("control plane sent a line that is not a JSON object")
    kind = message.get("type")
    if kind != STATE:
        return StreamMessage(str(kind))
    return decode_state(message)


def decode_state(message: dict[str, Any]) -> StreamMessage:
    """A ``state`` message's parts; SourceError when it does not have the wire form."""
    try:
        state = RoutingState.from_dict(message["state"])
        backends = BackendMap({str(k): [str(u) for u in v] for k, v in (message.get("backends") or {}).items()})
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise SourceError(f"control plane sent a malformed state: {type(exc).__name__}: {exc}") from exc
    return StreamMessage(STATE, state, backends)
