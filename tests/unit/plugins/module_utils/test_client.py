# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""NgrokClient against answers faked at requests' level (the ``rsps`` fixture, the ``responses`` library).

What happens on a real socket (refused and timed out connections, dropped
answers, TLS, proxies, netrc) is in test_client_transport.py.
"""

from __future__ import annotations

import io
import json
import re
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from responses import matchers

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_CORE_VERSION

from ansible_collections.community.ngrok.plugins.module_utils import _client
from ansible_collections.community.ngrok.plugins.module_utils._client import MAX_BODY_BYTES, NgrokError, scrub
from ansible_collections.community.ngrok.plugins.module_utils._version import COLLECTION_VERSION
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import API_KEY, API_URL, ngrok_error

SESSION_URL = API_URL + "/tunnel_sessions/ts_abc"
RESTART_URL = SESSION_URL + "/restart"
LIST_URL = API_URL + "/tunnel_sessions"
#: A long key, so that a quote cut anywhere still holds a piece of it of 8 characters or more.
LONG_KEY = "ngrokapikey_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"


def _err(status, code=None, msg="err", **kwargs):
    return dict(status=status, json=ngrok_error(status, msg, code), **kwargs)


def _call(client, method, path="/tunnel_sessions/ts_abc"):
    return client.request(method, path, body={} if method == "POST" else None)


def _body_text(request):
    return request.body.decode() if isinstance(request.body, bytes) else request.body


def _query(call):
    return parse_qs(urlsplit(call.request.url).query)


class _BreakingRaw(io.RawIOBase):
    """A socket that delivers ``data``, then fails with ``error``."""

    def __init__(self, data, error):
        super().__init__()
        self._data = data
        self._error = error

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self._data:
            raise self._error
        size = min(len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


def breaking_body(data=b'{"id": "ts_', error=None):
    """An answer body that breaks off after ``data`` (a connection reset, unless ``error`` says otherwise)."""
    return io.BufferedReader(_BreakingRaw(data, error or ConnectionResetError(104, "Connection reset by peer")))


def read_timeout():
    return requests.exceptions.ReadTimeout("read timed out")


def connect_timeout():
    return requests.exceptions.ConnectTimeout("connect timed out")


def _fresh(answer):
    """``answer`` with its body made now, when the body is a factory: no test reads another test's body."""
    answer = dict(answer)
    if callable(answer.get("body")):
        answer["body"] = answer["body"]()
    return answer


def _pieces_of(key, text, shortest=8):
    """The pieces of ``key`` of ``shortest`` characters that show in ``text``."""
    return [key[i:i + shortest] for i in range(len(key) - shortest + 1) if key[i:i + shortest] in text]


# -- the request on the wire ----------------------------------------------------------------------

def test_get_sends_bearer_key_version_accept_and_user_agent_and_no_body(rsps, make_client):
    rsps.get(SESSION_URL, json={"id": "ts_abc"})

    response = make_client().get("/tunnel_sessions/ts_abc")

    assert (response.status_code, response.data) == (200, {"id": "ts_abc"})
    assert len(rsps.calls) == 1
    request = rsps.calls[0].request
    assert (request.method, request.url) == ("GET", SESSION_URL)
    assert request.headers["Authorization"] == "Bearer " + API_KEY
    assert request.headers["Ngrok-Version"] == "2"
    assert request.headers["Accept"] == "application/json"
    assert "Content-Type" not in request.headers
    assert request.body is None


@pytest.mark.parametrize("body, sent", [(None, "{}"), ({"a": 1, "b": "x"}, '{"a":1,"b":"x"}')])
def test_post_sends_a_json_body_with_its_content_type(rsps, make_client, body, sent):
    # ngrok answers ERR_NGROK_216 to a POST without Content-Type, ERR_NGROK_213 to one without a JSON body
    rsps.post(RESTART_URL, status=204)

    response = make_client().post("/tunnel_sessions/ts_abc/restart", body=body)

    assert (response.status_code, response.data) == (204, None)
    request = rsps.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer " + API_KEY
    assert request.headers["Ngrok-Version"] == "2"
    assert _body_text(request) == sent


def test_user_agent_names_the_collection_version(rsps, make_client):
    # tests/unit/test_version.py checks that COLLECTION_VERSION is the version of galaxy.yml
    rsps.get(SESSION_URL, json={})

    make_client().get("/tunnel_sessions/ts_abc")

    assert rsps.calls[0].request.headers["User-Agent"] == "community.ngrok/%s (ansible-core/%s; python-requests/%s; python/%d.%d.%d)" % (
        (COLLECTION_VERSION, ANSIBLE_CORE_VERSION, requests.__version__) + tuple(sys.version_info[:3]))


