"""The HTTP face of the stand-in: one handler class on http.server, HTTP/1.1 with keep-alive.

Why http.server and threads: every watch is a long-lived streaming response, and a thread per
connection lets a watch block on the store's Condition while other requests go on, with no event
loop to share with the code under test (which may run its own asyncio loop in the same process).
The handler decodes the request, runs the faults, authentication and authorization from
``control``, hands the rest to ``registry`` and encodes the answer. Every failure leaves as a v1
Status; an unexpected exception becomes a 500 Status and is logged, never sent as a traceback.
"""

from __future__ import annotations

import base64
import binascii
import json
import select
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import discovery, openapi, protobuf, routing, selectors, status, tables, watch
from .registry import Write, decode_body
from .status import ApiError

if TYPE_CHECKING:
    from .server import StandInHTTPServer

_JSON = "application/json"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, a client's delayed ACK would add
    # about 40 ms to every request.
    disable_nagle_algorithm = True
    server: StandInHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's signature
        if self.server.verbose:
            super().log_message(format, *args)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = lambda self: self._dispatch()

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None, content_type: str = _JSON) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self, raw: bytes) -> Any:
        return decode_body(raw) if raw.strip() else {}

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            try:
                raw = self._body()  # read first, so the connection stays usable after an error
            except ValueError as exc:
                self.close_connection = True
                raise status.bad_request("invalid Content-Length") from exc
            if url.path.startswith("/_stand_in/"):
                self._control(url.path, raw)
                return
            user = self.server.controls.authenticate(self.headers.get("Authorization", ""))
            if self.server.controls.delay_seconds:
                self.server.stopping.wait(self.server.controls.delay_seconds)
            if self.server.stopping.is_set():
                self.close_connection = True  # went down meanwhile: no answer, as a crash gives
                return
            target = routing.parse(url.path)
            if target is None:
                self._discovery(url.path)
            else:
                self._resource(target, query, raw, user)
        except ApiError as exc:
            self._send(exc.code, exc.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._send(
                500,
                ApiError(500, "InternalError", "internal error in the stand-in API server (see its stderr)").status(),
            )

    # -- non-resource paths ------------------------------------------------------------------

    def _discovery(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        doc: Any = None
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", content_type="text/plain")
            return
        if parts == ["version"]:
            doc = discovery.version()
        elif parts == ["api"]:
            doc = discovery.core_versions(self.server.address)
        elif parts == ["api", "v1"]:
            doc = discovery.resource_list("", "v1")
        elif parts == ["apis"]:
            doc = discovery.group_list()
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.resource_list(parts[1], parts[2])
        elif parts == ["openapi", "v3"]:
            doc = openapi.index()
        elif parts[:2] == ["openapi", "v3"]:
            doc = openapi.document_for_path("/".join(parts[2:]))
        if doc is None:
            raise status.path_not_found()
        self._send(200, doc)

    def _control(self, path: str, raw: bytes) -> None:
        try:
            self._control_request(path[len("/_stand_in/") :], raw)
        except (ValueError, TypeError, AttributeError) as exc:
            raise status.bad_request(f"invalid stand-in control request: {exc}") from exc

    def _control_request(self, name: str, raw: bytes) -> None:
        controls = self.server.controls
        if name == "requests" and self.command == "GET":
            self._send(200, controls.request_counts())
        elif name == "requests" and self.command == "DELETE":
            controls.reset_counts()
            self._send(200, {"ok": True})
        elif name == "faults" and self.command == "POST":
            spec = self._json_body(raw)
            controls.configure_faults(spec)
            if spec.get("drop_watches"):
                self.server.store.drop_watches()
            self._send(200, {"ok": True})
        elif name == "compact" and self.command == "POST":
            self._send(200, {"compactedResourceVersion": str(self.server.store.compact())})
        elif name == "auth" and self.command == "POST":
            controls.configure_auth(self._json_body(raw))
            self._send(200, {"ok": True})
        else:
            raise status.path_not_found()

    # -- resources ---------------------------------------------------------------------------

    def _resource(self, target: routing.Target, query: dict[str, str], raw: bytes, user: str) -> None:
        content_type = (self.headers.get("Content-Type") or _JSON).split(";")[0].strip()
        is_watch = query.get("watch", "") in ("1", "true", "True")
        verb = routing.verb(self.command, target, is_watch, content_type)
        controls = self.server.controls
        controls.record_and_maybe_fail(verb, target.rt.plural)
        controls.authorize(user, verb, target.rt, target.namespace, target.name)
        manager = query.get("fieldManager") or (
            "" if verb == "apply" else self.headers.get("User-Agent", "unknown").split("/")[0]
        )
        w = Write(target.rt, target.namespace, manager, target.subresource, query.get("dryRun") == "All")
        registry = self.server.registry
        if verb == "get":
            obj = registry.get(target.rt, target.namespace, target.name)
            self._send_objects(target, [obj], obj["metadata"]["resourceVersion"], query)
        elif verb == "list":
            self._list(target, query)
        elif verb == "watch":
            self._watch(target, query)
        elif verb == "delete":
            options = self._json_body(raw)
            if "orphanDependents" in query:
                options["orphanDependents"] = query["orphanDependents"] in ("true", "1")
            self._send(*registry.delete(w, target.name, options))
        elif verb == "deletecollection":
            items = self._matching(target, query)
            registry.delete_collection(w, [o["metadata"]["name"] for o in items])
            self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        else:
            self._write(verb, target, w, query, raw, content_type)

    def _write(
        self, verb: str, target: routing.Target, w: Write, query: dict[str, str], raw: bytes, content_type: str
    ) -> None:
        registry = self.server.registry
        headers: dict[str, str] = {}
        if verb in ("create", "update"):
            if content_type == protobuf.MEDIA_TYPE:
                body = protobuf.decode(raw)
            elif content_type in (_JSON, "application/yaml", "*/*"):
                body = self._json_body(raw)
            else:
                raise status.unsupported_media(content_type)
            headers = self._field_validation(target, body, query)
            if verb == "create":
                self._send(201, registry.create(w, body), headers)
            else:
                self._send(200, registry.update(w, target.name, body), headers)
            return
        if verb == "apply":
            applied = decode_body(raw)
            headers = self._field_validation(target, applied, query)
            raw = json.dumps(applied).encode()
        obj, created = registry.patch(w, target.name, content_type, raw, query.get("force") in ("true", "1"))
        self._send(201 if created else 200, obj, headers)

    def _field_validation(self, target: routing.Target, body: Any, query: dict[str, str]) -> dict[str, str]:
        """Drop undeclared fields from ``body``: 400 with Strict, a Warning header with Warn
        (the server's default), silently with Ignore."""
        if not isinstance(body, dict):
            return {}
        unknown = openapi.prune_unknown_fields(target.rt, body)
        mode = query.get("fieldValidation", "Warn")
        if not unknown or mode == "Ignore":
            return {}
        if mode == "Strict":
            raise status.bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
        return {"Warning": ", ".join(f'299 - "unknown field \\"{u}\\""' for u in unknown)}

    def _matching(self, target: routing.Target, query: dict[str, str]) -> list[dict[str, Any]]:
        match = selectors.combined(target.rt, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        items, _ = self.server.store.list_objects(target.rt, target.namespace or None, match)
        return items

    def _list(self, target: routing.Target, query: dict[str, str]) -> None:
        items = self._matching(target, query)
        rv = self.server.store.resource_version
        start, token = "", query.get("continue", "")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode()))
                rv, start = int(state["rv"]), str(state["start"])
            except (ValueError, KeyError, TypeError, binascii.Error) as exc:
                raise status.bad_request("continue key is not valid") from exc
            if rv < self.server.store.compacted_rv:
                raise status.expired(
                    "The provided continue parameter is too old to display a "
                    "consistent list result. You can start a new list without "
                    "the continue parameter."
                )
            items = [o for o in items if _sort_key(o) > start]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        limit = int(query.get("limit") or 0)
        if 0 < limit < len(items):
            items, rest = items[:limit], items[limit:]
            state = {"rv": rv, "start": _sort_key(items[-1])}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            meta["remainingItemCount"] = len(rest)
        if tables.wants_table(self.headers.get("Accept", "")):
            self._send_objects(target, items, str(rv), query, meta)
            return
        for obj in items:
            obj.pop("kind", None)
            obj.pop("apiVersion", None)
        self._send(
            200,
            {"kind": f"{target.rt.kind}List", "apiVersion": target.rt.api_version, "metadata": meta, "items": items},
        )

    def _send_objects(
        self,
        target: routing.Target,
        items: list[dict[str, Any]],
        rv: str,
        query: dict[str, str],
        meta: dict[str, Any] | None = None,
    ) -> None:
        """A single object or a Table of objects, depending on what the client accepts."""
        if tables.wants_table(self.headers.get("Accept", "")):
            doc = tables.table(target.rt, items, rv, query.get("includeObject", "Metadata"))
            doc["metadata"].update(meta or {})
            self._send(200, doc)
        else:
            self._send(200, items[0])

    def _watch(self, target: routing.Target, query: dict[str, str]) -> None:
        rv = query.get("resourceVersion", "")
        if rv and not rv.isdigit():
            raise status.bad_request(f'invalid resource version "{rv}"')
        timeout = query.get("timeoutSeconds")
        req = watch.WatchRequest(
            target.rt,
            target.namespace,
            selectors.combined(target.rt, query.get("labelSelector", ""), query.get("fieldSelector", "")),
            rv,
            query.get("allowWatchBookmarks") in ("true", "1"),
            query.get("sendInitialEvents") in ("true", "1"),
            float(timeout) if timeout else None,
            self.server.bookmark_interval,
        )
        as_table = tables.wants_table(self.headers.get("Accept", ""))
        include = query.get("includeObject", "Metadata")
        self.send_response(200)
        self.send_header("Content-Type", _JSON)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        first = [True]

        def send(event: dict[str, Any]) -> None:
            if as_table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                obj = event["object"]
                event = {
                    "type": event["type"],
                    "object": tables.table(target.rt, [obj], obj["metadata"]["resourceVersion"], include, first[0]),
                }
                first[0] = False
            line = json.dumps(event).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()

        try:
            watch.serve(self.server.store, req, send, self._client_gone)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        self.close_connection = True

    def _client_gone(self) -> bool:
        sock = self.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def _sort_key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
