# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The request budget that every community.ngrok module on this machine shares: pacing.

INTERNAL: this module_util is private to the collection (its name starts with
an underscore). It may change without notice; do not import it from other
collections.

ngrok allows an account ``rate_limit`` API requests per rolling ``window``
seconds (120 per 60 s by default). Every module process (each fork of a play,
each concurrent run) that talks to the same API URL with the same API key
reserves a send time in one record file in the temp dir before each attempt it
sends. Under an exclusive ``flock`` it drops the times that have left the
window, takes the earliest time at which sending keeps at most ``rate_limit``
sends in any window of ``window`` seconds, records it and releases the lock;
only then does it sleep until that time. A fleet therefore sends at the limit
and never above it, instead of probing it with requests that are refused (and
that ngrok may count against the window).

The server counts a request when it arrives, a little after its send time, and
that delay varies (process wake-up, connecting, CPU load, the network): sends
spaced by exactly ``window`` would arrive closer than that about half the
time. So the sends are spaced by ``window`` plus JITTER_MARGIN of it.

The record's name is a SHA-256 of the API URL and the API key; the key itself
is never written. The file is the user's own (0600); a record that cannot be
read as a list of times is started afresh. A record that cannot be used at all
(another user's file, a symlink, a full disk) turns pacing off for this run,
with one warning: 429 answers are still waited out by the client.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import json
import math
import os
import stat
import tempfile
import time

RECORD_PREFIX = "ansible-community.ngrok-pacing-"
#: The extra spacing, as a fraction of the window, that absorbs the varying delay between a send
#: time and the request's arrival. Measured on the 300-host fleet test (20 forks, 2 loaded cores,
#: local emulator): sends spaced by exactly the window arrived up to 55 ms closer than the window
#: (half of the full windows broke the limit by some milliseconds); 2% is 0.1 s of a 5 s window and
#: 1.2 s of ngrok's 60 s one.
JITTER_MARGIN = 0.02


def record_name(api_url: str, api_key: str) -> str:
    """The record's file name for an API URL and key: a hash of both, never the key."""
    digest = hashlib.sha256(("%s\n%s" % (api_url, api_key)).encode("utf-8")).hexdigest()
    return RECORD_PREFIX + digest


def next_slot(times: list[float], now: float, rate_limit: int, window: float) -> float:
    """The earliest send time, not before ``now``, that keeps at most ``rate_limit`` sends in any window.

    ``times`` is sorted and holds only sends after ``now - window`` (reservations may lie ahead of
    ``now``). Every send at or before ``slot - window`` is out of any window that holds ``slot``, so
    with ``slot >= times[-rate_limit] + window`` at most ``rate_limit - 1`` others share one with it.
    """
    if len(times) < rate_limit:
        return now
    return max(now, times[len(times) - rate_limit] + window)


class Pacer:
    """Reserves each send in the record shared by all module processes of this machine.

    Sends are spaced by ``window`` plus ``margin`` of it (JITTER_MARGIN by default).
    A ``rate_limit`` of 0 turns pacing off: nothing is recorded and nothing waits. ``sleep`` and
    ``clock`` (wall-clock seconds, the same in every process) are injectable so that tests need not
    wait; ``directory`` defaults to the temp dir. ``warn`` receives the one warning given when the
    record cannot be used.
    """

    def __init__(self, api_url: str, api_key: str, rate_limit: int, window: float, directory: str | None = None,
                 sleep=time.sleep, clock=time.time, warn=None, margin: float = JITTER_MARGIN) -> None:
        self.rate_limit = rate_limit
        self.window = window
        #: What the pacer keeps between a send and the ``rate_limit``-th after it.
        self.spacing = window * (1 + margin)
        self.path = os.path.join(directory or tempfile.gettempdir(), record_name(api_url, api_key))
        self._sleep = sleep
        self._clock = clock
        self._warn = warn
        self.off_reason: str | None = None
        #: Seconds waited before each send.
        self.waits: list[float] = []

    def wait_turn(self) -> None:
        """Reserve the next send time and sleep until it (never while holding the lock)."""
        delay = self.reserve() - self._clock()
        delay = max(0.0, delay)
        self.waits.append(delay)
        if delay > 0:
            self._sleep(delay)

    def reserve(self) -> float:
        """Record and return the earliest send time that keeps the shared budget; ``now`` when pacing is off."""
        now = self._clock()
        if self.rate_limit <= 0 or self.off_reason is not None:
            return now
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            return self._turn_off(exc, now)
        with os.fdopen(fd, "r+b") as record:  # closing it releases the lock
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
                    return self._turn_off("it is not a file of this user", now)
                if stat.S_IMODE(info.st_mode) & 0o077:
                    os.fchmod(fd, 0o600)
                fcntl.flock(fd, fcntl.LOCK_EX)
                now = self._clock()  # the lock may have taken a while
                times = _read_times(record.read(), now - self.spacing)
                slot = next_slot(times, now, self.rate_limit, self.spacing)
                bisect.insort(times, slot)
                record.seek(0)
                record.write(json.dumps(times).encode("ascii"))
                record.truncate()
                record.flush()
            except OSError as exc:
                return self._turn_off(exc, now)
        return slot

    def _turn_off(self, problem, now: float) -> float:
        self.off_reason = str(problem)
        if self._warn is not None:
            self._warn("Pacing of API requests is off for this task: the shared request record %s cannot be used "
                       "(%s). Requests are sent without waiting their turn; rate-limited ones (HTTP 429) are "
                       "still waited out." % (self.path, self.off_reason))
        return now


def _read_times(raw: bytes, cutoff: float) -> list[float]:
    """The recorded send times after ``cutoff``, sorted; none when the record is not a list of times."""
    try:
        data = json.loads(raw.decode("ascii")) if raw.strip() else []
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) for t in data):
        return []
    return sorted(t for t in data if t > cutoff)