@pytest.mark.parametrize("api_url, path, params, expected", [
    ("https://api.ngrok.com", "/tunnel_sessions", None, "https://api.ngrok.com/tunnel_sessions"),
    ("https://api.ngrok.com/", "tunnel_sessions", None, "https://api.ngrok.com/tunnel_sessions"),
    ("http://127.0.0.1:8080/base/", "/tunnel_sessions", None, "http://127.0.0.1:8080/base/tunnel_sessions"),
    ("https://api.ngrok.com", "https://api.ngrok.com/x?y=1", None, "https://api.ngrok.com/x?y=1"),
    ("https://api.ngrok.com", "/tunnel_sessions", {"limit": "100", "filter": 'obj.os == "linux"'},
     "https://api.ngrok.com/tunnel_sessions?limit=100&filter=obj.os+%3D%3D+%22linux%22"),
    ("https://api.ngrok.com", "/x?y=1", {"z": "2"}, "https://api.ngrok.com/x?y=1&z=2"),
])
def test_the_url_sent(rsps, make_client, api_url, path, params, expected):
    rsps.get(re.compile(".*"), json={})
    make_client(api_url=api_url).get(path, params=params)
    assert rsps.calls[0].request.url == expected


def test_an_invalid_url_fails_before_anything_is_sent(rsps, make_client):
    client = make_client(api_url="https://api.ngrok.com:99999", retries=3)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions")
    assert info.value.message == ("Cannot send GET /tunnel_sessions: the URL or a header value is not valid HTTP "
                                  "(InvalidURL)")
    assert (info.value.status_code, info.value.outcome) == (None, "failed")
    assert len(rsps.calls) == 0
    assert client.recorder.sleeps == []


# -- 2xx --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, status, body, expected", [
    ("POST", 204, b"", None),
    ("POST", 200, b'{"ok": true}', {"ok": True}),
    ("POST", 200, b"<html>accepted</html>", None),  # a POST answered 2xx happened; its body does not matter
    ("POST", 202, b"not json", None),
    ("POST", 200, b"[" * 100000, None),  # nested deeper than Python's recursion limit
    ("GET", 200, b"", None),
    ("GET", 200, b"  \n ", None),
    ("GET", 200, b'{"tunnel_sessions": []}', {"tunnel_sessions": []}),
    ("GET", 200, b"[1, 2]", [1, 2]),
])
def test_success_bodies(rsps, make_client, method, status, body, expected):
    rsps.add(method, SESSION_URL, status=status, body=body)
    response = _call(make_client(), method)
    assert (response.status_code, response.data) == (status, expected)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("body, shown", [
    (b"<html><body>Hello</body></html>", "'<html><body>Hello</body></html>'"),
    (b"\xff\xfe not utf-8", "'\ufffd\ufffd not utf-8'"),
    (b"x" * 500, "'" + "x" * 120 + "...'"),
    (b"[" * 100000, "'" + "[" * 120 + "...'"),  # nested deeper than Python's recursion limit
])
def test_a_get_answered_2xx_that_is_not_json_fails_and_is_not_retried(rsps, make_client, body, shown):
    rsps.get(SESSION_URL, status=200, body=body, headers={"ngrok-operation-id": "op_7"})
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    error = info.value
    assert error.message == "ngrok answered GET /tunnel_sessions/ts_abc with HTTP 200 but the body is not JSON: " + shown
    assert (error.status_code, error.operation_id, error.outcome) == (200, "op_7", "failed")
    assert len(rsps.calls) == 1
    assert client.recorder.sleeps == []


# -- error decoding -----------------------------------------------------------------------------------

