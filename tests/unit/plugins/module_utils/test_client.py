# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import io
import json
import os
import re
import socket
import ssl
import sys

from urllib.parse import parse_qs, urlsplit

import pytest

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_VERSION

from ansible_collections.community.ngrok.plugins.module_utils import _client, _client_extras
from ansible_collections.community.ngrok.plugins.module_utils._client import (
    MAX_BODY_BYTES,
    NgrokError,
    _ProtocolError,
)
from ansible_collections.community.ngrok.tests.unit.plugins.fakehttp import (
    connect_timeout,
    dns_failure,
    dropped_after_send,
    matchers,
    read_timeout,
    refused,
    reset_after_send,
    StepClock,
    tls_failure,
    tunnel_refused,
)
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import API_KEY, API_URL, ngrok_error

SESSION_URL = API_URL + "/tunnel_sessions/ts_abc"
RESTART_URL = SESSION_URL + "/restart"
LIST_URL = API_URL + "/tunnel_sessions"


class _BreakingRaw(io.RawIOBase):
    """A socket that delivers some bytes, then fails with ``error``."""

    def __init__(self, data, error):
        self._data = data
        self._error = error

    def readable(self):
        return True

    def readinto(self, buffer):
        if self._data:
            size = min(len(buffer), len(self._data))
            buffer[:size] = self._data[:size]
            self._data = self._data[size:]
            return size
        raise self._error


def breaking_body(data=b'{"id": "ts_', error=None):
    return io.BufferedReader(_BreakingRaw(data, error or ConnectionResetError(104, "Connection reset by peer")))


def query(call):
    return parse_qs(urlsplit(call.request.url).query)


# -- headers and the request itself ---------------------------------------------------------------

def test_get_sends_auth_version_accept_and_user_agent_but_no_body(rsps, make_client):
    rsps.get(SESSION_URL, json={"id": "ts_abc"})
    client = make_client()

    response = client.get("/tunnel_sessions/ts_abc")

    assert response.status_code == 200
    assert response.data == {"id": "ts_abc"}
    assert len(rsps.calls) == 1
    request = rsps.calls[0].request
    assert request.method == "GET"
    assert request.url == SESSION_URL
    assert request.headers["Authorization"] == "Bearer " + API_KEY
    assert request.headers["Ngrok-Version"] == "2"
    assert request.headers["Accept"] == "application/json"
    assert "Content-Type" not in request.headers
    assert request.body is None
    assert request.headers["User-Agent"] == "community.ngrok/0.1.0 (ansible-core/%s; python/%d.%d.%d)" % (
        (ANSIBLE_VERSION,) + tuple(sys.version_info[:3]))


def test_post_sends_empty_json_object_with_content_type(rsps, make_client):
    rsps.post(RESTART_URL, status=204)
    client = make_client()

    response = client.post("/tunnel_sessions/ts_abc/restart")

    assert response.status_code == 204
    assert response.data is None
    request = rsps.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer " + API_KEY
    assert request.headers["Ngrok-Version"] == "2"
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    assert body == "{}"


def test_post_with_explicit_body_is_compact_json(rsps, make_client):
    rsps.post(RESTART_URL, status=204)
    make_client().post("/tunnel_sessions/ts_abc/restart", body={"a": 1, "b": "x"})
    body = rsps.calls[0].request.body
    body = body.decode() if isinstance(body, bytes) else body
    assert body == '{"a":1,"b":"x"}'


def test_netrc_never_replaces_the_bearer_key(rsps, make_client, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.ngrok.com login someone password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    rsps.get(SESSION_URL, json={})
    make_client().get("/tunnel_sessions/ts_abc")
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + API_KEY


def test_the_key_is_only_in_the_authorization_header(make_client):
    client = make_client()
    assert client._headers["Authorization"] == "Bearer " + API_KEY
    assert API_KEY not in repr(client)


def test_user_agent_can_be_overridden(rsps, make_client):
    rsps.get(SESSION_URL, json={})
    make_client(user_agent="my-agent/1").get("/tunnel_sessions/ts_abc")
    assert rsps.calls[0].request.headers["User-Agent"] == "my-agent/1"


def test_timeout_and_verify_reach_the_connection(rsps, make_client):
    rsps.get(SESSION_URL, json={})
    make_client(timeout=12.5, validate_certs=False).get("/tunnel_sessions/ts_abc")
    connection = rsps.calls[0].connection
    assert connection == {"scheme": "https", "host": "api.ngrok.com", "port": 443, "timeout": 12.5,
                          "validate_certs": False, "proxy": None}
    assert rsps.connections[0].closed


def test_the_whole_answer_is_due_timeout_seconds_after_the_request(rsps, make_client):
    # The connection's reader cuts every socket read to this deadline (test_transport.py has the real thing).
    rsps.get(SESSION_URL, json={})
    make_client(timeout=12.5, clock=lambda: 100.0).get("/tunnel_sessions/ts_abc")
    assert rsps.connections[0].deadline[0] == 112.5


@pytest.mark.parametrize("api_url, path, expected", [
    ("https://api.ngrok.com", "/tunnel_sessions", "https://api.ngrok.com/tunnel_sessions"),
    ("https://api.ngrok.com/", "tunnel_sessions", "https://api.ngrok.com/tunnel_sessions"),
    ("http://127.0.0.1:8080/base/", "/tunnel_sessions", "http://127.0.0.1:8080/base/tunnel_sessions"),
    ("https://api.ngrok.com", "https://api.ngrok.com/x?y=1", "https://api.ngrok.com/x?y=1"),
])
def test_url_joining(rsps, make_client, api_url, path, expected):
    rsps.get(re.compile(".*"), json={})
    make_client(api_url=api_url).get(path)
    assert rsps.calls[0].request.url == expected


def test_get_params_are_encoded_into_the_query(rsps, make_client):
    rsps.get(re.compile(re.escape(LIST_URL)), json={})
    make_client().get("/tunnel_sessions", params={"limit": "100", "filter": 'obj.os == "linux"'})
    assert query(rsps.calls[0]) == {"limit": ["100"], "filter": ['obj.os == "linux"']}


def test_collection_version_matches_galaxy_yml():
    here = os.path.dirname(os.path.abspath(__file__))
    galaxy = os.path.join(here, "..", "..", "..", "..", "galaxy.yml")
    if not os.path.exists(galaxy):
        pytest.skip("galaxy.yml is not part of this test run's copy of the collection")
    with open(galaxy, encoding="utf-8") as handle:
        text = handle.read()
    version = re.search(r"^version:\s*['\"]?([^'\"\s]+)", text, re.M).group(1)
    assert _client.COLLECTION_VERSION == version
    assert _client.default_user_agent().startswith("community.ngrok/%s " % version)


# -- 2xx ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, status, body, expected", [
    ("POST", 204, b"", None),
    ("POST", 200, b'{"ok": true}', {"ok": True}),
    ("POST", 200, b"<html>accepted</html>", None),
    ("POST", 202, b"not json", None),
    ("GET", 200, b"", None),
    ("GET", 200, b"  \n ", None),
    ("GET", 200, b'{"tunnel_sessions": []}', {"tunnel_sessions": []}),
    ("GET", 200, b'[1, 2]', [1, 2]),
])
def test_success_bodies(rsps, make_client, method, status, body, expected):
    rsps.add(method, SESSION_URL, status=status, body=body)
    response = make_client().request(method, "/tunnel_sessions/ts_abc")
    assert response.status_code == status
    assert response.data == expected
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("body, shown", [
    (b"<html><body>Hello</body></html>", "'<html><body>Hello</body></html>'"),
    (b"\xff\xfe not utf-8", None),
    (b"x" * 500, "'" + "x" * 120 + "...'"),
    (b"[" * 100000, "'" + "[" * 120 + "...'"),  # deeper than Python's recursion limit
])
def test_get_with_non_json_2xx_is_an_error_and_not_retried(rsps, make_client, body, shown):
    rsps.get(SESSION_URL, status=200, body=body)
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    error = info.value
    assert error.status_code == 200  # an answer arrived: api_error says which
    assert error.outcome == "failed"
    assert "ngrok answered GET /tunnel_sessions/ts_abc with HTTP 200 but the body is not JSON" in error.message
    if shown:
        assert error.message.endswith(shown)
    assert len(rsps.calls) == 1
    assert client.recorder.sleeps == []


