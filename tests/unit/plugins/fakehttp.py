# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The network below NgrokClient, faked: no test ever opens a socket.

``FakeHTTP`` replaces ``_client._connection`` (the one place where the client
opens a connection). Answers are registered per method and
URL, much like the ``responses`` library does for ``requests``::

    fake.get(URL, json={...})                       # 200 with a JSON body
    fake.post(URL, status=204)
    fake.add("GET", URL, status=503, headers={"Retry-After": "2"})
    fake.post(URL, body=read_timeout())             # the request went out, no answer came back
    fake.post(URL, body=refused())                  # the connection could not be opened

Several registrations for the same request are used in order (the last one
repeats; an answer that was used gives way to the next one that matches). A request that matches nothing fails the test (``NoFakeAnswer`` is
not an OSError, so the client cannot mistake it for a network fault).
``fake.calls`` records every request that was sent: ``.request`` (method, url,
headers, body) and ``.connection`` (scheme, host, port, timeout,
validate_certs, proxy).

Connection faults (``refused()``, ``dns_failure()``, ``connect_timeout()``,
``tls_failure()``, ``tunnel_refused()``) are raised by ``connect()``, before
any request is sent. A connection does not know its request yet, so a
connection fault is registered in sequence: ``connect()`` fails when the first
registration not yet used is a connection fault (which then repeats only if it
is the last registration). Everything else is raised by ``getresponse()``,
after the request was sent.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import ssl
from urllib.parse import parse_qsl, urlsplit

from ansible_collections.community.ngrok.plugins.module_utils import _client


class NoFakeAnswer(Exception):
    """The client sent a request that no test registered."""