@pytest.mark.parametrize("status, body, headers, expected", [
    pytest.param(400, json.dumps(ngrok_error(400, "Invalid CEL query.", "ERR_NGROK_250", "op_1")), {},
                 dict(error_code="ERR_NGROK_250", api_msg="Invalid CEL query.", operation_id="op_1", from_ngrok=True,
                      describe="HTTP 400 ERR_NGROK_250: Invalid CEL query (operation ID op_1)"),
                 id="full-ngrok-body"),
    pytest.param(404, json.dumps({"details": {"operation_id": "op_32ELGiMyruN4J6Yn0fduKjIT6ug"},
                                  "msg": "Resource not found", "status_code": 404}), {},
                 dict(error_code=None, api_msg="Resource not found", operation_id="op_32ELGiMyruN4J6Yn0fduKjIT6ug",
                      from_ngrok=True, describe="HTTP 404: Resource not found (operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)"),
                 id="plain-404-without-error-code"),
    pytest.param(404, "<html><body><h1>Not Found</h1></body></html>", {},
                 dict(error_code=None, operation_id=None, from_ngrok=False,
                      api_msg="Not Found (the response is not an ngrok error: '<html><body><h1>Not Found</h1></body></html>')",
                      describe="HTTP 404: Not Found (the response is not an ngrok error: "
                               "'<html><body><h1>Not Found</h1></body></html>')"),
                 id="html-page"),
    pytest.param(403, "", {}, dict(error_code=None, operation_id=None, api_msg="Forbidden (empty response body)",
                                   from_ngrok=False, describe="HTTP 403: Forbidden (empty response body)"),
                 id="empty-body"),
    pytest.param(400, json.dumps({"msg": "bad", "status_code": 400}), {"ngrok-operation-id": "op_hdr"},
                 dict(error_code=None, api_msg="bad", operation_id="op_hdr", from_ngrok=True,
                      describe="HTTP 400: bad (operation ID op_hdr)"),
                 id="operation-id-from-header"),
    pytest.param(400, json.dumps(ngrok_error(400, "bad", "ERR_NGROK_1", "op_body")), {"ngrok-operation-id": "op_hdr"},
                 dict(error_code="ERR_NGROK_1", api_msg="bad", operation_id="op_body", from_ngrok=True,
                      describe="HTTP 400 ERR_NGROK_1: bad (operation ID op_body)"),
                 id="body-operation-id-wins-over-header"),
    pytest.param(400, json.dumps({"msg": "bad"}), {}, dict(error_code=None, api_msg="bad", operation_id=None,
                                                           from_ngrok=False, describe="HTTP 400: bad"),
                 id="msg-without-status-code-is-not-ngrok"),
    pytest.param(400, json.dumps(["not", "a", "dict"]), {},
                 dict(error_code=None, operation_id=None, from_ngrok=False,
                      api_msg="Bad Request (the response is not an ngrok error: '[\"not\", \"a\", \"dict\"]')"),
                 id="json-list"),
    pytest.param(400, json.dumps({"error_code": 218, "msg": 7, "status_code": 400, "details": "x"}), {},
                 dict(error_code="218", api_msg="7", operation_id=None, from_ngrok=True, describe="HTTP 400 218: 7"),
                 id="odd-types-stringified"),
])
def test_error_decoding(rsps, make_client, status, body, headers, expected):
    rsps.get(SESSION_URL, status=status, body=body, headers=headers)
    client = make_client()
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    error = info.value
    assert (error.status_code, error.outcome, error.attempts) == (status, "failed", 1)
    assert (error.method, error.path) == ("GET", "/tunnel_sessions/ts_abc")
    for name in ("error_code", "api_msg", "operation_id", "from_ngrok"):
        assert getattr(error, name) == expected[name], name
    if "describe" in expected:
        assert error.describe() == expected["describe"]
        assert str(error) == error.message == "GET /tunnel_sessions/ts_abc: " + expected["describe"]
    assert error.as_dict() == {"status_code": status, "error_code": expected["error_code"], "msg": expected["api_msg"],
                               "operation_id": expected["operation_id"], "outcome": "failed", "attempts": 1}
    assert len(rsps.calls) == 1
    assert client.recorder.sleeps == []


# -- retries --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("first", [
    pytest.param(_err(429, "ERR_NGROK_226"), id="429"),
    pytest.param(_err(429), id="429-without-a-code"),
    pytest.param(_err(400, "ERR_NGROK_226"), id="ERR_NGROK_226-any-status"),
    pytest.param(_err(400, "ERR_NGROK_225"), id="ERR_NGROK_225"),
    pytest.param(_err(503, "ERR_NGROK_225"), id="ERR_NGROK_225-as-503"),
    pytest.param(dict(body=connect_timeout), id="connect-timeout"),
])
def test_not_acted_upon_is_retried_for_every_method(rsps, make_client, method, first):
    rsps.add(method, SESSION_URL, **_fresh(first))
    rsps.add(method, SESSION_URL, status=200, json={"ok": 1})
    client = make_client(retries=1)

    assert _call(client, method).data == {"ok": 1}

    assert client.requests_sent == 2
    assert client.recorder.sleeps == [1.0]
    assert client.recorder.rand_calls == [(0, 1.0)]


UNKNOWN_OUTCOMES = [
    pytest.param(_err(500), id="500"),
    pytest.param(_err(502), id="502"),
    pytest.param(_err(504), id="504"),
    pytest.param(_err(507), id="507"),
    pytest.param(_err(503), id="503-from-ngrok"),
    pytest.param(dict(status=503, body="upstream connect error or disconnect/reset before headers"), id="503-from-a-proxy"),
    pytest.param(dict(status=503), id="503-empty-body"),
    pytest.param(dict(status=524, body="<html>A timeout occurred</html>"), id="524-from-a-cdn"),
    pytest.param(_err(503, headers={"Retry-After": "3"}), id="503-with-retry-after"),
    pytest.param(_err(502, "ERR_NGROK_999"), id="502-with-an-unknown-code"),
    pytest.param(_err(400, "ERR_NGROK_810"), id="ERR_NGROK_810"),
    pytest.param(_err(503, "ERR_NGROK_810"), id="ERR_NGROK_810-as-503"),
    pytest.param(_err(429, "ERR_NGROK_810"), id="ERR_NGROK_810-as-429"),
    pytest.param(dict(status=502, body=breaking_body), id="502-whose-body-broke-off"),
    pytest.param(dict(body=read_timeout), id="read-timeout"),
]


