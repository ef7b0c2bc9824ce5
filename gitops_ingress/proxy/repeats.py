"""Heads seen before: the request path's two shortcuts past the parser, and why they are safe.

Clients and upstreams repeat themselves byte for byte: a keep-alive client polling one URL, a
health check, an upstream whose response heads differ only in the Date (once a second). For a
small request the parser callbacks and the per-header Python around them were about a third of
the proxy's own time, so a head whose exact bytes were parsed before is looked up instead:

* ``ResponseHeads``: response head block -> ``ResponseHead`` (forwarding.py). Every head goes
  through it (a hit saves the regex split); proxy/upstream.py also uses ``known`` to pass on a
  read that holds exactly one whole response with a known, length-framed head without feeding
  the parser at all.
* ``RequestHeads``: whole request head bytes -> the finished ``RequestHead`` that httptools and
  ``RequestHead.add``/``finish`` produced for them. proxy/protocol.py uses it only for a read that
  is exactly one complete head, arriving while its parser is between messages.

Why a hit may skip the parser: the bytes are identical to ones httptools accepted at a message
boundary, and the checks our code ran on them (smuggling rules, header limits) depend on nothing
but those bytes and the server's fixed settings. Only heads that leave the parser back between
messages are kept: no body, no Upgrade, no ``Expect``, HTTP/1.1 keep-alive (requests), or a plain
Content-Length framing (responses, see ``ResponseHead.fixed_length``). Everything else always
takes the parser. Stored heads are shared by every request that repeats them, which is safe
because heads are immutable (``RequestHead`` and ``ResponseHead`` have Final attributes only: mypy
refuses a write, the compiled classes have no setters); what differs per request, such as
decide.py's origin-form of an absolute-form target, lives on the Exchange.

Both caches belong to one server (settings differ between servers), are bounded in entries and
block size, and are emptied when full. A request head is kept only the second time it is seen
(the first time only a digest is noted, an int the garbage collector does not track): clients whose
heads never repeat (a counter in the URL, changing cookies) would otherwise fill the cache with
heads that never hit, and every kept head is a dozen tracked objects that make the cyclic
collector run about once per 250 requests.

Heads that never repeat are the common case for browsers, so a miss is made cheap. ``known``
first asks whether any kept block has this length (a set of small ints), and hashes the block
only then: hashing a 500-byte browser head and missing cost about 1.9k instructions a request
under callgrind. The digest ``remember`` notes is the length and the hash of the last
``_TAIL`` bytes, not of the whole block (another 1k): where heads differ, their ends (cookies,
the last header lines) do too, and two heads that share a digest only have the second stored at
its first sighting, which costs memory within the bound, never a wrong answer (a lookup compares
whole blocks).
"""

from __future__ import annotations

from typing import Final, Generic, TypeVar

from gitops_ingress.proxy.forwarding import RequestHead
from gitops_ingress.proxy.response_head import ResponseHead

T = TypeVar("T")


_TAIL: Final = 64  # bytes of a request head that ``RequestHeads.remember``'s digest hashes


class _Repeats(Generic[T]):
    __slots__ = ("_known", "_lengths", "max_block", "max_entries")

    def __init__(self, max_entries: int, max_block: int) -> None:
        self.max_entries = max_entries
        self.max_block = max_block
        self._known: dict[bytes, T] = {}
        self._lengths: set[int] = set()  # the lengths of the blocks in _known

    def known(self, block: bytes) -> T | None:
        """What ``block`` gave before (so httptools accepted exactly these bytes), or None."""
        if len(block) not in self._lengths:
            return None  # without hashing the block (the module docstring)
        return self._known.get(block)

    def _keep(self, block: bytes, value: T) -> None:
        if len(block) <= self.max_block:
            if len(self._known) >= self.max_entries:
                self._known.clear()
                self._lengths.clear()
            self._known[block] = value
            self._lengths.add(len(block))

    def __len__(self) -> int:
        return len(self._known)


class ResponseHeads(_Repeats[ResponseHead]):
    """Response head block (status line and header lines, without the empty line) -> its head."""

    __slots__ = ("via",)

    def __init__(self, via: bytes = b"", max_entries: int = 256, max_block: int = 1024) -> None:
        super().__init__(max_entries, max_block)
        self.via = via  # ProxySettings.via: every head built here adds that Via line

    def parse(self, block: bytes) -> ResponseHead:
        """Only for blocks httptools has accepted: ``known`` vouches for them later."""
        head = self._known.get(block)
        if head is None:
            head = ResponseHead(block, self.via)
            self._keep(block, head)
        return head


class RequestHeads(_Repeats[RequestHead]):
    """A whole request head (up to and with its empty line) -> the RequestHead it gave."""

    __slots__ = ("_seen",)

    def __init__(self, max_entries: int = 1024, max_block: int = 4096) -> None:
        super().__init__(max_entries, max_block)
        self._seen: set[int] = set()  # digests of heads seen once (a collision only stores early)

    def remember(self, block: bytes, head: RequestHead) -> None:
        """Keep ``head`` for ``block`` if it leaves the parser between messages (see above)."""
        if (
            not head.has_body
            and head.upgrade is None
            and not head.expect_continue
            and head.keep_alive
            and head.http11
            and head.method != b"CONNECT"
        ):
            seen = self._seen
            digest = hash(block[-_TAIL:]) ^ len(block)  # not the whole block's (the module docstring)
            if digest in seen:
                self._keep(block, head)
            else:
                if len(seen) >= self.max_entries:
                    seen.clear()
                seen.add(digest)
