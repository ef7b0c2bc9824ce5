"""Routing keys on the real host: what a key may look like, who may use one, signed tokens.

A routing key names a branch by its slug (core/naming.py) and arrives in a header, a baggage
member or a cookie (docs/previews.md). This module is the one place that decides whether a key
value stands for a branch, shared by the proxy (which reads keys) and the dashboard and PR
comment (which issue links), so both agree on the rules:

* a key is a DNS label: 1 to 63 characters of ``a-z0-9-``, not starting or ending with ``-``;
  anything else (a 10 KB value, upper case, dots, percent signs) is ``malformed``;
* with a secret set, a key must be a token ``<slug>.<expiry>.<signature>``: expiry in Unix
  seconds, signature the unpadded base64url HMAC-SHA256 of ``<slug>.<expiry>`` under the secret.
  A plain slug is then ``unsigned``, a token whose signature does not verify ``forged``, one past
  its expiry ``expired``; all are ignored, never an error page;
* hosts named by ``protected_hosts`` (exact rule hosts or ``*.`` wildcards) never take a key.

Time is passed in (``now``, Unix seconds): core does no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from gitops_ingress.core.settings import Settings

KEY_NAME = "gitops-ingress-preview"  # the cookie, the baggage member and the link's query parameter
KEY_HEADER = "X-Preview-Branch"
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_EXPIRY_DIGITS = 12
MAX_KEY = 63 + 1 + _EXPIRY_DIGITS + 1 + 43  # the longest token; longer values are malformed at once


def _signature(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def protected(hosts: Iterable[str]) -> frozenset[str]:
    """Protected host patterns as compared: lowercase, no trailing dot."""
    return frozenset(host.strip().lower().rstrip(".") for host in hosts if host.strip())


@dataclass(frozen=True, slots=True)
class KeyVerdict:
    """A key value judged: the slug it stands for, or why it is ignored."""

    slug: str = ""
    refused: str = ""  # "", "malformed", "unsigned", "forged" or "expired"
    expires: int = 0  # a signed token's expiry (Unix seconds); 0: none


@dataclass(frozen=True, slots=True)
class PreviewKeyPolicy:
    """Who may use routing keys; built once from the settings (``from_settings``) and passed in."""

    enabled: bool = True
    secret: str = ""
    protected_hosts: frozenset[str] = frozenset()
    max_age: int = 7 * 24 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> PreviewKeyPolicy:
        return cls(
            settings.preview_keys,
            settings.preview_key_secret,
            protected(settings.preview_key_protected_hosts),
            settings.preview_key_max_age,
        )

    @property
    def signed(self) -> bool:
        return bool(self.secret)

    def protects(self, host: str) -> bool:
        """Whether a normalised request host never takes a key (keys off, or a protected host)."""
        if not self.enabled:
            return True
        if not self.protected_hosts:
            return False
        if host in self.protected_hosts:
            return True
        dot = host.find(".")
        return dot > 0 and "*" + host[dot:] in self.protected_hosts

    def judge(self, value: str, now: float) -> KeyVerdict:
        """What a key value (a slug, or a token in signed mode) stands for at time ``now``."""
        if len(value) > MAX_KEY:
            return KeyVerdict(refused="malformed")
        if not self.secret:
            return KeyVerdict(value) if _SLUG.fullmatch(value) else KeyVerdict(refused="malformed")
        slug, _, rest = value.partition(".")
        expiry, _, signature = rest.partition(".")
        if not _SLUG.fullmatch(slug):
            return KeyVerdict(refused="malformed")
        if not signature:
            return KeyVerdict(refused="unsigned")
        if not expiry.isdigit() or len(expiry) > _EXPIRY_DIGITS:
            return KeyVerdict(refused="malformed")
        if not hmac.compare_digest(signature, _signature(self.secret, f"{slug}.{expiry}")):
            return KeyVerdict(refused="forged")
        if int(expiry) <= now:
            return KeyVerdict(refused="expired")
        return KeyVerdict(slug, expires=int(expiry))

    def issue(self, slug: str, now: float) -> str:
        """The key value a link or cookie carries for ``slug``: the slug itself, or a token valid
        for ``max_age`` seconds from ``now`` when a secret is set."""
        if not self.secret:
            return slug
        expiry = int(now) + self.max_age
        return f"{slug}.{expiry}.{_signature(self.secret, f'{slug}.{expiry}')}"


def real_host_url(preview_url: str, stable_host: str, key: str) -> str:
    """The link that opens a preview on its stable host: the preview URL's scheme and port (the
    same proxy serves both names), the stable host, and the link parameter with ``key``."""
    parts = urlsplit(preview_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{stable_host}{port}/?{KEY_NAME}={key}"
