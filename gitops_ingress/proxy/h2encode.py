"""HPACK encoding of response header blocks without the dynamic table (RFC 7541).

The ``hpack`` package's Encoder cost about 230 us per gRPC response: it searches its dynamic table
for every field and Huffman-codes every literal in Python. This encoder never inserts into the
dynamic table, so each field's encoding depends on the field alone, never on what was sent before:

* a field that is in the static table whole (``:status: 200``) is one indexed byte;
* any other field is a "literal never indexed" (RFC 7541 6.2.3), its name by static index when
  the static table has the name, its value as raw octets (no Huffman: longer on the wire, far
  cheaper to make). Never indexed, not merely without indexing, for every literal: nothing we
  write enters a table, ours or an intermediary's that re-encodes it, so a secret
  (``authorization``, ``cookie``, ``set-cookie``) can never be guessed by a compression oracle
  (RFC 7541 7.1), and one rule covers every field: no list of sensitive names to keep up to date.

Because an encoded field carries no table state, it can be remembered: ``H2Encoder`` keeps the
encodings it made (bounded, per connection), so the repeated fields of a response (``server``,
``content-type``, ``grpc-status: 0``) cost a dictionary lookup. The peer's decoder table is never
touched, so the only state to keep consistent is its size: when the client changes
SETTINGS_HEADER_TABLE_SIZE, the next block starts with a table size update to 0 (RFC 7541 4.2),
and so does the first block of the connection.
"""

from __future__ import annotations

from typing import Final

from hpack.table import HeaderTable

_STATIC: Final[tuple[tuple[bytes, bytes], ...]] = tuple(HeaderTable.STATIC_TABLE)
_WHOLE: Final[dict[tuple[bytes, bytes], bytes]] = {
    field: bytes((0x80 | index,)) for index, field in reversed(list(enumerate(_STATIC, 1)))
}
_NAMES: Final[dict[bytes, int]] = {name: index for index, (name, _) in reversed(list(enumerate(_STATIC, 1)))}
_TABLE_SIZE_ZERO: Final = b"\x20"
_NEVER_INDEXED: Final = 0x10  # the first octet's pattern 0001xxxx (RFC 7541 6.2.3)
_CACHE_LIMIT: Final = 512


def integer(value: int, prefix_bits: int, first: int) -> bytes:
    """An HPACK integer (RFC 7541 5.1) with ``prefix_bits`` in the first octet beside ``first``."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_field(name: bytes, value: bytes) -> bytes:
    whole = _WHOLE.get((name, value))
    if whole is not None:
        return whole
    index = _NAMES.get(name, 0)
    if index:
        head = integer(index, 4, _NEVER_INDEXED)
    else:
        head = bytes((_NEVER_INDEXED,)) + integer(len(name), 7, 0x00) + name
    return head + integer(len(value), 7, 0x00) + value


class H2Encoder:
    __slots__ = ("cache", "table_size_pending")

    def __init__(self) -> None:
        self.cache: dict[tuple[bytes, bytes], bytes] = {}
        self.table_size_pending = True  # the first block empties the peer's table: nothing is ever in it

    def table_size_changed(self) -> None:
        """The client sent SETTINGS_HEADER_TABLE_SIZE: the next block acknowledges it."""
        self.table_size_pending = True

    def encode(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        cache = self.cache
        parts: list[bytes] = []
        if self.table_size_pending:
            self.table_size_pending = False
            parts.append(_TABLE_SIZE_ZERO)
        for field in fields:
            encoded = cache.get(field)
            if encoded is None:
                encoded = encode_field(field[0], field[1])
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[field] = encoded
            parts.append(encoded)
        return b"".join(parts)
