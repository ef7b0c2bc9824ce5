"""Our HPACK (proxy/h2decode.py, proxy/h2encode.py) against the ``hpack`` package, the reference
implementation h2 uses: what one encodes the other decodes to the same fields, dynamic table,
Huffman, never-indexed fields and table size changes included; and bad blocks are errors."""

from __future__ import annotations

import random

import hpack
import pytest

from gitops_ingress.proxy.h2decode import H2Decoder
from gitops_ingress.proxy.h2encode import H2Encoder
from gitops_ingress.proxy.h2frames import COMPRESSION_ERROR, ENHANCE_YOUR_CALM, H2ConnectionError

Fields = list[tuple[bytes, bytes]]
NAMES = [b":method", b":path", b"x-a", b"user-agent", b"cookie", b"authorization", b"x-" + b"long" * 40, b"grpc-status"]


def random_fields(rng: random.Random, long: bool) -> Fields:
    def value() -> bytes:
        return bytes(rng.choice(b"abcxyz0123 /") for _ in range(rng.randint(0, 300 if long else 20)))

    return [(rng.choice(NAMES), value()) for _ in range(rng.randint(1, 8))]


def test_decodes_what_hpack_encodes() -> None:
    rng = random.Random(15)
    encoder, ours = hpack.Encoder(), H2Decoder(4096, 1 << 20)
    for block_no in range(2000):
        fields = random_fields(rng, block_no % 7 == 0)
        sent = [hpack.NeverIndexedHeaderTuple(n, v) if rng.random() < 0.2 else (n, v) for n, v in fields]
        if block_no % 500 == 250:
            encoder.header_table_size = rng.choice([0, 100, 4096])  # the block starts with a size update
        assert ours.decode(encoder.encode(sent, huffman=rng.random() < 0.5)) == fields


def test_hpack_decodes_what_we_encode() -> None:
    rng = random.Random(16)
    ours, decoder = H2Encoder(), hpack.Decoder()
    for _ in range(1000):
        fields = [(b":status", b"200"), *random_fields(rng, False)]
        assert [(bytes(n), bytes(v)) for n, v in decoder.decode(ours.encode(fields), raw=True)] == fields
    ours.table_size_changed()
    decoder.max_allowed_table_size = 0  # a client that allows no table: our blocks never needed one
    assert decoder.decode(ours.encode([(b"server", b"x")]), raw=True) == [(b"server", b"x")]


def test_every_literal_we_write_is_never_indexed() -> None:
    """Secrets (authorization, cookie) and every other literal: the decoder sees the never-indexed
    representation, and its dynamic table stays empty whatever we send."""
    ours, decoder = H2Encoder(), hpack.Decoder()
    fields = [
        (b":status", b"200"),  # whole in the static table: one indexed byte
        (b"authorization", b"Bearer secret"),
        (b"cookie", b"session=secret"),
        (b"set-cookie", b"id=1"),
        (b"x-own", b"value"),  # a name the static table lacks
    ]
    for _ in range(3):  # the same fields again, from the encoder's cache
        decoded = decoder.decode(ours.encode(fields), raw=True)
        assert [type(field) for field in decoded] == [hpack.HeaderTuple] + [hpack.NeverIndexedHeaderTuple] * 4
        assert [(bytes(n), bytes(v)) for n, v in decoded] == fields
    assert len(decoder.header_table.dynamic_entries) == 0


@pytest.mark.parametrize(
    ("block", "code"),
    [
        (b"\xff\x80\x80\x80\x80\x80", COMPRESSION_ERROR),  # an integer that never ends
        (b"\xbf\x7f", COMPRESSION_ERROR),  # an index past both tables
        (b"\x80", COMPRESSION_ERROR),  # index 0
        (b"\x82\x20", COMPRESSION_ERROR),  # a table size update after a field
        (b"\x3f\xe1\x3f", COMPRESSION_ERROR),  # a table size over our SETTINGS
        (b"\x40\x85abc", COMPRESSION_ERROR),  # a string past the end
        (b"\x00\x81\xff\x00", COMPRESSION_ERROR),  # Huffman with EOS inside
        (b"\x00\x01a\x7f\x81\x01" + b"v" * 300, ENHANCE_YOUR_CALM),  # a header list past the bound
    ],
)
def test_bad_blocks_are_connection_errors(block: bytes, code: int) -> None:
    with pytest.raises(H2ConnectionError) as caught:
        H2Decoder(4096, 200).decode(block)
    assert caught.value.code == code


def test_the_dynamic_table_evicts_by_size() -> None:
    encoder, ours = hpack.Encoder(), H2Decoder(4096, 1 << 20)
    encoder.header_table_size = 200
    for index in range(50):  # each field fills most of the table: older ones are evicted
        field = (b"x-n", b"%03d" % index + b"v" * 120)
        assert ours.decode(encoder.encode([field])) == [field]
        assert ours.decode(encoder.encode([field])) == [field]  # now an indexed reference
    assert ours.size <= 200
