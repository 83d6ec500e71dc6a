"""Time-ordered 64-bit ids assigned in Python before INSERT.

Models whose rows carry encrypted personal data bind the row's primary key into each field's
associated data, so the key must be known before the row is written (tongban.crypto.fields).

Layout of an id (a positive signed 64-bit integer, so it fits PostgreSQL `bigint`):

    0 | milliseconds since 2024-01-01T00:00Z (41 bits, until 2093) | random-start sequence (22 bits)

Within one process ids strictly increase. Each process (re-seeded after fork) starts every new
millisecond's sequence at a random point, so two processes produce the same id only if they draw
overlapping sequences in the same millisecond: for n ids per millisecond per process that is
about 2n / 4,194,304. A clash is never silent: the INSERT fails on the primary key.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
import time

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
TIME_BITS = 41
SEQUENCE_BITS = 22
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
# A new millisecond starts its sequence in the lower half, so at least 2**21 ids fit before the
# generator has to borrow the next millisecond.
_START_RANGE = 1 << (SEQUENCE_BITS - 1)
MAX_ID = (1 << (TIME_BITS + SEQUENCE_BITS)) - 1


class _Generator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def reseed(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next(self) -> int:
        with self._lock:
            now_ms = time.time_ns() // 1_000_000 - EPOCH_MS
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._sequence = secrets.randbelow(_START_RANGE)
            else:
                # Same millisecond, or the wall clock stepped back: keep counting on the last one.
                self._sequence += 1
                if self._sequence > _SEQUENCE_MASK:
                    self._last_ms += 1
                    self._sequence = secrets.randbelow(_START_RANGE)
            if self._last_ms >> TIME_BITS:
                raise OverflowError("the 41-bit millisecond clock of tongban ids ran out (year 2093)")
            return (self._last_ms << SEQUENCE_BITS) | self._sequence


_generator = _Generator()
if hasattr(os, "register_at_fork"):
    # A forked server worker must not continue its parent's sequence.
    os.register_at_fork(after_in_child=_generator.reseed)


def new_id() -> int:
    """A fresh, time-ordered, positive 64-bit id (see the module docstring for the layout)."""
    return _generator.next()


def id_time(value: int) -> dt.datetime:
    """When an id was made (UTC, millisecond precision): handy for operators reading logs."""
    ms = (value >> SEQUENCE_BITS) + EPOCH_MS
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