# -- error decoding ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, headers, expected", [
    pytest.param(400, json.dumps(ngrok_error(400, "Invalid CEL query.", "ERR_NGROK_250", "op_1")), {},
                 dict(error_code="ERR_NGROK_250", api_msg="Invalid CEL query.", operation_id="op_1",
                      describe="HTTP 400 ERR_NGROK_250: Invalid CEL query (operation ID op_1)"),
                 id="full-ngrok-body"),
    pytest.param(404, json.dumps({"details": {"operation_id": "op_32ELGiMyruN4J6Yn0fduKjIT6ug"},
                                  "msg": "Resource not found", "status_code": 404}), {},
                 dict(error_code=None, api_msg="Resource not found", operation_id="op_32ELGiMyruN4J6Yn0fduKjIT6ug",
                      describe="HTTP 404: Resource not found (operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)"),
                 id="plain-404-without-error-code"),
    pytest.param(404, "<html><body><h1>Not Found</h1></body></html>", {},
                 dict(error_code=None, operation_id=None,
                      api_msg="Not Found (the response is not an ngrok error: '<html><body><h1>Not Found</h1></body></html>')",
                      describe="HTTP 404: Not Found (the response is not an ngrok error: "
                               "'<html><body><h1>Not Found</h1></body></html>')"),
                 id="html-page"),
    pytest.param(403, "", {}, dict(error_code=None, operation_id=None, api_msg="Forbidden (empty response body)",
                                   describe="HTTP 403: Forbidden (empty response body)"),
                 id="empty-body"),
    pytest.param(400, json.dumps({"msg": "bad", "status_code": 400}), {"ngrok-operation-id": "op_hdr"},
                 dict(error_code=None, api_msg="bad", operation_id="op_hdr", describe="HTTP 400: bad (operation ID op_hdr)"),
                 id="operation-id-from-header"),
    pytest.param(400, json.dumps(ngrok_error(400, "bad", "ERR_NGROK_1", "op_body")), {"ngrok-operation-id": "op_hdr"},
                 dict(error_code="ERR_NGROK_1", api_msg="bad", operation_id="op_body",
                      describe="HTTP 400 ERR_NGROK_1: bad (operation ID op_body)"),
                 id="body-operation-id-wins-over-header"),
    pytest.param(400, json.dumps(["not", "a", "dict"]), {},
                 dict(error_code=None, operation_id=None,
                      api_msg="Bad Request (the response is not an ngrok error: '[\"not\", \"a\", \"dict\"]')"),
                 id="json-list"),
    pytest.param(400, json.dumps({"error_code": 218, "msg": 7, "details": "x"}), {},
                 dict(error_code="218", api_msg="7", operation_id=None, describe="HTTP 400 218: 7"),
                 id="odd-types-stringified"),
])
def test_error_decoding(rsps, make_client, status, body, headers, expected):
    rsps.get(SESSION_URL, status=status, body=body, headers=headers)
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    error = info.value
    assert error.status_code == status
    assert error.outcome == "failed"
    assert error.attempts == 1
    assert error.method == "GET"
    assert error.path == "/tunnel_sessions/ts_abc"
    for name in ("error_code", "api_msg", "operation_id"):
        assert getattr(error, name) == expected[name], name
    if "describe" in expected:
        assert error.describe() == expected["describe"]
        assert error.message == "GET /tunnel_sessions/ts_abc: " + expected["describe"]
        assert str(error) == error.message
    assert len(rsps.calls) == 1
    assert client.recorder.sleeps == []


def test_error_as_dict_http_and_transport():
    http_error = NgrokError("GET /x: HTTP 404", status_code=404, error_code=None, api_msg="Resource not found",
                            operation_id="op_1", attempts=2)
    assert http_error.as_dict() == {"status_code": 404, "error_code": None, "msg": "Resource not found",
                                    "operation_id": "op_1", "outcome": "failed", "attempts": 2}
    transport = NgrokError("Could not connect", outcome="unknown", attempts=1)
    assert transport.as_dict() == {"status_code": None, "error_code": None, "msg": "Could not connect",
                                   "operation_id": None, "outcome": "unknown", "attempts": 1}
    assert transport.describe() == "Could not connect"
    assert transport.unknown_outcome is True
    assert http_error.unknown_outcome is False


# -- retries ----------------------------------------------------------------------------------------

def _err(status, code=None, msg="err"):
    return dict(status=status, json=ngrok_error(status, msg, code))


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("first", [
    pytest.param(_err(429, "ERR_NGROK_226"), id="429"),
    pytest.param(_err(400, "ERR_NGROK_225"), id="ERR_NGROK_225"),
    pytest.param(_err(503, "ERR_NGROK_225"), id="ERR_NGROK_225-as-503"),
    pytest.param(_err(400, "ERR_NGROK_226"), id="ERR_NGROK_226-any-status"),
    pytest.param(dict(body=refused()), id="connection-refused"),
    pytest.param(dict(body=dns_failure()), id="dns-failure"),
    pytest.param(dict(body=connect_timeout()), id="connect-timeout"),
])
def test_not_acted_upon_is_retried_for_every_method(rsps, make_client, method, first):
    rsps.add(method, SESSION_URL, **first)
    rsps.add(method, SESSION_URL, status=200, json={"ok": 1})
    client = make_client()

    response = client.request(method, "/tunnel_sessions/ts_abc", body={} if method == "POST" else None)

    assert response.data == {"ok": 1}
    assert len(rsps.connections) == 2
    assert len(rsps.calls) == (1 if "body" in first else 2)  # a refused connection sends nothing
    assert client.requests_sent == 2
    assert client.recorder.sleeps == [1.0]
    assert client.recorder.rand_calls == [(0, 1.0)]


