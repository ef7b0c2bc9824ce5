"""HPACK decoding of request header blocks (RFC 7541), with the dynamic table the client fills.

The ``hpack`` package's Decoder took about 40 us (175 us on a loaded machine) for a request whose
fields were all indexed, a byte each: it is general Python over iterators and memoryviews. This
decoder is the same algorithm written for mypyc over ``bytes`` and ints: the representations of
section 6 (indexed; literal with incremental indexing, without indexing, never indexed; dynamic
table size update, only at the start of a block and within our SETTINGS_HEADER_TABLE_SIZE), the
dynamic table of section 2.3.2 with eviction by size (4.4), integers of section 5.1 (at most 4
continuation octets), and string literals of 5.2, Huffman-coded ones by ``hpack``'s own Huffman
table. A Huffman string decodes the same whatever came before, so the decodings are remembered
(bounded, per connection): repeated literals a client does not index cost a lookup.

Every failure is a COMPRESSION_ERROR connection error (a block left half decoded breaks the table
both ends share), except a decoded list over ``max_list`` octets (RFC 9113 6.5.2's accounting,
32 per field), the HPACK bomb: ENHANCE_YOUR_CALM.
"""

from __future__ import annotations

from typing import Final

from hpack.exceptions import HPACKDecodingError
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

from gitops_ingress.proxy.h2frames import COMPRESSION_ERROR, ENHANCE_YOUR_CALM, H2ConnectionError

_STATIC: Final[list[tuple[bytes, bytes]]] = list(HeaderTable.STATIC_TABLE)
_STATIC_COUNT: Final = len(_STATIC)
_CACHE_LIMIT: Final = 512


def _bad(message: str) -> H2ConnectionError:
    return H2ConnectionError(COMPRESSION_ERROR, f"undecodable header block: {message}")


class H2Decoder:
    __slots__ = ("huffman", "max_list", "max_size", "settings_size", "size", "table")

    def __init__(self, settings_size: int, max_list: int) -> None:
        self.settings_size = settings_size  # our SETTINGS_HEADER_TABLE_SIZE: the most a client may ask
        self.max_size = settings_size
        self.max_list = max_list
        self.table: list[tuple[bytes, bytes]] = []  # the dynamic table, oldest first
        self.size = 0
        self.huffman: dict[bytes, bytes] = {}

    def decode(self, data: bytes) -> list[tuple[bytes, bytes]]:
        fields: list[tuple[bytes, bytes]] = []
        at = 0
        end = len(data)
        listed = 0
        while at < end:
            byte = data[at]
            if byte & 0x80:  # indexed field
                index, at = _integer(data, at, 7)
                field = self._field(index)
            elif byte & 0x40:  # literal with incremental indexing
                index, at = _integer(data, at, 6)
                field, at = self._literal(data, at, index)
                self._add(field)
            elif byte & 0x20:  # dynamic table size update
                if fields:
                    raise _bad("a table size update after a field")
                size, at = _integer(data, at, 5)
                if size > self.settings_size:
                    raise _bad(f"table size {size} over our {self.settings_size}")
                self.max_size = size
                self._evict()
                continue
            else:  # literal without indexing (0x00) or never indexed (0x10)
                index, at = _integer(data, at, 4)
                field, at = self._literal(data, at, index)
            listed += len(field[0]) + len(field[1]) + 32
            if listed > self.max_list:
                raise H2ConnectionError(ENHANCE_YOUR_CALM, f"a header list over {self.max_list} octets")
            fields.append(field)
        return fields

    def _field(self, index: int) -> tuple[bytes, bytes]:
        if 0 < index <= _STATIC_COUNT:
            return _STATIC[index - 1]
        table = self.table
        dynamic = index - _STATIC_COUNT
        if index == 0 or dynamic > len(table):
            raise _bad(f"index {index} not in the tables")
        return table[len(table) - dynamic]

    def _literal(self, data: bytes, at: int, index: int) -> tuple[tuple[bytes, bytes], int]:
        if index:
            name = self._field(index)[0]
        else:
            name, at = self._string(data, at)
        value, at = self._string(data, at)
        return (name, value), at

    def _string(self, data: bytes, at: int) -> tuple[bytes, int]:
        if at >= len(data):
            raise _bad("a string past the end")
        huffman = data[at] & 0x80
        length, at = _integer(data, at, 7)
        end = at + length
        if end > len(data):
            raise _bad("a string past the end")
        raw = data[at:end]
        if not huffman:
            return raw, end
        decoded = self.huffman.get(raw)
        if decoded is None:
            try:
                decoded = bytes(decode_huffman(raw))
            except HPACKDecodingError as exc:
                raise _bad(str(exc)) from exc
            if len(self.huffman) >= _CACHE_LIMIT:
                self.huffman.clear()
            self.huffman[raw] = decoded
        return decoded, end

    def _add(self, field: tuple[bytes, bytes]) -> None:
        size = len(field[0]) + len(field[1]) + 32
        if size > self.max_size:  # RFC 7541 4.4: the table empties, the field is not kept
            self.table.clear()
            self.size = 0
            return
        self.table.append(field)
        self.size += size
        self._evict()

    def _evict(self) -> None:
        table = self.table
        drop = 0
        size = self.size
        while size > self.max_size:
            name, value = table[drop]
            size -= len(name) + len(value) + 32
            drop += 1
        if drop:
            del table[:drop]
            self.size = size


def _integer(data: bytes, at: int, prefix_bits: int) -> tuple[int, int]:
    """The integer at ``data[at]`` with a ``prefix_bits`` prefix (RFC 7541 5.1), and where it ends."""
    limit = (1 << prefix_bits) - 1
    value = data[at] & limit
    at += 1
    if value < limit:
        return value, at
    shift = 0
    end = len(data)
    while True:
        if at >= end or shift > 21:
            raise _bad("an integer past the end or over 2^28")
        byte = data[at]
        at += 1
        value += (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at