@pytest.mark.parametrize("first", UNKNOWN_OUTCOMES)
def test_a_get_is_retried_when_the_outcome_is_unknown(rsps, make_client, first):
    rsps.get(SESSION_URL, **_fresh(first))
    rsps.get(SESSION_URL, status=200, json={"ok": 1})
    client = make_client(retries=1)
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert client.requests_sent == 2
    assert len(client.recorder.sleeps) == 1


@pytest.mark.parametrize("first", UNKNOWN_OUTCOMES)
def test_a_post_whose_outcome_is_unknown_is_never_sent_again(rsps, make_client, first):
    rsps.post(RESTART_URL, **_fresh(first))
    rsps.post(RESTART_URL, status=204)
    client = make_client(retries=5)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    error = info.value
    assert (error.outcome, error.unknown_outcome, error.attempts) == ("unknown", True, 1)
    assert error.as_dict()["outcome"] == "unknown"
    assert client.requests_sent == 1
    assert client.recorder.sleeps == []


@pytest.mark.parametrize("first, message", [
    pytest.param(_err(500, msg="boom"), "POST /tunnel_sessions/ts_abc/restart: HTTP 500: boom "
                 "(operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)", id="500"),
    pytest.param(dict(status=524, body="<html>A timeout occurred</html>"),
                 "POST /tunnel_sessions/ts_abc/restart: HTTP 524: the response is not an ngrok error: "
                 "'<html>A timeout occurred</html>'", id="524-from-a-cdn"),
    pytest.param(dict(body=read_timeout),
                 "No answer from ngrok for POST /tunnel_sessions/ts_abc/restart: no response within 30 seconds (timeout)",
                 id="read-timeout"),
])
def test_unknown_outcome_messages(rsps, make_client, first, message):
    rsps.post(RESTART_URL, **_fresh(first))
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert info.value.message == message


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("answer", [
    pytest.param(_err(400, "ERR_NGROK_250"), id="400"),
    pytest.param(_err(401, "ERR_NGROK_203"), id="401"),
    pytest.param(_err(403, "ERR_NGROK_204"), id="403"),
    pytest.param(_err(404), id="404"),
    pytest.param(_err(409), id="409"),
    pytest.param(_err(422, "ERR_NGROK_804"), id="422"),
    pytest.param(dict(status=501, body="<html>Not Implemented</html>"), id="501"),
    pytest.param(dict(status=505, body="<html>HTTP Version Not Supported</html>"), id="505"),
    pytest.param(dict(status=404, body=breaking_body), id="404-whose-body-broke-off"),
    pytest.param(dict(status=501, body=breaking_body), id="501-whose-body-broke-off"),
] + [pytest.param(_err(status, code), id="%d-%s" % (status, code))
     for status in (500, 502, 504)
     for code in ("ERR_NGROK_804", "ERR_NGROK_805", "ERR_NGROK_806", "ERR_NGROK_807", "ERR_NGROK_808", "ERR_NGROK_809",
                  "ERR_NGROK_1121", "ERR_NGROK_1122")])
def test_definite_failures_are_not_retried(rsps, make_client, method, answer):
    # 4xx, 501 and 505, and the codes that say what the agent did, say for certain that nothing happened
    rsps.add(method, SESSION_URL, **_fresh(answer))
    rsps.add(method, SESSION_URL, status=200, json={})
    client = make_client(retries=3)
    with pytest.raises(NgrokError) as info:
        _call(client, method)
    assert (info.value.status_code, info.value.outcome, info.value.attempts) == (answer["status"], "failed", 1)
    if "json" in answer:
        assert info.value.error_code == answer["json"].get("error_code")
    else:
        assert not info.value.from_ngrok
    assert client.requests_sent == 1
    assert client.recorder.sleeps == []


def test_a_definite_failure_whose_body_broke_off_says_so(rsps, make_client):
    rsps.post(RESTART_URL, status=400, body=breaking_body())
    with pytest.raises(NgrokError) as info:
        make_client().post("/tunnel_sessions/ts_abc/restart")
    assert info.value.api_msg.startswith("Bad Request (the response body broke off (")
    assert "empty response body" not in info.value.message


@pytest.mark.parametrize("retries", [0, 1, 3])
@pytest.mark.parametrize("method, fault, status", [
    ("POST", _err(400, "ERR_NGROK_225"), 400),
    ("GET", _err(400, "ERR_NGROK_225"), 400),
    ("GET", _err(502), 502),
    ("GET", dict(body=read_timeout), None),
    ("POST", dict(body=connect_timeout), None),
])
def test_retries_exhausted(rsps, make_client, retries, method, fault, status):
    rsps.add(method, SESSION_URL, **_fresh(fault))
    client = make_client(retries=retries)
    with pytest.raises(NgrokError) as info:
        _call(client, method)
    assert (info.value.attempts, info.value.status_code, info.value.outcome) == (retries + 1, status, "failed")
    assert client.requests_sent == retries + 1
    assert len(client.recorder.sleeps) == retries