@pytest.mark.parametrize("first", [
    pytest.param(_err(500), id="500"),
    pytest.param(_err(502), id="502"),
    pytest.param(_err(504), id="504"),
    pytest.param(dict(status=524, body="<html>A timeout occurred</html>"), id="524-from-a-cdn"),
    pytest.param(dict(status=503, body="upstream connect error or disconnect/reset before headers"),
                 id="503-from-a-proxy"),
    pytest.param(_err(503), id="503-from-ngrok"),
    pytest.param(_err(507), id="507"),
    pytest.param(_err(400, "ERR_NGROK_810"), id="ERR_NGROK_810"),
    pytest.param(dict(body=read_timeout()), id="read-timeout"),
    pytest.param(dict(body=dropped_after_send()), id="dropped-after-send"),
    pytest.param(dict(body=reset_after_send()), id="reset-after-send"),
    pytest.param(dict(body=OSError("something else")), id="unclassified-os-error"),
    pytest.param(dict(body=_ProtocolError("not an HTTP/1.x status line: b'HTTP/9 x'")), id="bad-status-line"),
    pytest.param(dict(body=BrokenPipeError(32, "Broken pipe")), id="broken-pipe-while-sending"),
])
def test_get_is_retried_when_the_outcome_is_unknown(rsps, make_client, first):
    rsps.get(SESSION_URL, **first)
    rsps.get(SESSION_URL, status=200, json={"ok": 1})
    client = make_client()
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert len(rsps.calls) == 2
    assert client.recorder.sleeps == [1.0]


@pytest.mark.parametrize("first, status, code, message", [
    pytest.param(_err(500, msg="boom"), 500, None, "POST /tunnel_sessions/ts_abc/restart: HTTP 500: boom "
                 "(operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)", id="500"),
    pytest.param(_err(502), 502, None, None, id="502"),
    pytest.param(_err(504), 504, None, None, id="504"),
    pytest.param(_err(507), 507, None, None, id="507"),
    pytest.param(dict(status=524, body="<html>A timeout occurred</html>"), 524, None,
                 "POST /tunnel_sessions/ts_abc/restart: HTTP 524: the response is not an ngrok error: "
                 "'<html>A timeout occurred</html>'", id="524-from-a-cdn"),
    pytest.param(dict(status=503, body="upstream connect error or disconnect/reset before headers"), 503, None,
                 None, id="503-not-from-ngrok"),
    pytest.param(dict(status=503), 503, None, None, id="503-empty-body"),
    pytest.param(_err(503), 503, None, None, id="503-from-ngrok"),
    pytest.param(_err(503, "ERR_NGROK_810"), 503, "ERR_NGROK_810", None, id="ERR_NGROK_810-as-503"),
    pytest.param(_err(400, "ERR_NGROK_810"), 400, "ERR_NGROK_810", None, id="ERR_NGROK_810"),
    pytest.param(_err(429, "ERR_NGROK_810"), 429, "ERR_NGROK_810", None, id="ERR_NGROK_810-as-429"),
    pytest.param(dict(body=read_timeout()), None, None,
                 "No answer from ngrok for POST /tunnel_sessions/ts_abc/restart: no response within 30 seconds (timeout)",
                 id="read-timeout"),
    pytest.param(dict(body=dropped_after_send()), None, None, None, id="dropped-after-send"),
    pytest.param(dict(body=reset_after_send()), None, None, None, id="reset-after-send"),
])
def test_post_with_unknown_outcome_is_never_sent_again(rsps, make_client, first, status, code, message):
    rsps.post(RESTART_URL, **first)
    rsps.post(RESTART_URL, status=204)
    client = make_client(retries=5)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    error = info.value
    assert error.outcome == "unknown"
    assert error.unknown_outcome
    assert error.attempts == 1
    assert error.status_code == status
    assert error.error_code == code
    if message:
        assert error.message == message
    assert len(rsps.calls) == 1
    assert client.recorder.sleeps == []


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status, code", [(400, "ERR_NGROK_250"), (401, "ERR_NGROK_203"), (403, "ERR_NGROK_204"),
                                          (404, None), (409, None), (422, "ERR_NGROK_804")])
def test_client_errors_are_not_retried_and_failed(rsps, make_client, method, status, code):
    rsps.add(method, SESSION_URL, **_err(status, code))
    rsps.add(method, SESSION_URL, status=200, json={})
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.request(method, "/tunnel_sessions/ts_abc")
    assert info.value.status_code == status
    assert info.value.error_code == code
    assert info.value.outcome == "failed"
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("retry_after, expected_wait, rand_bounds", [
    pytest.param(None, 1.0, (0, 1.0), id="absent-backoff"),
    pytest.param("7", 8.0, (0, 1.0), id="seconds-plus-jitter"),
    pytest.param(" 2.5 ", 3.5, (0, 1.0), id="fractional"),
    pytest.param("0", 1.0, (0, 1.0), id="zero"),
    pytest.param("600", 61.0, (0, 1.0), id="capped-at-60"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 1.0, (0, 1.0), id="http-date-ignored"),
    pytest.param("-5", 1.0, (0, 1.0), id="negative-ignored"),
    pytest.param("nan", 1.0, (0, 1.0), id="nan-ignored"),
    pytest.param("soon", 1.0, (0, 1.0), id="garbage-ignored"),
])
def test_429_wait_honours_retry_after(rsps, make_client, retry_after, expected_wait, rand_bounds):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    rsps.get(SESSION_URL, headers=headers, **_err(429, "ERR_NGROK_226"))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client()
    client.get("/tunnel_sessions/ts_abc")
    assert client.recorder.sleeps == [expected_wait]
    assert client.retry_waits == [expected_wait]
    assert client.recorder.rand_calls == [rand_bounds]


def test_a_get_retried_after_a_5xx_honours_retry_after(rsps, make_client):
    rsps.get(SESSION_URL, headers={"Retry-After": "3"}, **_err(503))
    rsps.get(SESSION_URL, status=200, json={"ok": 1})
    client = make_client()
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert client.recorder.sleeps == [4.0]


def test_a_post_answered_503_with_retry_after_is_not_sent_again(rsps, make_client):
    rsps.post(RESTART_URL, headers={"Retry-After": "3"}, **_err(503))
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    assert (info.value.outcome, info.value.status_code, info.value.attempts) == ("unknown", 503, 1)
    assert len(rsps.calls) == 1 and client.recorder.sleeps == []


def test_backoff_doubles_and_is_capped(rsps, make_client):
    rsps.get(SESSION_URL, **_err(503))
    client = make_client(retries=8)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert client.recorder.rand_calls == [(0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 16.0), (0, 30.0), (0, 30.0),
                                          (0, 30.0)]
    assert client.recorder.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert info.value.attempts == 9
    assert len(rsps.calls) == 9


