"""The JSON log lines and their batching: the json module's exact text, written in batches."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitops_ingress.core.backends import Endpoint
from gitops_ingress.proxy.accesslog import AccessLog, AccessRecord, DictLog


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def record(target: bytes = b"/a", *, branch: str = "main", grpc_status: int = -1, ended: float = 0.0) -> AccessRecord:
    return (
        b"10.0.0.9",
        "h1",
        b"GET",
        target,
        b"shop.example.com",
        200,
        0.0015324789,
        "stable",
        branch,
        "shop.example.com",
        Endpoint("10.0.0.7", 8080),
        b"6c1f0e5a9b2d4c3e000000000000002a",
        ended or time.monotonic(),
        grpc_status,
    )


def as_dict(rec: AccessRecord, wall: float) -> dict[str, object]:
    """The record as docs/proxy.md specifies it: the dict the json module formats (``wall``: its
    ``time``, which the log takes from its own clock)."""
    client, protocol, method, target, host, status, seconds, kind, branch, group, upstream, rid, _end, grpc = rec
    line: dict[str, object] = {
        "client": client.decode("latin-1"),
        "protocol": protocol,
        "method": method.decode("latin-1"),
        "target": target.decode("latin-1"),
        "host": host.decode("latin-1"),
        "status": status,
    }
    if grpc >= 0:
        line["grpc_status"] = grpc
    line |= {
        "seconds": round(seconds * 1e6) / 1e6,  # the whole number of microseconds, in seconds
        "kind": kind,
        "branch": branch,
        "host_group": group,
        "upstream": str(upstream) if upstream is not None else "",
        "request_id": rid.decode("latin-1"),
        "time": wall,
        "pid": os.getpid(),
    }
    return line


def test_access_lines_are_the_json_modules_text_of_the_documented_record() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)
    tricky = [
        record(),
        record('/a"b\\c?x=é'.encode("latin-1"), branch='feat/"quoted"\\'),
        record(b"/\x01\x1f\x7f\xff\ttab", branch="\u00e9t\u00e9\U0001f600"),
        record(b"/call", grpc_status=0),
        record(b"/call", grpc_status=14),
    ]
    before = time.time()
    for rec in tricky:
        log(rec)  # outside a loop: written at once
    after = time.time()
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(tricky)
    for line, rec in zip(lines, tricky, strict=True):
        parsed = json.loads(line)
        assert before - 1 <= parsed["time"] <= after + 1  # the monotonic end, put on the wall clock
        expected = as_dict(rec, parsed["time"])
        assert line == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert list(json.loads(lines[0])) == [
        "client", "protocol", "method", "target", "host", "status", "seconds", "kind", "branch",
        "host_group", "upstream", "request_id", "time", "pid",
    ]  # fmt: skip
    assert json.loads(lines[3])["grpc_status"] == 0 and json.loads(lines[4])["grpc_status"] == 14
    assert '"upstream":"http://10.0.0.7:8080"' in lines[0] and '"seconds":0.001532,' in lines[0]


def assert_lines_are_the_json_modules(records: list[AccessRecord]) -> None:
    stream = io.StringIO()
    log = AccessLog(stream)
    for rec in records:
        log(rec)  # outside a loop: written at once, one batch each
    lines = stream.getvalue().split("\n")
    assert lines.pop() == ""  # every line ends in a newline, no line holds one
    assert len(lines) == len(records)
    for line, rec in zip(lines, records, strict=True):
        expected = as_dict(rec, json.loads(line)["time"])
        assert line == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)


# what is hard to quote: quotes, backslashes, every control character, DEL, latin-1, non-BMP,
# lone surrogates (a str field may hold one: json.dumps leaves it as is, and so must the log)
ODD_TEXT = st.text(
    st.one_of(st.sampled_from('"\\/\x00\x1f\x7f\u2028\ufeff\U0001f600\ud800\udfff'), st.characters()), max_size=12
)
ODD_BYTES = st.one_of(st.binary(max_size=12), ODD_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")))
ENDPOINTS = st.one_of(
    st.none(),
    st.builds(Endpoint, st.sampled_from(["10.0.0.7", "::1", "backend.ns.svc"]), st.integers(1, 65535),
              st.sampled_from(["http", "https", "h2c"])),
)  # fmt: skip
RECORDS = st.tuples(
    ODD_BYTES, ODD_TEXT, ODD_BYTES, ODD_BYTES, ODD_BYTES, st.integers(100, 599),
    st.one_of(st.floats(0, 3600, allow_nan=False), st.sampled_from([0.0, 5e-7, 1.5e-6, 0.0015324789, 59.9999995])),
    ODD_TEXT, ODD_TEXT, ODD_TEXT, ENDPOINTS, ODD_BYTES, st.floats(0, 1e6, allow_nan=False), st.integers(-1, 16),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORDS, min_size=1, max_size=6))
def test_any_record_is_the_json_modules_text(records: list[AccessRecord]) -> None:
    """Differential: odd strings and numbers in every field, several records per batch so that
    memoised values are looked up as well as made; the same text as json.dumps of the dict."""
    assert_lines_are_the_json_modules(records)


def test_time_is_when_the_request_ended_not_when_the_batch_was_written() -> None:
    stream = io.StringIO()
    log = AccessLog(stream)
    log(record(ended=time.monotonic() - 30))
    assert abs(json.loads(stream.getvalue())["time"] - (time.time() - 30)) < 1


def test_no_endpoint_tried_is_an_empty_upstream() -> None:
    stream = io.StringIO()
    rec = record()
    AccessLog(stream)((*rec[:10], None, *rec[11:]))
    assert json.loads(stream.getvalue())["upstream"] == ""


def test_a_full_buffer_is_written_at_once_and_the_rest_on_the_timer() -> None:
    async def scenario() -> tuple[CountingStream, int]:
        stream = CountingStream()
        log = AccessLog(stream, flush_delay=60, max_records=4)  # the timer would not fire in this test
        for index in range(10):
            log(record(b"/%d" % index))
        written = stream.writes
        log.flush()  # what shutdown does (proxy/app.py)
        return stream, written

    stream, written_before_flush = asyncio.run(scenario())
    assert written_before_flush == 2  # two full batches of 4, one write each; 2 records waiting
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["target"] for line in lines] == [f"/{index}" for index in range(10)]


def test_dict_lines_keep_the_dicts_keys_then_time_and_pid() -> None:
    async def scenario() -> tuple[CountingStream, int]:
        stream = CountingStream()
        log = DictLog(stream, flush_delay=60, max_records=4)
        for index in range(6):
            log({"n": index, "target": '/a"b\\é', "seconds": 0.5})
        written = stream.writes
        log.flush()
        return stream, written

    stream, written_before_flush = asyncio.run(scenario())
    assert written_before_flush == 1
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(6))
    first = json.loads(lines[0])
    assert lines[0] == json.dumps(first, separators=(",", ":"), ensure_ascii=False)
    assert list(first) == ["n", "target", "seconds", "time", "pid"]
    assert '"target":"/a\\"b\\\\é"' in lines[0]


def test_outside_an_event_loop_each_record_is_written_at_once() -> None:
    stream = CountingStream()
    log = DictLog(stream)
    log({"status": 200})
    assert stream.writes == 1 and json.loads(stream.getvalue())["status"] == 200


def test_a_lone_surrogate_on_a_strict_utf8_stream_loses_no_line() -> None:
    # str fields decoded with surrogateescape carry lone surrogates; a strict UTF-8 stream refused
    # the batch's one write and every line of the batch was dropped
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    log = DictLog(stream)
    log({"branch": "feature/\udce9t\u00e9"})
    log({"branch": "main"})
    lines = raw.getvalue().decode("utf-8").splitlines()
    assert [json.loads(line)["branch"] for line in lines] == ["feature/\udce9t\u00e9", "main"]
