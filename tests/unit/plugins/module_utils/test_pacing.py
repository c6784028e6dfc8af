# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The request budget shared by every module process of a machine (_pacing), and the client's use of it.

Nothing here sleeps: the pacers get a fake clock, or a sleep that returns at once, and the tests check the send
times they reserve.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import subprocess
import sys

import pytest
import requests
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.community.ngrok.plugins.module_utils import _pacing
from ansible_collections.community.ngrok.plugins.module_utils._pacing import Pacer, next_slot, record_name
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_restart
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    API_KEY,
    API_URL,
    OLD_ID,
    assert_no_api_key,
    make_session,
    ngrok_error,
    run_module_ok,
)


class FakeClock:
    """A wall clock that only ``sleep`` moves; ``sleep`` records what it was asked."""

    def __init__(self, now=1000.0):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def make_pacer(tmp_path, clock, rate_limit=2, window=10.0, api_url=API_URL, api_key=API_KEY, margin=0.0, **kwargs):
    """A pacer without a jitter margin (round numbers), unless one is given."""
    return Pacer(api_url, api_key, rate_limit, window, directory=str(tmp_path), sleep=clock.sleep, clock=clock,
                 margin=margin, **kwargs)


def recorded(pacer):
    with open(pacer.path, "rb") as handle:
        return json.loads(handle.read().decode("ascii"))


# -- the reservation rule -----------------------------------------------------------------------------

@pytest.mark.parametrize("times, now, expected", [
    ([], 5.0, 5.0),
    ([1.0], 5.0, 5.0),  # room for one more
    ([1.0, 2.0], 5.0, 11.0),  # full: when the older one leaves the window
    ([1.0, 2.0, 11.0], 5.0, 12.0),  # a reservation ahead counts too
    ([1.0, 2.0], 30.0, 30.0),
])
def test_next_slot(times, now, expected):
    assert next_slot(times, now, 2, 10.0) == expected


def test_sends_wait_their_turn_and_leave_the_window(tmp_path):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock)
    for dummy in range(5):
        pacer.wait_turn()
    # two sends per 10 s: 1000, 1000, then 1010, 1010, then 1020
    assert clock.sleeps == [10.0, 10.0]
    assert pacer.waits == [0.0, 0.0, 10.0, 0.0, 10.0]
    assert recorded(pacer) == [1010.0, 1010.0, 1020.0]  # the sends out of the window are dropped
    clock.now = 1045.0
    assert pacer.reserve() == 1045.0
    assert recorded(pacer) == [1045.0]


def test_sends_are_spaced_by_the_window_and_its_jitter_margin(tmp_path):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock, rate_limit=1, window=60.0, margin=_pacing.JITTER_MARGIN)
    pacer.wait_turn()
    pacer.wait_turn()
    assert _pacing.JITTER_MARGIN == 0.02 and clock.sleeps == [pytest.approx(61.2)]
    clock.now = 1000.0 + 61.2 + 61.1  # the last send is still within 61.2 s
    assert pacer.reserve() == pytest.approx(1000.0 + 2 * 61.2)


def test_two_pacers_of_one_key_share_the_budget(tmp_path):
    clock = FakeClock()
    first, second = make_pacer(tmp_path, clock), make_pacer(tmp_path, clock)
    assert [first.reserve(), second.reserve(), first.reserve(), second.reserve()] == [1000.0, 1000.0, 1010.0, 1010.0]


def test_the_lock_is_never_held_while_sleeping(tmp_path):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock, rate_limit=1)
    held = []

    def sleep(seconds):
        with open(pacer.path, "rb") as other:  # another open file: flock conflicts with the pacer's own
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(seconds)
        clock.sleep(seconds)

    pacer._sleep = sleep  # pylint: disable=protected-access
    pacer.wait_turn()
    pacer.wait_turn()
    assert clock.sleeps == [10.0] and not held


# -- several processes -------------------------------------------------------------------------------------

CHILD = r"""
import importlib.util, json, os, sys, time
spec = importlib.util.spec_from_file_location("pacing_under_test", sys.argv[1])
pacing = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pacing)
directory, count, limit, window, go = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
pacer = pacing.Pacer("https://api.ngrok.com", "a-test-key", limit, window, directory=directory, sleep=lambda s: None)
print("ready", flush=True)
while not os.path.exists(go):  # start together, so that the reservations of all processes interleave
    time.sleep(0.001)
print(json.dumps([pacer.reserve() for dummy in range(count)]), flush=True)
"""


def test_processes_never_put_more_than_rate_limit_sends_in_any_window(tmp_path):
    """Real processes, real flock, the real clock; their sleep returns at once, so they reserve as fast as they can."""
    processes, count, limit, window = 4, 200, 10, 1.0
    go = tmp_path / "go"
    argv = [sys.executable, "-c", CHILD, _pacing.__file__, str(tmp_path), str(count), str(limit), str(window), str(go)]
    with contextlib.ExitStack() as stack:
        children = [stack.enter_context(subprocess.Popen(argv, stdout=subprocess.PIPE, universal_newlines=True))
                    for dummy in range(processes)]
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        slots = sorted(slot for child in children for slot in json.loads(child.stdout.readline()))
    assert len(slots) == processes * count  # no reservation lost
    crowded = [i for i in range(len(slots) - limit) if slots[i] + window > slots[i + limit]]
    assert crowded == [], "more than %d sends within %g s at %s" % (limit, window, [slots[i] for i in crowded[:5]])


# -- off, secrets, damage ------------------------------------------------------------------------------------

