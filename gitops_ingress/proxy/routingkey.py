"""Routing keys on the real host, on the request path: reading them, the link, what is forwarded.

docs/previews.md describes the feature; this is its proxy side, called by decide.py only when a
request may carry a key, so a request without one pays nothing but a few attribute tests.

* ``key_of``: the key value by precedence: the ``X-Preview-Branch`` header, then the
  ``gitops-ingress-preview`` member of ``baggage``, then the ``gitops-ingress-preview`` cookie.
  The first place that has a key decides, even when that key is then ignored: a header naming an
  unknown branch does not fall through to the cookie (the header wins, always).
* ``link_answer``: ``?gitops-ingress-preview=<key>`` answers 302 to the same path and query
  without that parameter, setting the cookie (empty value: clearing it).
* ``forward_lines``: what a request routed to a preview (by key or by preview host) carries
  upstream: ``X-Preview-Branch: <slug>`` and the client's baggage with our member set.

Baggage follows W3C Baggage: at most 8192 bytes and 180 list members. The client's baggage is
read for a key only when it is within those limits and every member is ``key=value`` with a token
key; otherwise it is malformed for us, read for nothing, and (on a preview request, where the
proxy must write its member) replaced by our member alone. On stable requests the proxy forwards
it exactly as it came, whatever it holds. When adding our member would break a limit, our member
alone is sent: the branch must reach the next service.
"""

from __future__ import annotations

import re
from typing import Final

from gitops_ingress.core.previewkeys import KEY_NAME
from gitops_ingress.proxy.pages import response

KEY: Final = KEY_NAME.encode()
LINK: Final = KEY + b"="
MAX_BAGGAGE_BYTES: Final = 8192
MAX_BAGGAGE_MEMBERS: Final = 180
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _baggage_members(value: bytes) -> list[bytes] | None:
    """The list members of a baggage value, stripped; None when it breaks the W3C rules."""
    if len(value) > MAX_BAGGAGE_BYTES:
        return None
    members = [member.strip(b" \t") for member in value.split(b",")]
    if len(members) > MAX_BAGGAGE_MEMBERS:
        return None
    for member in members:
        name, sep, _ = member.partition(b"=")
        if not sep or _TOKEN.fullmatch(name.strip(b" \t")) is None:
            return None
    return members


def _member_key(member: bytes) -> bytes:
    return member.partition(b"=")[0].strip(b" \t")


def baggage_key(value: bytes) -> bytes | None:
    """Our member's value in a baggage header (properties after ``;`` dropped), or None."""
    members = _baggage_members(value)
    if members is None:
        return None
    for member in members:
        if _member_key(member) == KEY:
            return member.partition(b"=")[2].partition(b";")[0].strip(b" \t")
    return None


def cookie_key(value: bytes) -> bytes | None:
    """Our cookie's value in a Cookie header (RFC 6265 ``name=value; name=value``), or None."""
    if value.find(LINK) < 0:
        return None
    for pair in value.split(b";"):
        name, sep, found = pair.strip(b" \t").partition(b"=")
        if sep and name == KEY:
            return found.strip(b'"')
    return None


def key_of(preview_key: bytes, baggage: bytes, cookie: bytes) -> bytes | None:
    """The routing key a request carries, by precedence (header, baggage, cookie), or None."""
    if preview_key:
        return preview_key.strip(b" \t")
    if baggage:
        found = baggage_key(baggage)
        if found is not None:
            return found
    if cookie:
        return cookie_key(cookie)
    return None


def split_link(target: bytes) -> tuple[bytes, bytes] | None:
    """(key value, target without the parameter) when the query has our link parameter, else
    None. Every occurrence of the parameter goes; the first one's value counts."""
    path, sep, query = target.partition(b"?")
    if not sep:
        return None
    value: bytes | None = None
    kept: list[bytes] = []
    for pair in query.split(b"&"):
        if pair == KEY or pair.startswith(LINK):
            if value is None:
                value = pair[len(LINK) :]
        else:
            kept.append(pair)
    if value is None:
        return None
    rest = b"&".join(part for part in kept if part)
    return value, path + (b"?" + rest if rest else b"")


def set_cookie(value: bytes, *, max_age: int, secure: bool) -> bytes:
    """The Set-Cookie line (CRLF-ended) for a key; an empty value clears the cookie."""
    attributes = b"Path=/; Max-Age=%d; HttpOnly; SameSite=Lax" % (max_age if value else 0)
    return b"Set-Cookie: %b=%b; %b%b\r\n" % (KEY, value, attributes, b"; Secure" if secure else b"")


def link_answer(location: bytes, cookie_line: bytes, *, close: bool) -> bytes:
    """The 302 of a link: back to the same URL without the parameter, with the cookie line."""
    extra = b"Location: " + location + b"\r\nCache-Control: no-store\r\n" + cookie_line
    return response(302, b"Redirecting to " + location + b"\n", close=close, extra=extra)


def forward_lines(slug: bytes, baggage: bytes) -> bytes:
    """X-Preview-Branch and baggage lines for a request routed to the preview of ``slug``:
    the client's baggage (``baggage``, maybe empty) with our member set (see the module text)."""
    ours = KEY + b"=" + slug
    merged = ours
    if baggage:
        members = _baggage_members(baggage)
        if members is not None:
            kept = [member for member in members if member and _member_key(member) != KEY]
            candidate = b",".join((*kept, ours))
            if len(candidate) <= MAX_BAGGAGE_BYTES and len(kept) < MAX_BAGGAGE_MEMBERS:
                merged = candidate
    return b"X-Preview-Branch: " + slug + b"\r\nbaggage: " + merged + b"\r\n"