def test_a_connection_never_made_fails_with_its_reason(rsps, make_client):
    rsps.post(RESTART_URL, body=connect_timeout())
    client = make_client(retries=2, timeout=12.5)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_abc/restart")
    error = info.value
    assert error.message == "Could not connect to https://api.ngrok.com: no connection within 12.5 seconds (timeout)"
    assert error.describe() == error.message
    assert error.as_dict() == {"status_code": None, "error_code": None, "msg": error.message, "operation_id": None,
                               "outcome": "failed", "attempts": 3}


@pytest.mark.parametrize("retry_after, expected_wait", [
    pytest.param(None, 1.0, id="absent-backoff"),
    pytest.param("7", 8.0, id="seconds-plus-jitter"),
    pytest.param(" 2.5 ", 3.5, id="fractional"),
    pytest.param("0", 1.0, id="zero"),
    pytest.param("600", 61.0, id="capped-at-60"),
    pytest.param("inf", 61.0, id="infinite-capped"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 1.0, id="http-date-ignored"),
    pytest.param("-5", 1.0, id="negative-ignored"),
    pytest.param("nan", 1.0, id="nan-ignored"),
    pytest.param("soon", 1.0, id="garbage-ignored"),
])
@pytest.mark.parametrize("first", [pytest.param(_err(429, "ERR_NGROK_226"), id="429"),
                                   pytest.param(_err(400, "ERR_NGROK_225"), id="ERR_NGROK_225"),
                                   pytest.param(_err(503), id="503-get")])
def test_retry_after_is_honoured_and_capped(rsps, make_client, first, retry_after, expected_wait):
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    rsps.get(SESSION_URL, headers=headers, **_fresh(first))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client()
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert client.recorder.sleeps == client.retry_waits == [expected_wait]
    assert client.recorder.rand_calls == [(0, 1.0)]


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


def test_the_wait_is_the_random_value(rsps, make_client):
    rsps.get(SESSION_URL, **_err(503))
    client = make_client(retries=2, rand=lambda low, high: high / 4)
    with pytest.raises(NgrokError):
        client.get("/tunnel_sessions/ts_abc")
    assert client.recorder.sleeps == [0.25, 0.5]


# -- rate limiting: waited out within rate_limit_timeout, not counted against retries -------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_rate_limiting_does_not_use_up_retries(rsps, make_client, method):
    for dummy in range(5):
        rsps.add(method, SESSION_URL, **_err(429, "ERR_NGROK_226"))
    rsps.add(method, SESSION_URL, status=200, json={"ok": 1})
    client = make_client(retries=0)
    assert _call(client, method).data == {"ok": 1}
    assert len(rsps.calls) == 6
    # without Retry-After: jittered probes of at most 1, 2, then 4 seconds
    assert client.recorder.rand_calls == [(0, 1.0), (0, 2.0), (0, 4.0), (0, 4.0), (0, 4.0)]
    assert client.recorder.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0]


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
    assert (error.status_code, error.error_code, error.outcome) == (429, "ERR_NGROK_226", "failed")
    assert error.attempts == len(waits) + 1
    assert error.rate_limit_waited == pytest.approx(sum(waits))
    assert len(rsps.calls) == len(waits) + 1


def test_rate_limit_timeout_zero_fails_at_the_first_429_even_with_a_zero_wait(rsps, make_client):
    rsps.get(LIST_URL, **_err(429, "ERR_NGROK_226"))
    client = make_client(rate_limit_timeout=0, rand=lambda low, high: 0.0)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions")
    assert info.value.status_code == 429
    assert len(rsps.calls) == 1


def test_rate_limited_attempts_have_a_hard_stop(rsps, make_client):
    # zero waits never exhaust rate_limit_timeout: the number of attempts is bounded all the same
    rsps.get(SESSION_URL, **_err(429))
    client = make_client(rand=lambda low, high: 0.0)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert len(rsps.calls) == info.value.attempts == _client.MAX_RATE_LIMITED_ATTEMPTS


def test_rate_limiting_does_not_use_up_the_retries_of_later_faults(rsps, make_client):
    rsps.get(SESSION_URL, **_err(429))
    rsps.get(SESSION_URL, **_err(429))
    rsps.get(SESSION_URL, **_err(503))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client(retries=1)
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    # two rate-limit probes (1 s, 2 s), then the backoff of the first retry (up to 1 s)
    assert client.recorder.sleeps == [1.0, 2.0, 1.0]


def test_retries_are_used_up_across_rate_limiting(rsps, make_client):
    rsps.get(SESSION_URL, **_err(503))
    rsps.get(SESSION_URL, **_err(429))
    rsps.get(SESSION_URL, **_err(429))
    rsps.get(SESSION_URL, **_err(503))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client(retries=1)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert (info.value.status_code, info.value.attempts) == (503, 4)
    assert len(rsps.calls) == 4
    # 503 backoff (retry 1: up to 1 s), then two rate-limit probes (1 s, 2 s)
    assert client.recorder.sleeps == [1.0, 1.0, 2.0]


