"""Request header names sorted by what the proxy does with them, and the bytes their values may hold.

proxy/forwarding.py's ``RequestHeadBuilder.add`` asks ``header_kind`` once per header line: most
lines are ORDINARY (forwarded as they came), a few are read, checked or dropped (the kinds below).
Most names cannot be special at all, and that is told without hashing them: a name whose first
letter (any case) and length are those of no special name is ORDINARY. ``_SHAPES`` is a table of
bytes indexed by the two, so the test is one index into bytes, where hashing the name for the
lookup cost about 440 instructions a header under callgrind (a browser's nine ordinary lines 4k a
request), and a frozenset of ints 300 (the int boxed, then hashed). The names that pass it are
looked up as sent, in the spellings clients send (lowercase and capitalised): a ``lower()``
before the lookup showed up at about a fifth of the time spent per header; other spellings are
lowered and looked up again.

``only`` checks a value's bytes against a table made once (Host, X-Request-Id):
``translate(None, deleted)`` would build its table again on every call.
"""

from __future__ import annotations

from typing import Final

# request headers that are not forwarded as they came (value: what ``add`` does with them)
# (Final, here and below: compiled code reads them without a lookup in the module's dict, setup.py)
HOST: Final = 0
CL: Final = 1
TE: Final = 2
CONN: Final = 3
EXPECT: Final = 4
UPGRADE: Final = 5
XFF: Final = 6
XRID: Final = 7
DROP: Final = 8
ACCEPT: Final = 9
FORWARDED: Final = 10
XF_PROTO: Final = 11
XF_HOST: Final = 12
XF_PORT: Final = 13
REAL_IP: Final = 14
PREVIEW_KEY: Final = 15
BAGGAGE: Final = 16
COOKIE: Final = 17
TE_FIELD: Final = 18
_SPECIAL: Final[dict[bytes, int]] = {
    b"host": HOST,
    b"content-length": CL,
    b"transfer-encoding": TE,
    b"connection": CONN,
    b"expect": EXPECT,
    b"upgrade": UPGRADE,
    b"x-forwarded-for": XFF,
    b"x-request-id": XRID,
    b"keep-alive": DROP,
    b"te": TE_FIELD,
    b"trailer": DROP,
    b"proxy-connection": DROP,
    b"proxy-authorization": DROP,
    b"x-forwarded-proto": XF_PROTO,
    b"x-forwarded-host": XF_HOST,
    b"x-forwarded-port": XF_PORT,
    b"x-real-ip": REAL_IP,
    b"forwarded": FORWARDED,
    b"accept": ACCEPT,
    # routing keys (docs/previews.md): the client's X-Preview-Branch is read, never forwarded (the
    # proxy writes its own for previews); baggage and cookies are forwarded and kept for reading
    b"x-preview-branch": PREVIEW_KEY,
    b"baggage": BAGGAGE,
    b"cookie": COOKIE,
}
ORDINARY: Final = -1  # forwarded as it came (Proxy-* aside: ``header_kind``)
# ordinary names browsers send that get past ``_SHAPES`` (every P name does: Proxy-* has any
# length), so that they too cost one lookup, not a lower() and a second one
_COMMON_P: Final = (b"pragma", b"priority")
# the kind of a name in the spellings that come (lowercase, as HTTP/2 and many clients send, and
# capitalised), looked up as sent: a usual header costs one dict lookup, not a lower() and one
_SPELLINGS: Final[dict[bytes, int]] = {
    spelling: kind
    for name, kind in (*_SPECIAL.items(), *((common, ORDINARY) for common in _COMMON_P))
    for spelling in (name, b"-".join(part.capitalize() for part in name.split(b"-")))
} | {b"TE": TE_FIELD, b"X-Request-ID": XRID, b"X-Real-IP": REAL_IP}


_P: Final = 0x70  # "p": every Proxy-* name is hop-by-hop (DROP), whatever its length
_SHAPE_FIRSTS: Final = 32  # places for a first byte: its low five bits
_SHAPE_LENGTHS: Final = 32  # special names are shorter (Proxy-* aside)


def _shape(first: int, length: int) -> int:
    """Where a name of first byte ``first`` (lowercase) and ``length`` < 32 is in _SHAPES: the low
    five bits tell the 26 letters apart (other bytes share their places, and only take the lookup)."""
    return (first & 0x1F) * _SHAPE_LENGTHS + length


def _shapes() -> bytes:
    """b"\x01" at the shape of each special name, b"\x00" elsewhere."""
    table = bytearray(_SHAPE_FIRSTS * _SHAPE_LENGTHS)
    for name in _SPECIAL:
        table[_shape(name[0], len(name))] = 1
    return bytes(table)


_SHAPES: Final = _shapes()


def header_kind(name: bytes) -> int:
    """What ``RequestHeadBuilder.add`` does with a header named ``name`` (any case, never empty:
    llhttp refuses an empty name): one of the kinds of _SPECIAL, DROP for the other Proxy-*
    (hop-by-hop) or ORDINARY."""
    first = name[0] | 0x20  # lowercase: | 0x20 maps only A-Z onto letters
    if first != _P:
        length = len(name)
        if length >= _SHAPE_LENGTHS or not _SHAPES[_shape(first, length)]:
            return ORDINARY
    kind = _SPELLINGS.get(name)
    if kind is not None:
        return kind
    lowered = name.lower()
    kind = _SPECIAL.get(lowered)
    if kind is not None:
        return kind
    return DROP if lowered.startswith(b"proxy-") else ORDINARY


# bytes allowed in a Host value (reg-name, IPv6 literal brackets, port); others are a 400
_HOST_BYTES: Final = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:[]"
_REQUEST_ID_BYTES: Final = _HOST_BYTES + b"/+="


def _only_table(allowed: bytes) -> bytes:
    """A translate() table for ``only``: the ``allowed`` bytes become b"a", all others b"0"."""
    return bytes(0x61 if byte in allowed else 0x30 for byte in range(256))


HOST_TABLE: Final = _only_table(_HOST_BYTES)
REQUEST_ID_TABLE: Final = _only_table(_REQUEST_ID_BYTES)


def only(value: bytes, table: bytes) -> bool:
    """Whether every byte of ``value`` is one ``table`` allows (_only_table). Mapping and
    isalpha(): ``translate(None, deleted)`` builds a table of its own on every call."""
    return not value or value.translate(table).isalpha()
