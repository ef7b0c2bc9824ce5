"""``Memo``: git objects by id, bounded by count or by weight, filled by reads or from outside."""

from __future__ import annotations

from gitops_ingress.gitrepo.memo import Memo


def test_a_memo_reads_a_missing_id_once_and_keeps_what_was_put() -> None:
    reads: list[bytes] = []

    def read(key: bytes) -> int:
        reads.append(key)
        return len(key)

    memo: Memo[int] = Memo(2)
    assert memo.get(b"a", read) == 1 and memo.get(b"a", read) == 1
    memo.put(b"bb", 7)  # filled from outside a read (a preload)
    assert memo.get(b"bb", read) == 7 and reads == [b"a"]
    memo.get(b"ccc", read)  # the least recently used (a) goes
    assert b"a" not in memo and b"bb" in memo and b"ccc" in memo


def test_a_memo_weighed_by_bytes_keeps_at_most_its_capacity_and_never_one_entry_over_it() -> None:
    memo: Memo[bytes] = Memo(10, len)
    memo.put(b"x", b"12345")
    memo.put(b"y", b"123456")  # 11 bytes in all: x goes
    assert memo.peek(b"x") is None and memo.peek(b"y") == b"123456"
    memo.put(b"z", b"0" * 11)  # larger than the whole memo: not kept, nothing pushed out
    assert memo.peek(b"z") is None and memo.peek(b"y") == b"123456"
    memo.put(b"y", b"1")  # replaced: its old weight no longer counts
    memo.put(b"w", b"123456789")
    assert memo.peek(b"y") == b"1" and memo.peek(b"w") == b"123456789"