def test_an_error_after_rate_limiting_counts_every_attempt(rsps, make_client):
    rsps.get(SESSION_URL, **_err(429, "ERR_NGROK_226"))
    rsps.get(SESSION_URL, **_err(404))
    with pytest.raises(NgrokError) as info:
        make_client().get("/tunnel_sessions/ts_abc")
    assert (info.value.status_code, info.value.attempts) == (404, 2)


# -- redirects: never followed ------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failure_and_never_followed(rsps, make_client, method, status):
    target = "https://elsewhere.example/tunnel_sessions/ts_abc?token=" + LONG_KEY
    rsps.add(method, SESSION_URL, status=status, headers={"Location": target})
    rsps.add(method, re.compile(r"https://elsewhere\.example/.*"), json={})
    client = make_client(api_key=LONG_KEY, retries=3)
    with pytest.raises(NgrokError) as info:
        _call(client, method)
    error = info.value
    assert len(rsps.calls) == 1
    assert rsps.calls[0].request.url == SESSION_URL
    assert (error.status_code, error.outcome, error.attempts) == (status, "failed", 1)
    assert error.message.startswith("ngrok answered %s /tunnel_sessions/ts_abc with a redirect (HTTP %d to "
                                    "https://elsewhere.example/tunnel_sessions/ts_abc?token=********)" % (method, status))
    assert "check api_url" in error.message
    assert _pieces_of(LONG_KEY, " ".join(str(v) for v in (error.message, error.describe(), error.as_dict()))) == []
    assert client.recorder.sleeps == []


# -- the body: size cap and deadline ------------------------------------------------------------------

def _json_of_size(size):
    head, tail = b'{"tunnel_sessions": [], "pad": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def test_a_body_of_exactly_the_cap_is_read(rsps, make_client):
    body = _json_of_size(MAX_BODY_BYTES)
    assert len(body) == MAX_BODY_BYTES
    rsps.get(SESSION_URL, body=body)
    assert make_client().get("/tunnel_sessions/ts_abc").data["tunnel_sessions"] == []


def test_a_body_over_the_cap_is_a_lost_answer(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(MAX_BODY_BYTES + 1))
    client = make_client(retries=1)
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message == ("No answer from ngrok for GET /tunnel_sessions/ts_abc: the response body is larger "
                                  "than %d bytes" % MAX_BODY_BYTES)
    assert (info.value.outcome, info.value.attempts) == ("failed", 2)


def test_a_post_answered_2xx_with_a_body_over_the_cap_succeeded(rsps, make_client):
    rsps.post(RESTART_URL, status=200, body=b"x" * (MAX_BODY_BYTES + 10))
    response = make_client().post("/tunnel_sessions/ts_abc/restart")
    assert (response.status_code, response.data, len(rsps.calls)) == (200, None, 1)


class StepClock:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step):
        self.now = -step
        self.step = step

    def __call__(self):
        self.now += self.step
        return self.now


def test_a_body_read_within_the_deadline_is_fine(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(3 * 65536))
    client = make_client(timeout=30, retries=0, clock=lambda: 100.0)
    assert client.get("/tunnel_sessions/ts_abc").data["tunnel_sessions"] == []


def test_a_body_read_past_the_deadline_on_get_is_a_lost_answer_and_retried(rsps, make_client):
    rsps.get(SESSION_URL, body=_json_of_size(3 * 65536))
    client = make_client(timeout=30, retries=1, clock=StepClock(31.0))
    with pytest.raises(NgrokError) as info:
        client.get("/tunnel_sessions/ts_abc")
    assert info.value.message == ("No answer from ngrok for GET /tunnel_sessions/ts_abc: the response body did not "
                                  "arrive within 30 seconds")
    assert (info.value.outcome, info.value.attempts, len(rsps.calls)) == ("failed", 2, 2)


@pytest.mark.parametrize("status, outcome", [(200, None), (404, "failed"), (502, "unknown")])
def test_a_body_read_past_the_deadline_on_post_depends_on_the_status(rsps, make_client, status, outcome):
    rsps.post(RESTART_URL, status=status, body=_json_of_size(2 * 65536))
    client = make_client(timeout=30, clock=StepClock(31.0))
    if outcome is None:
        response = client.post("/tunnel_sessions/ts_abc/restart")
        assert (response.status_code, response.data) == (200, None)
    else:
        with pytest.raises(NgrokError) as info:
            client.post("/tunnel_sessions/ts_abc/restart")
        assert (info.value.status_code, info.value.outcome) == (status if outcome == "failed" else None, outcome)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("error", [ConnectionResetError(104, "Connection reset by peer"), TimeoutError("timed out")])