class ConnectFault:
    """An error raised while connecting (nothing was sent)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


# -- faults, raised the way socket, ssl and the client's transport raise them ----------------------

def refused():
    return ConnectFault(ConnectionRefusedError(111, "Connection refused"))


def dns_failure():
    return ConnectFault(socket.gaierror(-2, "Name or service not known"))


def connect_timeout():
    return ConnectFault(socket.timeout("timed out"))


def tls_failure():
    return ConnectFault(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                                        "self-signed certificate (_ssl.c:1006)"))


def tunnel_refused():
    return ConnectFault(OSError("Tunnel connection failed: 407 Proxy Authentication Required"))


def read_timeout():
    return socket.timeout("timed out")


def dropped_after_send():
    return _client._ProtocolError("the server closed the connection without an answer")


def reset_after_send():
    return ConnectionResetError(104, "Connection reset by peer")


# -- matchers (the subset of responses.matchers the tests use) ------------------------------------

class matchers:  # pylint: disable=invalid-name
    @staticmethod
    def query_string_matcher(query: str):
        def match(request) -> bool:
            return sorted(parse_qsl(urlsplit(request.url).query)) == sorted(parse_qsl(query))
        return match

    @staticmethod
    def query_param_matcher(params: dict):
        def match(request) -> bool:
            return dict(parse_qsl(urlsplit(request.url).query)) == {k: str(v) for k, v in params.items()}
        return match


# -- the fake ------------------------------------------------------------------------------------

class Headers(dict):
    """Request headers; lookups ignore case (as HTTP does)."""

    def __getitem__(self, name):
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        raise KeyError(name)

    def __contains__(self, name):
        return any(key.lower() == str(name).lower() for key in self)

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default


class Request:
    def __init__(self, method: str, url: str, headers: dict, body) -> None:
        self.method = method
        self.url = url
        self.headers = Headers(headers)
        self.body = body.decode("utf-8") if isinstance(body, bytes) else body


class Call:
    def __init__(self, request: Request, connection: dict) -> None:
        self.request = request
        self.connection = connection


class _Answer:
    def __init__(self, method, url, status, body, headers, match) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        self.headers = headers
        self.match = tuple(match)
        self.used = 0

    def matches(self, request: Request) -> bool:
        if request.method != self.method:
            return False
        if hasattr(self.url, "match"):  # a compiled regular expression
            return bool(self.url.match(request.url)) and all(matcher(request) for matcher in self.match)
        want, got = urlsplit(self.url), urlsplit(request.url)
        if (want.scheme, want.netloc.lower(), want.path or "/") != (got.scheme, got.netloc.lower(), got.path or "/"):
            return False
        if "?" in self.url and sorted(parse_qsl(want.query)) != sorted(parse_qsl(got.query)):
            return False
        return all(matcher(request) for matcher in self.match)


_UNSET = object()


class FakeHTTP:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.connections: list[FakeConnection] = []
        self._entries: list = []  # _Answer and ConnectFault, in registration order

    def add(self, method, url, status=200, json=_UNSET, body=None, headers=None, content_type=None, match=()):
        # pylint: disable=redefined-outer-name
        if isinstance(body, ConnectFault):
            self._entries.append(body)
            return
        all_headers = dict(headers or {})
        if json is not _UNSET:
            body = _json_dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        self._entries.append(_Answer(method, url, status, body, all_headers, match))

    def get(self, url, **kwargs):
        self.add("GET", url, **kwargs)

    def post(self, url, **kwargs):
        self.add("POST", url, **kwargs)

    # what the client calls instead of _client._connection
    def connection(self, scheme, host, port, timeout, validate_certs, proxy):
        conn = FakeConnection(self, {"scheme": scheme, "host": host, "port": port, "timeout": timeout,
                                     "validate_certs": validate_certs, "proxy": proxy})
        self.connections.append(conn)
        return conn

    def answer(self, request: Request) -> _Answer:
        found = [entry for entry in self._entries if isinstance(entry, _Answer) and entry.matches(request)]
        if not found:
            raise NoFakeAnswer("no fake answer for %s %s" % (request.method, request.url))
        answer = found[0]
        if len(found) > 1:
            self._entries.remove(answer)
            if answer.used:
                answer = found[1]
        answer.used += 1
        return answer

    def next_connect_fault(self):
        for index, entry in enumerate(self._entries):
            if isinstance(entry, ConnectFault):
                if index + 1 < len(self._entries):
                    del self._entries[index]
                return entry.error
            if not entry.used:
                return None
        return None


def _json_dumps(value) -> str:
    return json.dumps(value)


class FakeSocket:
    """What connect() opened (request() checks that it did)."""


class FakeConnection:
    def __init__(self, fake: FakeHTTP, info: dict) -> None:
        self._fake = fake
        self.info = info
        self.sock: FakeSocket | None = None
        self.closed = False
        self._request: Request | None = None
        self.deadline = None  # (deadline, clock) that getresponse() was given

    def connect(self) -> None:
        fault = self._fake.next_connect_fault()
        if fault is not None:
            raise fault
        self.sock = FakeSocket()

    def request(self, method, target, body=None, headers=None) -> None:
        assert self.sock is not None, "request() before connect()"
        info = self.info
        default_port = 443 if info["scheme"] == "https" else 80
        netloc = info["host"] if info["port"] == default_port else "%s:%d" % (info["host"], info["port"])
        self._request = Request(method, "%s://%s%s" % (info["scheme"], netloc, target), dict(headers or {}), body)
        self._fake.calls.append(Call(self._request, info))

    def getresponse(self, deadline, clock):
        assert self._request is not None, "getresponse() before request()"
        self.deadline = (deadline, clock)
        answer = self._fake.answer(self._request)
        if isinstance(answer.body, BaseException):
            raise answer.body
        return FakeResponse(answer.status, answer.headers, answer.body)

    def close(self) -> None:
        self.closed = True


class FakeResponse:
    def __init__(self, status, headers, body) -> None:
        self.status = status
        self.reason = http.client.responses.get(status, "")
        values: dict = {}
        for name, value in headers.items():
            values.setdefault(name.lower(), value)
        self.headers = _client._Headers(values)
        if body is None:
            body = b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self._body = io.BytesIO(body) if isinstance(body, bytes) else body

    def read1(self, size=-1) -> bytes:
        read1 = getattr(self._body, "read1", None)
        return read1(size) if read1 is not None else self._body.read(size)


class StepClock:
    """A clock for ``NgrokClient(clock=...)``: it reads 0 first, then jumps ``step`` seconds at every reading."""

    def __init__(self, step):
        self.now = 0.0
        self.step = step
        self.readings = 0

    def __call__(self):
        self.readings += 1
        value = self.now
        self.now += self.step
        return value