def test_jitter_uses_the_random_value(rsps, make_client):
    rsps.get(SESSION_URL, **_err(503))
    client = make_client(retries=2, rand=lambda low, high: high / 4)
    with pytest.raises(NgrokError):
        client.get("/tunnel_sessions/ts_abc")
    assert client.recorder.sleeps == [0.25, 0.5]


@pytest.mark.parametrize("retries", [0, 1, 3])
@pytest.mark.parametrize("method, fault, status, outcome", [
    ("POST", _err(400, "ERR_NGROK_225"), 400, "failed"),
    ("GET", _err(400, "ERR_NGROK_225"), 400, "failed"),
    ("GET", _err(502), 502, "failed"),
    ("GET", dict(body=read_timeout()), None, "failed"),
    ("POST", dict(body=refused()), None, "failed"),
])
def test_retries_exhausted(rsps, make_client, retries, method, fault, status, outcome):
    rsps.add(method, SESSION_URL, **fault)
    client = make_client(retries=retries)
    with pytest.raises(NgrokError) as info:
        client.request(method, "/tunnel_sessions/ts_abc", body={} if method == "POST" else None)
    assert info.value.attempts == retries + 1
    assert info.value.status_code == status
    assert info.value.outcome == outcome
    assert len(rsps.connections) == retries + 1
    assert len(rsps.calls) == (0 if fault.get("body") is not None and not isinstance(fault["body"], OSError)
                               else retries + 1)
    assert client.requests_sent == retries + 1
    assert len(client.recorder.sleeps) == retries


@pytest.mark.parametrize("exc, expected", [
    (dropped_after_send(), "the connection was dropped (the server closed the connection without an answer)"),
    (reset_after_send(), "the connection was dropped ([Errno 104] Connection reset by peer)"),
])
def test_dropped_connection_message_has_no_object_reprs(rsps, make_client, exc, expected):
    rsps.post(RESTART_URL, body=exc)
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert info.value.message == "No answer from ngrok for POST /tunnel_sessions/ts_abc/restart: " + expected


def test_dropped_connection_message_names_the_cause(rsps, make_client):
    rsps.post(RESTART_URL, body=dropped_after_send())
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert info.value.message.startswith("No answer from ngrok for POST /tunnel_sessions/ts_abc/restart: the "
                                         "connection was dropped (")
    assert "the server closed the connection without an answer" in info.value.message


def test_refused_message_after_retries(rsps, make_client):
    rsps.get(SESSION_URL, body=refused())
    client = make_client(retries=2)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message == "Could not connect to https://api.ngrok.com: [Errno 111] Connection refused"
    assert info.value.as_dict()["msg"] == info.value.message
    assert info.value.attempts == 3


# -- rate limiting: waited out within rate_limit_timeout, not counted against retries -------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_rate_limit_does_not_use_up_retries(rsps, make_client, method):
    for dummy in range(3):
        rsps.add(method, SESSION_URL, **_err(429, "ERR_NGROK_226"))
    rsps.add(method, SESSION_URL, status=200, json={"ok": 1})
    client = make_client(retries=0)
    assert client.request(method, "/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert len(rsps.calls) == 4
    # without Retry-After: jittered probes of at most 1, 2, then 4 seconds
    assert client.recorder.rand_calls == [(0, 1.0), (0, 2.0), (0, 4.0)]
    assert client.recorder.sleeps == [1.0, 2.0, 4.0]


def test_rate_limit_probe_cap_is_four_seconds(rsps, make_client):
    rsps.get(SESSION_URL, **_err(429, "ERR_NGROK_226"))
    client = make_client(rate_limit_timeout=1000)
    with pytest.raises(NgrokError):
        client.get("/tunnel_sessions/ts_abc")
    assert set(client.recorder.sleeps[2:]) == {4.0}
    assert client.recorder.sleeps[:3] == [1.0, 2.0, 4.0]


@pytest.mark.parametrize("rate_limit_timeout, retry_after, waits", [
    pytest.param(10, None, [1.0, 2.0, 4.0], id="probes-until-the-next-would-pass-10s"),
    pytest.param(7, None, [1.0, 2.0, 4.0], id="exactly-the-budget"),
    pytest.param(6.9, None, [1.0, 2.0], id="just-under"),
    pytest.param(0, None, [], id="zero-fails-at-first-429"),
    pytest.param(120, "100", [61.0], id="retry-after-capped-then-budget-spent"),
    pytest.param(120, "30", [31.0, 31.0, 31.0], id="retry-after-30"),
])
def test_rate_limit_timeout_budget(rsps, make_client, rate_limit_timeout, retry_after, waits):
    headers = {"Retry-After": retry_after} if retry_after else {}
    rsps.get(SESSION_URL, headers=headers, **_err(429, "ERR_NGROK_226", "Too many requests"))
    client = make_client(retries=5, rate_limit_timeout=rate_limit_timeout)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    error = info.value
    assert client.recorder.sleeps == waits
    assert error.status_code == 429
    assert error.error_code == "ERR_NGROK_226"
    assert error.outcome == "failed"
    assert error.attempts == len(waits) + 1
    assert error.rate_limit_waited == pytest.approx(sum(waits))
    assert len(rsps.calls) == len(waits) + 1


def test_rate_limited_code_with_another_status_is_rate_limiting(rsps, make_client):
    rsps.post(RESTART_URL, **_err(400, "ERR_NGROK_226"))
    rsps.post(RESTART_URL, status=204)
    client = make_client(retries=0)
    assert client.post("/tunnel_sessions/ts_abc/restart").status_code == 204
    assert len(rsps.calls) == 2


def test_rate_limit_hard_stop_on_attempts(rsps, make_client, monkeypatch):
    monkeypatch.setattr(_client, "MAX_RATE_LIMITED_ATTEMPTS", 5)
    rsps.get(SESSION_URL, **_err(429))
    client = make_client(rand=lambda low, high: 0.0)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert len(rsps.calls) == 5
    assert info.value.attempts == 5


def test_rate_limit_and_retries_are_counted_apart(rsps, make_client):
    rsps.get(SESSION_URL, **_err(503))
    rsps.get(SESSION_URL, **_err(429))
    rsps.get(SESSION_URL, **_err(429))
    rsps.get(SESSION_URL, **_err(503))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client(retries=1)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.status_code == 503
    assert info.value.attempts == 4
    assert len(rsps.calls) == 4
    # 503 backoff (retry 1: up to 1 s), then two rate-limit probes (1 s, 2 s)
    assert client.recorder.sleeps == [1.0, 1.0, 2.0]


def test_tls_handshake_error_is_not_retried(rsps, make_client):
    rsps.get(SESSION_URL, body=tls_failure())
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message.startswith("TLS error talking to https://api.ngrok.com: [SSL: CERTIFICATE_VERIFY_FAILED] "
                                         "certificate verify failed: self-signed certificate")
    assert "SSL_CERT_FILE" in info.value.message
    assert "validate_certs=false" in info.value.message
    assert info.value.outcome == "failed"
    assert len(rsps.connections) == 1
    assert rsps.calls == []


def test_tls_error_after_the_request_went_out_is_an_unknown_outcome(rsps, make_client):
    rsps.post(RESTART_URL, body=ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad record mac"))
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert info.value.outcome == "unknown"
    assert "the connection was dropped ([SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] bad record mac)" in info.value.message
    assert len(rsps.calls) == 1


def test_429_retried_then_404_is_reported_with_attempts(rsps, make_client):
    rsps.get(SESSION_URL, **_err(429, "ERR_NGROK_226"))
    rsps.get(SESSION_URL, **_err(404))
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.status_code == 404
    assert info.value.attempts == 2


# -- the body: size cap, deadline, broken bodies ------------------------------------------------------

def _json_of_size(size):
    head, tail = b'{"tunnel_sessions": [], "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_body_of_exactly_the_cap_is_read(rsps, make_client):
    body = _json_of_size(MAX_BODY_BYTES)
    assert len(body) == MAX_BODY_BYTES
    rsps.get(SESSION_URL, body=body)
    assert make_client().get("/tunnel_sessions/ts_abc").data["tunnel_sessions"] == []


def test_body_over_the_cap_is_refused(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(MAX_BODY_BYTES + 1))
    client = make_client(retries=0)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message == ("No answer from ngrok for GET /tunnel_sessions/ts_abc: the response body is larger "
                                  "than 4194304 bytes")
    assert info.value.outcome == "failed"


def test_post_2xx_with_a_body_nested_too_deep_for_python_still_succeeded(rsps, make_client):
    rsps.post(RESTART_URL, status=200, body=b"[" * 100000)
    response = make_client().post("/tunnel_sessions/ts_abc/restart")
    assert (response.status_code, response.data, len(rsps.calls)) == (200, None, 1)


def test_an_error_body_nested_too_deep_for_python_is_quoted_not_raised(rsps, make_client):
    rsps.post(RESTART_URL, status=500, body=b"[" * 100000)
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert (info.value.status_code, info.value.outcome) == (500, "unknown")
    assert "the response is not an ngrok error: '[[[" in info.value.message


def test_post_2xx_with_oversized_body_still_succeeded(rsps, make_client):
    rsps.post(RESTART_URL, status=200, body=b"x" * (MAX_BODY_BYTES + 10))
    response = make_client().post("/tunnel_sessions/ts_abc/restart")
    assert response.status_code == 200
    assert response.data is None
    assert len(rsps.calls) == 1


def test_slow_body_deadline_on_get(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(3 * 65536))
    clock = StepClock(11.0)
    client = make_client(timeout=30, retries=0, clock=clock)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message == ("No answer from ngrok for GET /tunnel_sessions/ts_abc: the response body did not "
                                  "arrive within 30 seconds")
    # deadline = 0 + 30 (set when the request is sent); chunks read at 11, 22, 33 -> the third one is late
    assert clock.readings == 4


def test_body_within_deadline_is_fine(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(3 * 65536))
    client = make_client(timeout=30, retries=0, clock=StepClock(7.0))
    assert client.get("/tunnel_sessions/ts_abc").data["tunnel_sessions"] == []


def test_slow_body_on_get_is_retried(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(2 * 65536))
    rsps.get(SESSION_URL, json={"ok": 1})
    readings = iter([0.0, 100.0, 200.0, 200.0, 200.0])
    client = make_client(timeout=30, clock=lambda: next(readings))
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert len(rsps.calls) == 2


def test_slow_body_on_post_2xx_is_success(rsps, make_client):
    rsps.post(RESTART_URL, status=200, body=_json_of_size(2 * 65536))
    client = make_client(timeout=30, clock=StepClock(100.0))
    response = client.post("/tunnel_sessions/ts_abc/restart")
    assert response.status_code == 200
    assert response.data is None
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), socket.timeout("timed out")])
def test_body_breaking_off_on_get_is_retried(rsps, make_client, error):
    rsps.get(SESSION_URL, body=breaking_body(error=error))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client()
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert len(rsps.calls) == 2