def test_a_get_whose_body_broke_off_is_retried(rsps, make_client, error):
    rsps.get(SESSION_URL, body=breaking_body(error=error))
    rsps.get(SESSION_URL, json={"ok": 1})
    client = make_client()
    assert client.get("/tunnel_sessions/ts_abc").data == {"ok": 1}
    assert len(rsps.calls) == 2


def test_a_post_answered_2xx_whose_body_broke_off_succeeded(rsps, make_client):
    rsps.post(RESTART_URL, status=200, body=breaking_body())
    response = make_client().post("/tunnel_sessions/ts_abc/restart")
    assert (response.status_code, response.data, len(rsps.calls)) == (200, None, 1)
    assert response.body_problem.startswith("the response body broke off (")


# -- the API key is never quoted -------------------------------------------------------------------------

@pytest.mark.parametrize("text, secret, expected", [
    ("no key here", "2xQkEYsecret", "no key here"),
    ("Bearer 2xQkEYsecret, again 2xQkEYsecret", "2xQkEYsecret", "Bearer ********, again ********"),
    ("cut: 2xQkEYse", "2xQkEYsecret", "cut: ********"),
    ("tail: EYsecret'", "2xQkEYsecret", "tail: ********'"),
    ("too short to tell: 2xQkEYs", "2xQkEYsecret", "too short to tell: 2xQkEYs"),
    ("abc", "abc", "********"),
    ("xabcx", "abc", "x********x"),
    ("anything", "", "anything"),
    ("anything", None, "anything"),
    (None, "2xQkEYsecret", None),
])
def test_scrub(text, secret, expected):
    assert scrub(text, secret) == expected


KEY_ECHOES = [
    # a JSON echo of the request headers: not an ngrok error, so its start is quoted, cut after 120 characters
    ("json-echo-cut-in-the-key", lambda key: dict(status=401, json={"headers": {
        "Accept": "application/json", "Accept-Encoding": "identity", "Authorization": "Bearer " + key}})),
    ("text-echo", lambda key: dict(status=400, body="Authorization: Bearer %s\r\n" % key)),
    ("ngrok-style-msg-with-part-of-the-key", lambda key: dict(status=400, json={"status_code": 400, "msg": "bad key %s" % key[:20]})),
    ("code-and-operation-id-with-parts-of-the-key", lambda key: dict(status=400, json={
        "status_code": 400, "msg": "bad", "error_code": key[5:30], "details": {"operation_id": key[10:40]}})),
    ("operation-id-header", lambda key: dict(status=400, json={"status_code": 400, "msg": "bad"},
                                             headers={"ngrok-operation-id": key})),
    ("5xx-page", lambda key: dict(status=502, body="<html>upstream said: Bearer %s" % key)),
]


@pytest.mark.parametrize("method, answer", [pytest.param(method, answer, id="%s-%s" % (method, name))
                                            for method in ("GET", "POST") for name, answer in KEY_ECHOES]
                         + [pytest.param("GET", lambda key: dict(status=200, body="echo: Authorization: Bearer " + key),
                                         id="GET-2xx-not-json")])
def test_no_piece_of_the_api_key_is_quoted_from_an_answer(rsps, make_client, method, answer):
    rsps.add(method, SESSION_URL, **answer(LONG_KEY))
    with pytest.raises(NgrokError) as info:
        _call(make_client(api_key=LONG_KEY, retries=0), method)
    error = info.value
    shown = " ".join(str(value) for value in (error.message, error.describe(), error.as_dict(), error.api_msg,
                                              error.error_code, error.operation_id))
    assert "********" in shown
    assert _pieces_of(LONG_KEY, shown) == []


def test_a_quote_is_scrubbed_before_it_is_cut(rsps, make_client):
    # The quote is cut at 120 characters, 4 characters into the key. Cut first, those 4 would be too short to
    # be recognised as a piece of the key, and would show.
    rsps.get(SESSION_URL, status=400, body="A" * 108 + " Bearer " + LONG_KEY)
    with pytest.raises(NgrokError) as info:
        make_client(api_key=LONG_KEY, retries=0).get("/tunnel_sessions/ts_abc")
    assert info.value.api_msg.endswith(" Bearer ****...')")
    assert "Bearer n" not in info.value.message


# -- paging ---------------------------------------------------------------------------------------------

def _page(ids, next_uri):
    return {"tunnel_sessions": [{"id": i} for i in ids], "uri": LIST_URL, "next_page_uri": next_uri}


def _three_pages(rsps, base=API_URL):
    list_url = base + "/tunnel_sessions"
    page2 = list_url + "?before_id=ts_3&limit=2"
    page3 = list_url + "?before_id=ts_5&limit=2"
    rsps.get(list_url, json=_page(["ts_5", "ts_6"], None),
             match=[matchers.query_string_matcher("before_id=ts_5&limit=2")])
    rsps.get(list_url, json=_page(["ts_3", "ts_4"], page3),
             match=[matchers.query_string_matcher("before_id=ts_3&limit=2")])
    rsps.get(list_url, json=_page(["ts_1", "ts_2"], page2),
             match=[matchers.query_param_matcher({"limit": "2", "filter": 'obj.os == "linux"'})])