def test_rate_limit_zero_turns_pacing_off(tmp_path):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock, rate_limit=0)
    for dummy in range(50):
        pacer.wait_turn()
    assert not clock.sleeps and not os.listdir(str(tmp_path))


def test_the_key_is_in_neither_the_record_nor_its_name(tmp_path):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock)
    pacer.wait_turn()
    names = os.listdir(str(tmp_path))
    assert names == [record_name(API_URL, API_KEY)]
    assert names[0].startswith(_pacing.RECORD_PREFIX) and len(names[0]) == len(_pacing.RECORD_PREFIX) + 64
    pieces = {API_KEY[i:i + 8] for i in range(len(API_KEY) - 7)}
    with open(pacer.path, "rb") as handle:
        content = handle.read().decode("ascii")
    assert not [piece for piece in pieces if piece in names[0] or piece in content]
    assert stat.S_IMODE(os.stat(pacer.path).st_mode) == 0o600


def test_a_record_open_to_others_is_made_private(tmp_path):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock)
    with open(pacer.path, "w", encoding="ascii") as handle:
        handle.write("[]")
    os.chmod(pacer.path, 0o644)
    pacer.reserve()
    assert stat.S_IMODE(os.stat(pacer.path).st_mode) == 0o600


@pytest.mark.parametrize("content", [
    b"", b"\x00\xff garbage", b"[999.5, 1000.0", b'{"sends": [999.5]}', b'[999.5, "x"]', b"[NaN, 999.5]",
    b"[true, true]", b"[" * 100000 + b"]" * 100000,
])
def test_a_corrupt_record_is_started_afresh(tmp_path, content):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock, rate_limit=1)
    with open(pacer.path, "wb") as handle:
        handle.write(content)
    warnings = []
    pacer._warn = warnings.append  # pylint: disable=protected-access
    pacer.wait_turn()
    assert not clock.sleeps and not warnings and recorded(pacer) == [1000.0]
    pacer.wait_turn()  # and it paces again from there
    assert clock.sleeps == [10.0]


def test_keys_and_urls_have_records_of_their_own(tmp_path):
    clock = FakeClock()
    pacers = [make_pacer(tmp_path, clock, rate_limit=1, api_url=url, api_key=key)
              for url, key in ((API_URL, API_KEY), (API_URL, "another_key_0123456789"), ("http://127.0.0.1:8080", API_KEY))]
    assert len({pacer.path for pacer in pacers}) == 3
    assert [pacer.reserve() for pacer in pacers] == [1000.0] * 3  # a full budget for one is no wait for another
    assert pacers[0].reserve() == 1010.0


@pytest.mark.parametrize("obstacle", ["directory", "symlink"])
def test_a_record_that_cannot_be_used_turns_pacing_off_with_one_warning(tmp_path, obstacle):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock, rate_limit=1)
    if obstacle == "directory":
        os.mkdir(pacer.path)
    else:
        target = tmp_path / "elsewhere"
        target.write_text("keep me")
        os.symlink(str(target), pacer.path)
    warnings = []
    pacer._warn = warnings.append  # pylint: disable=protected-access
    for dummy in range(3):
        pacer.wait_turn()
    assert not clock.sleeps
    assert len(warnings) == 1 and "Pacing of API requests is off" in warnings[0] and pacer.path in warnings[0]
    if obstacle == "symlink":
        assert (tmp_path / "elsewhere").read_text() == "keep me"


# -- the client: every attempt takes a slot -----------------------------------------------------------------------

def test_every_attempt_of_the_client_takes_a_slot(tmp_path, rsps, make_client):
    clock = FakeClock()
    pacer = make_pacer(tmp_path, clock, rate_limit=2, window=60.0)
    client = make_client(pacer=pacer, retries=3)
    url = API_URL + "/tunnel_sessions/" + OLD_ID
    rsps.get(url, body=requests.exceptions.ConnectionError("reset"))  # retried (a GET)
    rsps.get(url, status=503, json=ngrok_error(503, "unavailable"))  # retried
    rsps.get(url, status=429, json=ngrok_error(429, "slow down", "ERR_NGROK_226"))  # waited out, sent again
    rsps.get(url, json=make_session())
    assert client.get("/tunnel_sessions/" + OLD_ID).data["id"] == OLD_ID
    assert len(rsps.calls) == client.requests_sent == 4
    assert pacer.waits == [0.0, 0.0, 60.0, 0.0]
    assert recorded(pacer) == [1060.0, 1060.0]  # the first two have left the window


# -- the modules -----------------------------------------------------------------------------------------------

def test_module_runs_share_the_budget(rsps, pacing_recorder):
    rsps.post(API_URL + "/tunnel_sessions/%s/restart" % OLD_ID, status=204)
    for dummy in range(3):
        run_module_ok(ngrok_tunnel_session_restart.main, {"id": OLD_ID, "rate_limit": 2, "rate_limit_window": 30})
    assert pacing_recorder.sleeps == [pytest.approx(30.0 * (1 + _pacing.JITTER_MARGIN))]
    assert [(p.rate_limit, p.window) for p in pacing_recorder.pacers] == [(2, 30.0)] * 3


def test_module_warns_when_the_record_cannot_be_used(rsps, pacing_recorder, monkeypatch):
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    os.mkdir(os.path.join(pacing_recorder.directory, record_name(API_URL, API_KEY)))
    rsps.post(API_URL + "/tunnel_sessions/%s/restart" % OLD_ID, status=204)
    result = run_module_ok(ngrok_tunnel_session_restart.main, {"id": OLD_ID})
    assert result["changed"] and len(rsps.calls) == 1
    assert len(warnings) == 1 and "Pacing of API requests is off" in warnings[0]
    assert_no_api_key(warnings)
