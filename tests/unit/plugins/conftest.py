# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import signal
import threading

import pytest
import requests
import responses

from ansible_collections.community.ngrok.plugins.module_utils import _client
from ansible_collections.community.ngrok.plugins.module_utils import _fleet
from ansible_collections.community.ngrok.plugins.module_utils import _module
from ansible_collections.community.ngrok.plugins.module_utils import _pacing
from ansible_collections.community.ngrok.plugins.module_utils import _tunnel_session_actions
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import API_KEY

#: A safety net, not a speed check: a test that runs this long has hung (a missing timeout, a loop
#: that never ends), and fails instead of holding the whole run.
HANG_SECONDS = 60

#: What requests reads from the environment: proxies, CA bundles, and where ~/.netrc is.
REQUESTS_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
                      "http_proxy", "HTTP_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC")


@pytest.fixture(autouse=True)
def fail_on_hang():
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def hung(signum, frame):
        # pytest.fail raises a BaseException: not a TimeoutError, which the client would take for its own timeout
        pytest.fail("the test has run for %d seconds: it hangs" % HANG_SECONDS, pytrace=True)

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The connection options' environment fallbacks and requests' own variables start unset in every test."""
    monkeypatch.delenv("NGROK_API_KEY", raising=False)
    monkeypatch.delenv("NGROK_API_URL", raising=False)
    monkeypatch.delenv("NGROK_RATE_LIMIT", raising=False)
    monkeypatch.delenv("NGROK_RATE_LIMIT_WINDOW", raising=False)
    for name in REQUESTS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _no_network(*args, **kwargs):
    raise AssertionError("a unit test tried to send a request without the rsps fixture: %r" % (args,))


@pytest.fixture(autouse=True)
def no_network(request, monkeypatch):
    """Without ``rsps`` a test cannot send any request (but for modules that set REAL_SOCKETS: loopback servers)."""
    if not getattr(request.module, "REAL_SOCKETS", False):
        monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", _no_network)


@pytest.fixture
def rsps(no_network):  # pylint: disable=unused-argument,redefined-outer-name
    """Every request the client sends is answered by the ``responses`` library; nothing reaches the network.

    Several registrations for the same request are used in order, the last one repeating.
    """
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


class ClientRecorder:
    """Built into every NgrokClient the modules create: records waits, never sleeps."""

    def __init__(self):
        self.sleeps = []
        self.rand_calls = []
        self.clients = []

    def rand(self, low, high):
        self.rand_calls.append((low, high))
        return high

    def factory(self, *args, **kwargs):
        kwargs.setdefault("sleep", self.sleeps.append)
        kwargs.setdefault("rand", self.rand)
        client = _client.NgrokClient(*args, **kwargs)
        self.clients.append(client)
        return client


@pytest.fixture(autouse=True)
def client_recorder(monkeypatch):
    """No test ever sleeps in the client: NgrokModule builds clients with a recording sleep."""
    recorder = ClientRecorder()
    monkeypatch.setattr(_module, "NgrokClient", recorder.factory)
    return recorder


class PacingRecorder:
    """Built into every Pacer the modules create: the record in a temp dir of the test, a fake clock that
    only its sleep advances."""

    def __init__(self, directory, start=1000.0):
        self.directory = str(directory)
        self.now = start
        self.sleeps = []
        self.pacers = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def factory(self, *args, **kwargs):
        kwargs.setdefault("directory", self.directory)
        kwargs.setdefault("sleep", self.sleep)
        kwargs.setdefault("clock", self.clock)
        pacer = _pacing.Pacer(*args, **kwargs)
        self.pacers.append(pacer)
        return pacer


@pytest.fixture(autouse=True)
def pacing_recorder(monkeypatch, tmp_path_factory):
    """No module in a test paces against the real temp dir or sleeps: NgrokModule builds recorded Pacers."""
    recorder = PacingRecorder(tmp_path_factory.mktemp("pacing"))
    monkeypatch.setattr(_module, "Pacer", recorder.factory)
    return recorder


class FakeTime:
    """Stands in for the ``time`` module in _tunnel_session_actions and _fleet: sleep advances a fake clock."""

    def __init__(self, start=1000.0):
        self.now = start
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def time(self):
        return self.now


@pytest.fixture(autouse=True)
def fake_time(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(_tunnel_session_actions, "time", fake)
    monkeypatch.setattr(_fleet, "time", fake)
    return fake


@pytest.fixture
def make_client():
    """NgrokClient with recorded waits; ``rand`` returns the upper bound."""
    def factory(**kwargs):
        recorder = ClientRecorder()
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("sleep", recorder.sleeps.append)
        kwargs.setdefault("rand", recorder.rand)
        client = _client.NgrokClient(**kwargs)
        client.recorder = recorder
        return client
    return factory
