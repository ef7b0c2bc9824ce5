"""Parsed files cached by git blob SHA, so that a push re-parses only the files it changed.

``core.objects.parse_file`` is a pure function of (path, bytes, environment, settings). Within one
engine the settings are fixed and the environment follows from the path, so ``(blob sha, path)``
identifies a result: the same blob at the same path on a thousand branches is parsed once. The path
stays in the key because findings and source positions name it.

The cache is bounded (least recently used out) so a repository with a long history of churn cannot
grow it without limit; a miss only costs a parse. It is shared by the engine's worker threads, so
it takes a lock; parsing itself happens outside the lock, and two threads that miss on the same key
at once both parse (harmless: the results are equal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

from gitops_ingress.core.objects import ParsedFile, parse_file
from gitops_ingress.core.settings import Settings

DEFAULT_CAPACITY = 200_000
Parse = Callable[[str, bytes, str, Settings], ParsedFile]


class ParseCache:
    def __init__(self, capacity: int = DEFAULT_CAPACITY, parse: Parse = parse_file) -> None:
        self._capacity = capacity
        self._parse = parse
        self._entries: OrderedDict[tuple[str, str], ParsedFile] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._entries

    def get(self, blob: str, path: str) -> ParsedFile | None:
        key = (blob, path)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, blob: str, path: str, parsed: ParsedFile) -> None:
        with self._lock:
            self._entries[(blob, path)] = parsed
            self._entries.move_to_end((blob, path))
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def session(self, blobs: Mapping[str, str]) -> CachedParse:
        """A parse function for one commit whose files are ``path -> blob sha``. Hits are taken
        now, so an eviction during the commit's build cannot turn a hit into a miss."""
        hits: dict[str, ParsedFile] = {}
        for path, blob in blobs.items():
            found = self.get(blob, path)
            if found is not None:
                hits[path] = found
        return CachedParse(self, blobs, hits, self._parse)


class CachedParse:
    """Drop-in ``parse`` for ``core.config.load_snapshot`` that counts its cache misses."""

    def __init__(self, cache: ParseCache, blobs: Mapping[str, str], hits: dict[str, ParsedFile], parse: Parse) -> None:
        self._cache = cache
        self._blobs = blobs
        self.hits = hits
        self._parse = parse
        self.parsed = 0

    def misses(self) -> list[str]:
        """Paths whose bytes must be read (every other path may be passed as ``b""``)."""
        return [path for path in self._blobs if path not in self.hits]

    def __call__(self, path: str, data: bytes, environment: str, settings: Settings) -> ParsedFile:
        found = self.hits.get(path)
        if found is not None:
            return found
        result = self._parse(path, data, environment, settings)
        self.parsed += 1
        blob = self._blobs.get(path)
        if blob is not None:
            self._cache.put(blob, path, result)
        return result
