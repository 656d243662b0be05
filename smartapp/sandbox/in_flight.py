"""Requests of this process inside one of the sandbox's waits: how many now, the most at once.

Tests wait on these instead of a clock: until no slow answer is still running, or to see that
a page's calls overlapped."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class InFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0  # since the last `forget_most`

    @contextmanager
    def inside(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1

    def forget_most(self) -> None:
        with self._lock:
            self.most = self.now
