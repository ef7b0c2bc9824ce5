"""Parsed files cached by git blob SHA, so that a push re-parses only the files it changed.

``core.objects.parse_file`` is a pure function of (path, bytes, environment, settings). Within one
engine the settings are fixed and the environment follows from the path, so ``(blob sha, path)``
identifies a result: the same blob at the same path on a thousand branches is parsed once. The path
stays in the key because findings and source positions name it. The pipeline (``core.build``)
asks the cache before it reads a file, so a hit costs neither the read nor the parse.

The cache is bounded (least recently used out) so a repository with a long history of churn cannot
grow it without limit; a miss only costs a parse. It is shared by the engine's worker threads, so
it takes a lock; parsing itself happens outside the lock, and two threads that miss on the same key
at once both parse (harmless: the results are equal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from gitops_ingress.core.objects import ParsedFile

DEFAULT_CAPACITY = 200_000


class ParseCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], ParsedFile] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._entries

    def get(self, blob: str, path: str, /) -> ParsedFile | None:
        key = (blob, path)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, blob: str, path: str, parsed: ParsedFile, /) -> None:
        with self._lock:
            self._entries[(blob, path)] = parsed
            self._entries.move_to_end((blob, path))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