def test_body_breaking_off_on_get_message(rsps, make_client):
    rsps.get(SESSION_URL, body=breaking_body())
    client = make_client(retries=0)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message.startswith("No answer from ngrok for GET /tunnel_sessions/ts_abc: the response body "
                                         "broke off (")
    assert info.value.outcome == "failed"


def test_body_breaking_off_after_post_2xx_is_success(rsps, make_client):
    rsps.post(RESTART_URL, status=200, body=breaking_body())
    response = make_client().post("/tunnel_sessions/ts_abc/restart")
    assert response.status_code == 200
    assert response.data is None
    assert len(rsps.calls) == 1


def test_body_breaking_off_after_post_error_status_is_a_plain_failure(rsps, make_client):
    # The status line (404) arrived, then the body broke off: a 4xx means ngrok did not act, so the
    # outcome is a plain failure (not unknown), with the status kept; nothing is sent again.
    rsps.post(RESTART_URL, status=404, body=breaking_body())
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    assert info.value.outcome == "failed"
    assert info.value.status_code == 404
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", [501, 505])
def test_501_and_505_say_the_request_was_not_acted_upon(rsps, make_client, method, status):
    # Not implemented / HTTP version not supported: nothing happened, and a retry would get the same answer.
    rsps.add(method, SESSION_URL, status=status, body="<html>Not Implemented</html>")
    client = make_client(retries=3)
    with pytest.raises(NgrokError) as info:
        client.request(method, "/tunnel_sessions/ts_abc", body={} if method == "POST" else None)
    assert (info.value.outcome, info.value.status_code) == ("failed", status)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
@pytest.mark.parametrize("code", ["ERR_NGROK_807", "ERR_NGROK_808", "ERR_NGROK_809", "ERR_NGROK_804", "ERR_NGROK_1122"])
def test_post_5xx_with_a_definite_agent_failure_code_is_a_plain_failure(rsps, make_client, status, code):
    # The agent could not, or tried and failed: ngrok says what happened, so the outcome is not unknown.
    rsps.post(RESTART_URL, status=status, json={"status_code": status, "msg": "agent failed", "error_code": code})
    client = make_client(retries=3)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    assert info.value.outcome == "failed"
    assert info.value.error_code == code
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("code", [None, "ERR_NGROK_810", "ERR_NGROK_999"])
def test_post_502_without_a_definite_code_stays_unknown(rsps, make_client, code):
    body = {"status_code": 502, "msg": "bad gateway"}
    if code:
        body["error_code"] = code
    rsps.post(RESTART_URL, status=502, json=body)
    with pytest.raises(NgrokError) as info:
        make_client(retries=3).post("/tunnel_sessions/ts_abc/restart")
    assert info.value.outcome == "unknown"
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("status", [400, 404, 501, 505])
def test_a_definite_failure_whose_body_broke_off_stays_definite(rsps, make_client, status):
    # The status line says the request was not acted upon; only the explanation is lost.
    rsps.post(RESTART_URL, status=status, body=breaking_body())
    with pytest.raises(NgrokError) as info:
        make_client(retries=3).post("/tunnel_sessions/ts_abc/restart")
    assert (info.value.outcome, info.value.status_code) == ("failed", status)
    assert "the response body broke off" in info.value.api_msg
    assert len(rsps.calls) == 1


