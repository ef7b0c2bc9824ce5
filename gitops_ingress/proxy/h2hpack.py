"""Our HPACK (h2decode.py, h2encode.py) in the ``h2`` library's encoder and decoder slots.

The upstream side (h2upstream.py) keeps ``h2`` for its state machine, but HPACK was its largest
cost per gRPC call (the ``hpack`` Encoder about 230 us, searching its dynamic table and
Huffman-coding in Python). ``h2`` reaches its coder through two attributes,
``H2Connection.encoder`` and ``.decoder``, with a small surface: ``encode(headers)``,
``decode(block, raw=True)``, and the settings it forwards (``header_table_size`` from the peer's
SETTINGS_HEADER_TABLE_SIZE, ``max_header_list_size`` and ``max_allowed_table_size`` from ours).
These two classes are that surface over our coders; decoding errors become the ``hpack``
exceptions ``h2`` turns into its own connection errors.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack.exceptions import HPACKDecodingError, OversizedHeaderListError

from gitops_ingress.proxy.h2decode import H2Decoder
from gitops_ingress.proxy.h2encode import H2Encoder
from gitops_ingress.proxy.h2frames import ENHANCE_YOUR_CALM, H2ConnectionError

_DEFAULT_TABLE_SIZE = 4096
_H2_DEFAULT_HEADER_LIST = 65536  # h2's own default (H2Connection.DEFAULT_MAX_HEADER_LIST_SIZE)


class EncoderForH2:
    def __init__(self) -> None:
        self.encoder = H2Encoder()

    @property
    def header_table_size(self) -> int:
        return 0  # our encoder keeps nothing in the peer's table, whatever size it allows

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self.encoder.table_size_changed()

    def encode(self, headers: Iterable[tuple[bytes, bytes]], huffman: bool = True) -> bytes:
        return self.encoder.encode([(bytes(name), bytes(value)) for name, value in headers])


class DecoderForH2:
    def __init__(self) -> None:
        self.decoder = H2Decoder(_DEFAULT_TABLE_SIZE, _H2_DEFAULT_HEADER_LIST)

    @property
    def max_header_list_size(self) -> int:
        return self.decoder.max_list

    @max_header_list_size.setter
    def max_header_list_size(self, value: int) -> None:
        self.decoder.max_list = value

    @property
    def max_allowed_table_size(self) -> int:
        return self.decoder.settings_size

    @max_allowed_table_size.setter
    def max_allowed_table_size(self, value: int) -> None:
        self.decoder.settings_size = value

    def decode(self, data: bytes, raw: bool = True) -> list[tuple[bytes, bytes]]:
        try:
            return self.decoder.decode(bytes(data))
        except H2ConnectionError as exc:
            if exc.code == ENHANCE_YOUR_CALM:
                raise OversizedHeaderListError(str(exc)) from exc
            raise HPACKDecodingError(str(exc)) from exc
