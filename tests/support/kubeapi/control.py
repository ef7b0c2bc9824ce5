"""Test controls: injected faults, the request log and an RBAC-like deny list.

These are what make the stand-in useful for testing *clients*: a test can make the next N
requests fail, slow every request down, cut every open watch, count the writes a reconcile made,
or make a token's user forbidden to list ingresses. All state sits behind one lock and is changed
through ``POST /_stand_in/...`` (or the Python API in ``server``), never through globals.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .resources import ResourceType
from .status import forbidden, injected, unauthorized

WRITE_VERBS = frozenset({"create", "update", "patch", "apply", "delete", "deletecollection"})


@dataclass
class _Fault:
    remaining: int
    code: int
    verb: str  # "" matches every verb
    resource: str  # "" matches every resource


@dataclass
class Controls:
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: list[_Fault] = field(default_factory=list)
    delay_seconds: float = 0.0
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    tokens: dict[str, str] = field(default_factory=dict)  # bearer token -> user name
    deny: list[dict[str, str]] = field(default_factory=list)

    def configure_faults(self, spec: dict[str, Any]) -> None:
        """``{"fail_next": N, "status": 500, "verb": "patch", "resource": "ingresses"}``,
        ``{"delay_seconds": x}``; ``{"reset": true}`` clears both."""
        with self.lock:
            if spec.get("reset"):
                self.faults.clear()
                self.delay_seconds = 0.0
            if "fail_next" in spec:
                self.faults.append(
                    _Fault(
                        int(spec["fail_next"]),
                        int(spec.get("status", 500)),
                        str(spec.get("verb", "")),
                        str(spec.get("resource", "")),
                    )
                )
            if "delay_seconds" in spec:
                self.delay_seconds = max(0.0, float(spec["delay_seconds"]))

    def configure_auth(self, spec: dict[str, Any]) -> None:
        """``{"tokens": {"tok": "system:serviceaccount:x:y"}, "deny": [{"user": ..., "verb":
        "list", "resource": "ingresses", "namespace": ""}]}``; no tokens = no authentication."""
        with self.lock:
            if "tokens" in spec:
                self.tokens = {str(k): str(v) for k, v in (spec["tokens"] or {}).items()}
            if "deny" in spec:
                self.deny = [dict(rule) for rule in spec["deny"] or []]

    def authenticate(self, authorization: str) -> str:
        """The user a request runs as; raises 401 when tokens are configured and it has none."""
        with self.lock:
            if not self.tokens:
                return "system:admin"
            scheme, _, token = authorization.partition(" ")
            user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise unauthorized()
        return user

    def authorize(self, user: str, verb: str, rt: ResourceType, namespace: str, name: str) -> None:
        rbac_verb = "patch" if verb == "apply" else verb
        with self.lock:
            rules = list(self.deny)
        for rule in rules:
            if all(
                not rule.get(k) or rule[k] == v
                for k, v in (("user", user), ("verb", rbac_verb), ("resource", rt.plural), ("namespace", namespace))
            ):
                raise forbidden(rt, user, rbac_verb, namespace, name)

    def record_and_maybe_fail(self, verb: str, resource: str) -> None:
        with self.lock:
            self.counts[(verb, resource)] += 1
            for fault in self.faults:
                if fault.remaining > 0 and fault.verb in ("", verb) and fault.resource in ("", resource):
                    fault.remaining -= 1
                    code = fault.code
                    break
            else:
                return
            self.faults = [f for f in self.faults if f.remaining > 0]
        raise injected(code)

    def request_counts(self) -> dict[str, Any]:
        with self.lock:
            by_verb: Counter[str] = Counter()
            by_resource: Counter[str] = Counter()
            for (verb, resource), n in self.counts.items():
                by_verb[verb] += n
                by_resource[resource] += n
            return {
                "total": sum(self.counts.values()),
                "writes": sum(n for (v, _), n in self.counts.items() if v in WRITE_VERBS),
                "by_verb": dict(by_verb),
                "by_resource": dict(by_resource),
                "by_verb_resource": {f"{v} {r}": n for (v, r), n in sorted(self.counts.items())},
            }

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()
