"""The access log's lines and batching: the json module's exact text, written in batches."""

from __future__ import annotations

import asyncio
import io
import json

from gitops_ingress.proxy.accesslog import AccessLog


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_a_full_buffer_is_written_at_once_and_the_rest_on_the_timer() -> None:
    async def scenario() -> tuple[CountingStream, int]:
        stream = CountingStream()
        log = AccessLog(stream, flush_delay=60, max_records=4)  # the timer would not fire in this test
        for index in range(10):
            log({"n": index, "target": '/a"b\\é', "seconds": 0.5})
        written = stream.writes
        log.flush()  # what shutdown does (proxy/app.py)
        return stream, written

    stream, written_before_flush = asyncio.run(scenario())
    assert written_before_flush == 2  # two full batches of 4, one write each; 2 records waiting
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(10))
    first = json.loads(lines[0])
    assert lines[0] == json.dumps(first, separators=(",", ":"), ensure_ascii=False)
    assert list(first) == ["n", "target", "seconds", "time", "pid"]
    assert '"target":"/a\\"b\\\\é"' in lines[0]


def test_outside_an_event_loop_each_record_is_written_at_once() -> None:
    stream = CountingStream()
    log = AccessLog(stream)
    log({"status": 200})
    assert stream.writes == 1 and json.loads(stream.getvalue())["status"] == 200