ALL_SIX = ["ts_1", "ts_2", "ts_3", "ts_4", "ts_5", "ts_6"]


@pytest.mark.parametrize("base", ["https://api.ngrok.com", "http://127.0.0.1:8080"])
def test_paginate_follows_next_page_uri(rsps, make_client, base):
    _three_pages(rsps, base)
    items = list(make_client(api_url=base).paginate("/tunnel_sessions", "tunnel_sessions",
                                                    params={"limit": "2", "filter": 'obj.os == "linux"'}))
    assert [i["id"] for i in items] == ALL_SIX
    assert [_query(call) for call in rsps.calls] == [{"limit": ["2"], "filter": ['obj.os == "linux"']},
                                                     {"before_id": ["ts_3"], "limit": ["2"]},
                                                     {"before_id": ["ts_5"], "limit": ["2"]}]
    for call in rsps.calls:
        assert call.request.headers["Authorization"] == "Bearer " + API_KEY


def test_paginate_hands_each_page_to_on_page(rsps, make_client):
    _three_pages(rsps, "https://api.ngrok.com")
    pages = []
    items = list(make_client().paginate("/tunnel_sessions", "tunnel_sessions",
                                        params={"limit": "2", "filter": 'obj.os == "linux"'}, on_page=pages.append))
    assert len(items) == 6
    assert [page.data["tunnel_sessions"][0]["id"] for page in pages] == ["ts_1", "ts_3", "ts_5"]


@pytest.mark.parametrize("max_items, expected_ids, expected_calls", [
    (1, ["ts_1"], 1), (2, ["ts_1", "ts_2"], 1), (3, ["ts_1", "ts_2", "ts_3"], 2), (6, ALL_SIX, 3), (100, ALL_SIX, 3),
])
def test_paginate_max_items_stops_early(rsps, make_client, max_items, expected_ids, expected_calls):
    _three_pages(rsps)
    items = list(make_client().paginate("/tunnel_sessions", "tunnel_sessions",
                                        params={"limit": "2", "filter": 'obj.os == "linux"'}, max_items=max_items))
    assert [i["id"] for i in items] == expected_ids
    assert len(rsps.calls) == expected_calls


@pytest.mark.parametrize("next_uri", [
    "https://API.NGROK.COM/tunnel_sessions?before_id=ts_1",
    "HTTPS://api.ngrok.com/tunnel_sessions?before_id=ts_1",
    "https://api.ngrok.com:443/tunnel_sessions?before_id=ts_1",
])
def test_paginate_same_origin_in_another_spelling_is_followed(rsps, make_client, next_uri):
    rsps.get(re.compile(r"https://api\.ngrok\.com(:443)?/tunnel_sessions", re.I), json=_page(["ts_2"], None),
             match=[matchers.query_string_matcher("before_id=ts_1")])
    rsps.get(LIST_URL, json=_page(["ts_1"], next_uri))
    items = list(make_client().paginate("/tunnel_sessions", "tunnel_sessions"))
    assert [i["id"] for i in items] == ["ts_1", "ts_2"]


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
    seen = []
    with pytest.raises(NgrokError) as info:
        for item in make_client().paginate("/tunnel_sessions", "tunnel_sessions"):
            seen.append(item["id"])
    assert seen == ["ts_1"]
    assert info.value.message.startswith("Refusing to follow next_page_uri %s: it is not on https://api.ngrok.com, "
                                         "and the API key is only ever sent to api_url" % next_uri)
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("first_params, loop_uri, expected_ids, calls", [
    pytest.param(None, LIST_URL + "?before_id=ts_3&limit=2", ["ts_1", "ts_3"], 2, id="page-2-points-at-itself"),
    pytest.param({"limit": "100"}, LIST_URL + "?limit=100", ["ts_1"], 1, id="back-to-the-first-page"),
])
def test_paginate_refuses_a_loop(rsps, make_client, first_params, loop_uri, expected_ids, calls):
    rsps.get(LIST_URL, json=_page(["ts_3"], loop_uri), match=[matchers.query_string_matcher("before_id=ts_3&limit=2")])
    rsps.get(LIST_URL, json=_page(["ts_1"], loop_uri))
    seen = []
    with pytest.raises(NgrokError) as info:
        for item in make_client().paginate("/tunnel_sessions", "tunnel_sessions", params=first_params):
            seen.append(item["id"])
    assert seen == expected_ids
    assert info.value.message == ("ngrok returned the same next_page_uri twice (%s); stopping to avoid a loop"
                                  % loop_uri[len(API_URL):])
    assert len(rsps.calls) == calls


@pytest.mark.parametrize("page", [{"other": []}, {"tunnel_sessions": None}, {"tunnel_sessions": {}}, [1], None])
def test_paginate_unusable_page(rsps, make_client, page):
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