def test_body_breaking_off_after_post_502_stays_unknown(rsps, make_client):
    rsps.post(RESTART_URL, status=502, body=breaking_body())
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    assert info.value.outcome == "unknown"
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("path", ["/tunnel_sessions/ts\x00", "/tunnel_sessions/t\u00e4", "/tunnel sessions"])
def test_a_url_that_cannot_go_on_the_wire_fails_before_connecting(rsps, make_client, path):
    client = make_client(retries=3)
    with pytest.raises(NgrokError) as info:
        client.get(path)
    assert info.value.message == ("Invalid request URL for https://api.ngrok.com: the URL contains whitespace, "
                                  "control or non-ASCII characters")
    assert rsps.connections == []
    assert client.requests_sent == 0


@pytest.mark.parametrize("api_key", [API_KEY + "\r\nX-Injected: 1", API_KEY + "\u2019", API_KEY + "\x7f"])
def test_a_header_that_cannot_go_on_the_wire_fails_without_showing_it(rsps, make_client, api_key):
    client = make_client(api_key=api_key, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    assert info.value.message == ("Cannot send the request to https://api.ngrok.com: the Authorization header "
                                  "contains a line break, a control or a non-ASCII character (not shown)")
    assert API_KEY not in repr(info.value) and info.value.__cause__ is None
    assert rsps.connections == []


def test_invalid_port_is_not_retried(rsps, make_client):
    client = make_client(api_url="https://api.ngrok.com:99999", retries=3)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions")
    assert info.value.message.startswith("Invalid request URL for https://api.ngrok.com:99999: ")
    assert rsps.connections == []


def test_rate_limit_timeout_zero_fails_at_the_first_429_even_with_a_zero_wait(rsps, make_client):
    rsps.get(LIST_URL, status=429, json={"status_code": 429, "msg": "slow down", "error_code": "ERR_NGROK_226"})
    client = make_client(rate_limit_timeout=0, rand=lambda low, high: 0.0)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions")
    assert info.value.status_code == 429
    assert len(rsps.calls) == 1


# -- paging ---------------------------------------------------------------------------------------------

def _page(ids, next_uri):
    return {"tunnel_sessions": [{"id": i} for i in ids], "uri": LIST_URL, "next_page_uri": next_uri}


PAGE2 = LIST_URL + "?before_id=ts_3&limit=2"
PAGE3 = LIST_URL + "?before_id=ts_5&limit=2"


def _three_pages(rsps, base=API_URL):
    list_url = base + "/tunnel_sessions"
    page2 = list_url + "?before_id=ts_3&limit=2"
    page3 = list_url + "?before_id=ts_5&limit=2"
    rsps.get(page3, json=_page(["ts_5", "ts_6"], None), match=[matchers.query_string_matcher(
        "before_id=ts_5&limit=2")])
    rsps.get(page2, json=_page(["ts_3", "ts_4"], page3), match=[matchers.query_string_matcher(
        "before_id=ts_3&limit=2")])
    rsps.get(list_url, json=_page(["ts_1", "ts_2"], page2), match=[matchers.query_param_matcher(
        {"limit": "2", "filter": 'obj.os == "linux"'})])


@pytest.mark.parametrize("base", ["https://api.ngrok.com", "http://127.0.0.1:8080"])
def test_paginate_follows_three_pages(rsps, make_client, base):
    _three_pages(rsps, base)
    client = make_client(api_url=base)
    items = list(client.paginate("/tunnel_sessions", "tunnel_sessions",
                                 params={"limit": "2", "filter": 'obj.os == "linux"'}))
    assert [i["id"] for i in items] == ["ts_1", "ts_2", "ts_3", "ts_4", "ts_5", "ts_6"]
    assert len(rsps.calls) == 3
    assert query(rsps.calls[0]) == {"limit": ["2"], "filter": ['obj.os == "linux"']}
    assert query(rsps.calls[1]) == {"before_id": ["ts_3"], "limit": ["2"]}
    assert query(rsps.calls[2]) == {"before_id": ["ts_5"], "limit": ["2"]}
    for call in rsps.calls:
        assert call.request.headers["Authorization"] == "Bearer " + API_KEY


@pytest.mark.parametrize("max_items, expected_ids, expected_calls", [
    (1, ["ts_1"], 1), (2, ["ts_1", "ts_2"], 1), (3, ["ts_1", "ts_2", "ts_3"], 2), (6, None, 3), (100, None, 3),
])
def test_paginate_max_items_stops_early(rsps, make_client, max_items, expected_ids, expected_calls):
    _three_pages(rsps)
    client = make_client()
    items = list(client.paginate("/tunnel_sessions", "tunnel_sessions",
                                 params={"limit": "2", "filter": 'obj.os == "linux"'}, max_items=max_items))
    assert [i["id"] for i in items] == (expected_ids or ["ts_1", "ts_2", "ts_3", "ts_4", "ts_5", "ts_6"])
    assert len(rsps.calls) == expected_calls


@pytest.mark.parametrize("next_uri", [
    "https://evil.example/tunnel_sessions?before_id=ts_2",
    "http://api.ngrok.com/tunnel_sessions?before_id=ts_2",
    "https://api.ngrok.com:8443/tunnel_sessions?before_id=ts_2",
    "https://api.ngrok.com.evil.example/tunnel_sessions?before_id=ts_2",
    "https://api.ngrok.com@evil.example/tunnel_sessions?before_id=ts_2",
    "//evil.example/tunnel_sessions",
])
def test_paginate_refuses_another_origin(rsps, make_client, next_uri):
    rsps.get(LIST_URL, json=_page(["ts_1"], next_uri))
    rsps.get(re.compile(".*evil.*"), json=_page(["ts_evil"], None))
    client = make_client()
    seen = []
    with pytest.raises(NgrokError) as info:
        for item in client.paginate("/tunnel_sessions", "tunnel_sessions"):
            seen.append(item["id"])
    assert seen == ["ts_1"]
    assert "Refusing to follow next_page_uri" in info.value.message
    assert "the API key is only ever sent to api_url" in info.value.message
    assert len(rsps.calls) == 1


def test_paginate_refusal_names_the_foreign_host(rsps, make_client):
    rsps.get(LIST_URL, json=_page(["ts_1"], "https://api.ngrok.com.evil.example/tunnel_sessions"))
    with pytest.raises(NgrokError) as info:
        list(make_client().paginate("/tunnel_sessions", "tunnel_sessions"))
    assert "https://api.ngrok.com.evil.example/tunnel_sessions" in info.value.message


def test_paginate_same_origin_host_is_case_insensitive(rsps, make_client):
    rsps.get(LIST_URL, json=_page(["ts_1"], "https://API.NGROK.COM/tunnel_sessions?before_id=ts_1"))
    rsps.get(LIST_URL + "?before_id=ts_1", json=_page(["ts_2"], None),
             match=[matchers.query_string_matcher("before_id=ts_1")])
    items = list(make_client().paginate("/tunnel_sessions", "tunnel_sessions"))
    assert [i["id"] for i in items] == ["ts_1", "ts_2"]


def test_paginate_follows_uppercase_scheme(rsps, make_client):
    rsps.get(LIST_URL, json=_page(["ts_1"], "HTTPS://API.NGROK.COM/tunnel_sessions?before_id=ts_1"))
    rsps.get(LIST_URL + "?before_id=ts_1", json=_page(["ts_2"], None),
             match=[matchers.query_string_matcher("before_id=ts_1")])
    items = list(make_client(retries=0).paginate("/tunnel_sessions", "tunnel_sessions"))
    assert [i["id"] for i in items] == ["ts_1", "ts_2"]


def test_paginate_default_port_is_the_same_origin(rsps, make_client):
    rsps.get(LIST_URL, json=_page(["ts_1"], "https://api.ngrok.com:443/tunnel_sessions?before_id=ts_1"))
    rsps.get(re.compile(r"https://api\.ngrok\.com(:443)?/tunnel_sessions\?before_id=ts_1"), json=_page(["ts_2"], None))
    items = list(make_client().paginate("/tunnel_sessions", "tunnel_sessions"))
    assert [i["id"] for i in items] == ["ts_1", "ts_2"]


def test_paginate_loop_guard(rsps, make_client):
    rsps.get(PAGE2, json=_page(["ts_3"], PAGE2), match=[matchers.query_string_matcher("before_id=ts_3&limit=2")])
    rsps.get(LIST_URL, json=_page(["ts_1"], PAGE2), match=[matchers.query_string_matcher("")])
    client = make_client()
    seen = []
    with pytest.raises(NgrokError) as info:
        for item in client.paginate("/tunnel_sessions", "tunnel_sessions"):
            seen.append(item["id"])
    assert seen == ["ts_1", "ts_3"]
    assert info.value.message == ("ngrok returned the same next_page_uri twice (/tunnel_sessions?before_id=ts_3&limit=2); "
                                  "stopping to avoid a loop")
    assert len(rsps.calls) == 2


def test_paginate_loop_back_to_the_first_page(rsps, make_client):
    first = LIST_URL + "?limit=100"
    rsps.get(first, json=_page(["ts_1"], first))
    with pytest.raises(NgrokError) as info:
        list(make_client().paginate("/tunnel_sessions", "tunnel_sessions", params={"limit": "100"}))
    assert "same next_page_uri twice" in info.value.message
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("page", [{"other": []}, {"tunnel_sessions": None}, {"tunnel_sessions": {}}, [1], None])
def test_paginate_unexpected_page(rsps, make_client, page):
    rsps.get(LIST_URL, body=json.dumps(page) if page is not None else b"", headers={"ngrok-operation-id": "op_7"})
    with pytest.raises(NgrokError) as info:
        list(make_client().paginate("/tunnel_sessions", "tunnel_sessions"))
    assert info.value.message == ("ngrok answered GET /tunnel_sessions with HTTP 200 but there is no 'tunnel_sessions' "
                                  "list in it")
    assert info.value.as_dict() == {"status_code": 200, "error_code": None, "msg": "there is no 'tunnel_sessions' list in it",
                                    "operation_id": "op_7", "outcome": "failed", "attempts": 1}


def test_paginate_errors_propagate(rsps, make_client):
    rsps.get(LIST_URL, **_err(400, "ERR_NGROK_250", "Invalid CEL query"))
    with pytest.raises(NgrokError) as info:
        list(make_client().paginate("/tunnel_sessions", "tunnel_sessions", params={"filter": "obj.x =="}))
    assert info.value.error_code == "ERR_NGROK_250"
    assert info.value.path == "/tunnel_sessions?filter=obj.x+%3D%3D"


# -- helpers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("exc, expected", [
    (ConnectionRefusedError(111, "Connection refused"), "[Errno 111] Connection refused"),
    (socket.gaierror(-2, "Name or service not known"), "[Errno -2] Name or service not known"),
    (socket.timeout("_ssl.c:975: The handshake operation timed out"), "timed out"),
    (ConnectionResetError("Remote end closed\nconnection"), "Remote end closed connection"),
    (OSError(), "OSError"),
])
def test_reason(exc, expected):
    assert _client._reason(exc) == expected


