"""A readers-writer lock: any number of readers at once, or one writer alone (writers go first)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class ReadWriteLock:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # thread id of the writer
        self._writers_waiting = 0
        self._held = threading.local()  # this thread's read depth (a nested read never waits)

    @contextmanager
    def read(self) -> Iterator[None]:
        if self._writer == threading.get_ident() or getattr(self._held, "depth", 0):  # re-entry never waits
            self._held.depth = getattr(self._held, "depth", 0) + 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        with self._cond:
            while self._writer is not None or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        self._held.depth = 1
        try:
            yield
        finally:
            self._held.depth = 0
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._writer == me:
            yield
            return
        if getattr(self._held, "depth", 0):
            raise RuntimeError("a thread holding the read lock cannot take the write lock")
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = me
        try:
            yield
        finally:
            with self._cond:
                self._writer = None
                self._cond.notify_all()

    @property
    def writing(self) -> bool:
        """A writer holds the lock or waits for it (new readers would wait)."""
        return self._writer is not None or self._writers_waiting > 0