@pytest.mark.parametrize("value, expected", [
    (None, None), ("5", 5.0), ("0", 0.0), (" 1.5 ", 1.5), (3, 3.0), ("-1", None), ("nan", None), ("", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("inf", float("inf")),
])
def test_parse_retry_after(value, expected):
    assert _client_extras.parse_retry_after(value) == expected


def test_infinite_retry_after_is_capped(rsps, make_client):
    rsps.get(SESSION_URL, headers={"Retry-After": "inf"}, **_err(429))
    rsps.get(SESSION_URL, json={})
    client = make_client()
    client.get("/tunnel_sessions/ts_abc")
    assert client.recorder.sleeps == [61.0]


@pytest.mark.parametrize("raw, expected", [
    (b"", "''"),
    (b"a\n\n  b\tc", "'a b c'"),
    (b"y" * 121, "'" + "y" * 120 + "...'"),
    (b"\xff", "'\ufffd'"),
])
def test_snippet(raw, expected):
    assert _client_extras.snippet(raw) == expected


@pytest.mark.parametrize("text, secret, expected", [
    ("no key here", "2xQkEYsecret", "no key here"),
    ("Bearer 2xQkEYsecret, again 2xQkEYsecret", "2xQkEYsecret", "Bearer ********, again ********"),
    ("cut: 2xQkEYse", "2xQkEYsecret", "cut: ********"),
    ("tail: EYsecret'", "2xQkEYsecret", "tail: ********'"),
    ("too short to tell: 2xQkEYs", "2xQkEYsecret", "too short to tell: 2xQkEYs"),
    ("abc", "abc", "********"),
    ("anything", "", "anything"),
    ("anything", None, "anything"),
])
def test_scrub(text, secret, expected):
    assert _client_extras.scrub(text, secret) == expected


def _pieces_of(key, text, shortest=8):
    return [key[i:i + shortest] for i in range(len(key) - shortest + 1) if key[i:i + shortest] in text]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("answer", [
    # a JSON echo of the request headers: not an ngrok error, so its start is quoted, cut after 120 characters
    pytest.param(lambda key: dict(status=401, json={"headers": {"Accept": "application/json", "Accept-Encoding":
                                                                "identity", "Authorization": "Bearer " + key}}),
                 id="json-echo-cut-in-the-key"),
    pytest.param(lambda key: dict(status=400, body="Authorization: Bearer %s\r\n" % key), id="text-echo"),
    pytest.param(lambda key: dict(status=400, json={"status_code": 400, "msg": "bad key %s" % key[:20]}),
                 id="ngrok-style-msg-with-part-of-the-key"),
    pytest.param(lambda key: dict(status=502, body="<html>upstream said: Bearer %s" % key), id="5xx-page"),
    pytest.param(lambda key: dict(body=_ProtocolError("not an HTTP/1.x status line: %r" % ("Bearer " + key)[:40])),
                 id="garbled-status-line"),
])
def test_no_piece_of_the_api_key_is_quoted_from_an_answer(rsps, make_client, method, answer):
    key = "ngrokapikey_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
    rsps.add(method, SESSION_URL, **answer(key))
    with pytest.raises(NgrokError) as info:
        make_client(api_key=key, retries=0).request(method, "/tunnel_sessions/ts_abc",
                                                    body={} if method == "POST" else None)
    error = info.value
    shown = " ".join(str(value) for value in (error.message, error.describe(), error.as_dict()))
    assert "********" in shown
    assert _pieces_of(key, shown) == []


def test_a_quote_is_scrubbed_before_it_is_cut(rsps, make_client):
    # The quote is cut at 120 characters, 4 characters into the key. Cut first, those 4 would be too short to
    # be recognised as a piece of the key, and would show.
    key = "ngrokapikey_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
    rsps.get(SESSION_URL, status=400, body="A" * 108 + " Bearer " + key)
    with pytest.raises(NgrokError) as info:
        make_client(api_key=key, retries=0).get("/tunnel_sessions/ts_abc")
    assert info.value.api_msg.endswith(" Bearer ****...')")
    assert "Bearer n" not in info.value.message


def test_an_answer_that_is_not_json_after_a_2xx_get_is_scrubbed_too(rsps, make_client):
    key = "ngrokapikey_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
    rsps.get(SESSION_URL, status=200, body="echo: Authorization: Bearer " + key)
    with pytest.raises(NgrokError) as info:
        make_client(api_key=key).get("/tunnel_sessions/ts_abc")
    assert "********" in info.value.message
    assert _pieces_of(key, info.value.message) == []


def test_4xx_whose_body_broke_off_says_so(rsps, make_client):
    rsps.post(RESTART_URL, status=400, body=breaking_body())
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert "the response body broke off" in info.value.api_msg
    assert "empty response body" not in info.value.api_msg


# -- proxies (https_proxy / all_proxy / no_proxy) -------------------------------------------------------

@pytest.mark.parametrize("environ, expected", [
    pytest.param({}, None, id="none"),
    pytest.param({"https_proxy": "http://proxy.example:3128"}, ("proxy.example", 3128, {}), id="https_proxy"),
    pytest.param({"HTTPS_PROXY": "http://proxy.example:3128"}, ("proxy.example", 3128, {}), id="HTTPS_PROXY"),
    pytest.param({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}, ("lower", 1, {}),
                 id="lower-case-first"),
    pytest.param({"all_proxy": "http://all.example:8080"}, ("all.example", 8080, {}), id="all_proxy"),
    pytest.param({"https_proxy": "http://p:1", "all_proxy": "http://a:2"}, ("p", 1, {}), id="https-before-all"),
    pytest.param({"https_proxy": "proxy.example:3128"}, ("proxy.example", 3128, {}), id="no-scheme-means-http"),
    pytest.param({"https_proxy": "http://proxy.example"}, ("proxy.example", 80, {}), id="default-port-80"),
    pytest.param({"https_proxy": "http://us%40er:p%3Ass@proxy.example:3128"},
                 ("proxy.example", 3128, {"Proxy-Authorization": "Basic dXNAZXI6cDpzcw=="}), id="credentials"),
    pytest.param({"https_proxy": "  "}, None, id="blank"),
    pytest.param({"http_proxy": "http://p:1"}, None, id="http_proxy-is-not-for-https"),
    pytest.param({"https_proxy": "http://p:1", "no_proxy": "*"}, None, id="no_proxy-star"),
    pytest.param({"https_proxy": "http://p:1", "NO_PROXY": "ngrok.com"}, None, id="NO_PROXY-domain"),
    pytest.param({"https_proxy": "http://p:1", "no_proxy": "example.com, .ngrok.com"}, None, id="dot-domain-in-list"),
    pytest.param({"https_proxy": "http://p:1", "no_proxy": "api.ngrok.com:443"}, None, id="host-and-port"),
    pytest.param({"https_proxy": "http://p:1", "no_proxy": "api.ngrok.com:8443"}, ("p", 1, {}), id="other-port"),
    pytest.param({"https_proxy": "http://p:1", "no_proxy": "grok.com,ngrok.co"}, ("p", 1, {}), id="no-suffix-match"),
])
def test_proxy_from_the_environment(environ, expected):
    proxy = _client_extras.proxy_for("https", "api.ngrok.com", 443, environ)
    if expected is None:
        assert proxy is None
    else:
        assert (proxy.host, proxy.port, proxy.headers) == expected
        assert "p%3Ass" not in repr(proxy) and "p:ss" not in repr(proxy)


def test_plain_http_is_never_proxied():
    environ = {"https_proxy": "http://p:1", "http_proxy": "http://p:1", "all_proxy": "http://p:1"}
    assert _client_extras.proxy_for("http", "127.0.0.1", 8080, environ) is None


@pytest.mark.parametrize("url", ["socks5://proxy:1080", "https://proxy:443", "http://proxy:notaport", "http://:3128",
                                 "socks5://user:s3cret@proxy:1080", "http://user:s3cret@proxy:notaport",
                                 "https://user:s3cret@proxy:443"])
def test_unsupported_proxy_fails_clearly_before_anything_is_sent(rsps, make_client, monkeypatch, url):
    monkeypatch.setenv("https_proxy", url)
    client = make_client(retries=3)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert "only http:// proxies" in info.value.message
    assert "s3cret" not in repr(info.value) and "s3cret" not in str(info.value.as_dict())
    assert rsps.connections == []


def test_the_proxy_reaches_the_connection(rsps, make_client, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@proxy.example:3128")
    rsps.get(SESSION_URL, json={})
    make_client().get("/tunnel_sessions/ts_abc")
    proxy = rsps.calls[0].connection["proxy"]
    assert (proxy.host, proxy.port) == ("proxy.example", 3128)
    assert proxy.headers == {"Proxy-Authorization": "Basic dXNlcjpzZWNyZXQ="}
    # the API key goes to ngrok inside the tunnel, never to the proxy
    assert "Authorization" not in proxy.headers


def test_a_proxy_that_refuses_the_tunnel_is_not_retried(rsps, make_client, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    rsps.get(SESSION_URL, body=tunnel_refused())
    client = make_client(retries=3)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message == ("The proxy refused to connect to https://api.ngrok.com: Tunnel connection failed: "
                                  "407 Proxy Authentication Required")
    assert len(rsps.connections) == 1
