# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import (
    and_filters,
    cel_string,
    explain,
    get_session,
    list_sessions,
    metadata_filter,
    metadata_in_filters,
    same_agent_filter,
    server_time,
    started_at_key,
)
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    CREDENTIAL_ID,
    OLD_ID,
    make_session,
    ngrok_error,
)


# -- CEL string literals -----------------------------------------------------------------------------

def decode_cel_string(literal):
    """A strict decoder of the double-quoted CEL string literals cel_string() may produce."""
    assert literal[0] == '"' and literal[-1] == '"' and len(literal) >= 2
    body = literal[1:-1]
    out = []
    i = 0
    escapes = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
    while i < len(body):
        ch = body[i]
        assert ch != '"', "unescaped quote inside the literal"
        assert ord(ch) >= 32 and ord(ch) != 127, "raw control character inside the literal"
        if ch == "\\":
            nxt = body[i + 1]
            if nxt == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes[nxt])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("value, expected", [
    ("web-01", '"web-01"'),
    ("", '""'),
    ('a"b', '"a\\"b"'),
    ("a\\b", '"a\\\\b"'),
    ("a\nb", '"a\\nb"'),
    ("a\rb", '"a\\rb"'),
    ("a\tb", '"a\\tb"'),
    ("a\x00b", '"a\\u0000b"'),
    ("\x1f", '"\\u001f"'),
    ("\x7f", '"\\u007f"'),
    ("héllo ☃", '"héllo ☃"'),
    ("it's", '"it\'s"'),
    ('x" || true || "', '"x\\" || true || \\""'),
    ('\\" || true || "', '"\\\\\\" || true || \\""'),
])
def test_cel_string(value, expected):
    assert cel_string(value) == expected


@pytest.mark.parametrize("value", [
    'web-01', '"', '\\', '\\"', '"\\', '") || obj.id != ("', 'a\nb\r\tc', "".join(chr(c) for c in range(0, 130)),
    'obj.metadata == "x"', "\u2028\u2029", "\\u0022",
])
def test_cel_string_round_trips_and_cannot_break_out(value):
    literal = cel_string(value)
    assert decode_cel_string(literal) == value


@pytest.mark.parametrize("parts, expected", [
    ((), None),
    ((None, ""), None),
    (("a == 1",), "a == 1"),
    ((None, "a == 1", ""), "a == 1"),
    (("a == 1", "b || c"), "(a == 1) && (b || c)"),
    (("a", "b", "c"), "(a) && (b) && (c)"),
])
def test_and_filters(parts, expected):
    assert and_filters(*parts) == expected


@pytest.mark.parametrize("metadata, expected", [
    ("web-01", 'obj.metadata == "web-01"'),
    ('we"b\\01', 'obj.metadata == "we\\"b\\\\01"'),
    ('x" || true || "', 'obj.metadata == "x\\" || true || \\""'),
    ("", 'obj.metadata == ""'),
])
def test_metadata_filter(metadata, expected):
    cel = metadata_filter(metadata)
    assert cel == expected
    assert decode_cel_string(cel[len("obj.metadata == "):]) == metadata


def test_metadata_in_filters_one_group():
    assert metadata_in_filters(["web-01", 'we"b', "web-01"]) == ['obj.metadata in ["web-01", "we\\"b"]']


def test_metadata_in_filters_groups_of_at_most_100_values():
    values = ["h%d" % i for i in range(250)]
    filters = metadata_in_filters(values, max_length=100000)
    assert [f.count('"') // 2 for f in filters] == [100, 100, 50]


@pytest.mark.parametrize("size", [10, 200, 1499, 5000])
def test_metadata_in_filters_stay_short_and_keep_every_value_in_order(size):
    values = ["%s-%04d" % ("x" * size, i) for i in range(40)]
    filters = metadata_in_filters(values)
    decoded = []
    for cel in filters:
        assert cel.startswith("obj.metadata in [") and cel.endswith("]")
        assert len(cel) <= 1500 or cel.count('", "') == 0  # a value longer than the limit stands alone
        decoded += [decode_cel_string(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', cel)]
    assert decoded == values


def test_metadata_in_filters_empty():
    assert not metadata_in_filters([])


def test_same_agent_filter():
    cel = same_agent_filter(make_session(), "2025-09-04T10:15:00Z")
    assert cel == ('obj.credential.id == "%s" && obj.ip == "10.110.2.2" && obj.metadata == "web-01" && '
                   'obj.id != "%s" && obj.started_at >= timestamp("2025-09-04T10:15:00Z")' % (CREDENTIAL_ID, OLD_ID))


def test_same_agent_filter_without_metadata_or_credential():
    session = make_session(metadata=None)
    del session["credential"]
    assert "metadata" not in session
    cel = same_agent_filter(session, "2025-09-04T10:15:00Z")
    assert 'obj.credential.id == ""' in cel
    assert 'obj.metadata == ""' in cel


def test_same_agent_filter_without_any_start_time_has_no_time_bound():
    # no Date header and no started_at in the old session: timestamp("") would be an invalid filter
    cel = same_agent_filter(make_session(), "")
    assert cel == ('obj.credential.id == "%s" && obj.ip == "10.110.2.2" && obj.metadata == "web-01" && '
                   'obj.id != "%s"' % (CREDENTIAL_ID, OLD_ID))


def test_same_agent_filter_escapes_metadata():
    cel = same_agent_filter(make_session(metadata='x" || true || "'), "2025-09-04T10:15:00Z")
    assert 'obj.metadata == "x\\" || true || \\""' in cel


@pytest.mark.parametrize("headers, expected", [
    ({"Date": "Thu, 04 Sep 2025 10:15:00 GMT"}, "2025-09-04T10:15:00Z"),
    ({"Date": "Thu, 4 Sep 2025 10:15:00 GMT"}, "2025-09-04T10:15:00Z"),
    # Read as an email date (RFC 5322): an offset is converted to UTC, across midnight too; -0000, or no zone at
    # all, is UTC; a two-digit year is in this century.
    ({"Date": "Thu, 04 Sep 2025 12:15:00 +0200"}, "2025-09-04T10:15:00Z"),
    ({"Date": "Thu, 04 Sep 2025 23:30:00 -0100"}, "2025-09-05T00:30:00Z"),
    ({"Date": "Thu, 04 Sep 2025 10:15:00 -0000"}, "2025-09-04T10:15:00Z"),
    ({"Date": "Thu, 04 Sep 2025 10:15:00"}, "2025-09-04T10:15:00Z"),
    ({"Date": "Thu, 04 Sep 25 10:15:00 GMT"}, "2025-09-04T10:15:00Z"),
    ({"Date": "Thu, 04 Foo 2025 10:15:00 GMT"}, None),
    ({"Date": "Thu, 04 Sep 2025 25:15:00 GMT"}, None),
    ({"Date": "not a date"}, None),
    ({"Date": ""}, None),
    ({}, None),
    (None, None),
])
def test_server_time(headers, expected):
    assert server_time(headers) == expected


# -- reads -----------------------------------------------------------------------------------------------

SESSION_URL = "https://api.ngrok.com/tunnel_sessions/" + OLD_ID
LIST_URL = "https://api.ngrok.com/tunnel_sessions"


def test_get_session(rsps, make_client):
    rsps.get(SESSION_URL, json=make_session())
    assert get_session(make_client(), OLD_ID) == make_session()


def test_get_session_404_is_none(rsps, make_client):
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    assert get_session(make_client(), OLD_ID) is None
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("body", ["", "[]", "{}", '{"msg": "no id"}'])
def test_get_session_200_without_a_session_is_an_error_not_absence(rsps, make_client, body):
    # A 200 that carries no session must not read as "the session does not exist".
    rsps.get(SESSION_URL, status=200, body=body, content_type="application/json")
    with pytest.raises(NgrokError) as info:
        get_session(make_client(), OLD_ID)
    assert "not a tunnel session" in info.value.message


@pytest.mark.parametrize("status", [400, 401, 403, 500])
def test_get_session_other_errors_raise(rsps, make_client, status):
    rsps.get(SESSION_URL, status=status, json=ngrok_error(status, "no"))
    with pytest.raises(NgrokError) as info:
        get_session(make_client(retries=0), OLD_ID)
    assert info.value.status_code == status


@pytest.mark.parametrize("cel_filter, expected_query", [
    (None, {"limit": ["100"]}),
    ("", {"limit": ["100"]}),
    ('obj.os == "linux"', {"limit": ["100"], "filter": ['obj.os == "linux"']}),
])
def test_list_sessions_query(rsps, make_client, cel_filter, expected_query):
    sessions = [make_session("ts_%d" % i) for i in range(3)]
    rsps.get(LIST_URL, json={"tunnel_sessions": sessions, "uri": LIST_URL, "next_page_uri": None})
    assert list_sessions(make_client(), cel_filter) == sessions
    assert parse_qs(urlsplit(rsps.calls[0].request.url).query) == expected_query


# -- explain() ---------------------------------------------------------------------------------------------

def err(status=None, code=None, msg="Something", outcome="failed", attempts=1, message="transport broke",
        from_ngrok=True):
    error = NgrokError(message, status_code=status, error_code=code, api_msg=msg if status else None,
                       operation_id="op_1" if status else None, outcome=outcome, attempts=attempts)
    error.from_ngrok = from_ngrok and status is not None
    return error


@pytest.mark.parametrize("action, error, starts, hint", [
    ("restart", err(401, "ERR_NGROK_203", "The API key is invalid"),
     "Could not restart tunnel session ts_abc: HTTP 401 ERR_NGROK_203: The API key is invalid (operation ID op_1). ",
     "ngrok did not accept the API key: check api_key or NGROK_API_KEY"),
    ("stop", err(400, "ERR_NGROK_206", "authtoken"), "Could not stop tunnel session ts_abc: HTTP 400 ERR_NGROK_206",
     "ngrok did not accept the API key"),
    ("update", err(401, None, "Unauthorized"), "Could not update tunnel session ts_abc: HTTP 401: Unauthorized",
     "ngrok did not accept the API key"),
    ("restart", err(403, "ERR_NGROK_204", "Not allowed"), "Could not restart tunnel session ts_abc: HTTP 403",
     "The API key was accepted but its account may not do this"),
    ("list", err(400, "ERR_NGROK_220", "IP restricted"), "Could not list tunnel sessions: HTTP 400 ERR_NGROK_220",
     "The API key was accepted but its account may not do this"),
    ("list", err(400, "ERR_NGROK_250", "Invalid CEL query"),
     "Could not list tunnel sessions: HTTP 400 ERR_NGROK_250: Invalid CEL query (operation ID op_1). ",
     "The filter is not a valid CEL expression for ngrok"),
    ("restart", err(404, None, "Resource not found"),
     "Could not restart tunnel session ts_abc: HTTP 404: Resource not found (operation ID op_1). ",
     "The session does not exist (any more): a tunnel session ID changes every time its agent restarts"),
    ("get", err(404, None, "Resource not found"), "Could not get tunnel session ts_abc: HTTP 404",
     "The session does not exist (any more)"),
    ("restart", err(400, "ERR_NGROK_804", "not supported"), "Could not restart tunnel session ts_abc: HTTP 400 ERR_NGROK_804",
     "This agent does not support a remote restart. If it runs on Windows: ngrok cannot restart Windows agents"),
    ("stop", err(400, "ERR_NGROK_805", "not supported"), "Could not stop tunnel session ts_abc",
     "This agent does not support a remote stop."),
    ("update", err(400, "ERR_NGROK_806", "not supported"), "Could not update tunnel session ts_abc",
     "This agent does not support a remote update."),
    ("restart", err(500, "ERR_NGROK_808", "failed to restart"), "Could not restart tunnel session ts_abc",
     "The agent got the command but failed to restart; look at the agent's log on its host."),
    ("stop", err(500, "ERR_NGROK_807", "failed to stop"), "Could not stop tunnel session ts_abc",
     "The agent got the command but failed to stop"),
    ("update", err(500, "ERR_NGROK_809", "failed to update"), "Could not update tunnel session ts_abc",
     "The agent got the command but failed to update"),
    ("restart", err(400, "ERR_NGROK_1122", "ssh"), "Could not restart tunnel session ts_abc",
     "This is an SSH tunnel session: SSH sessions cannot be restarted or updated remotely."),
    ("update", err(400, "ERR_NGROK_1121", "ssh"), "Could not update tunnel session ts_abc",
     "This is an SSH tunnel session"),
    ("restart", err(500, None, "Internal"), "Could not restart tunnel session ts_abc: HTTP 500: Internal",
     "ngrok had a server error; try again later."),
    ("list", err(503, None, "Unavailable"), "Could not list tunnel sessions: HTTP 503", "ngrok had a server error"),
    ("get", err(502, "ERR_NGROK_810", "network"), "Could not get tunnel session ts_abc: HTTP 502 ERR_NGROK_810",
     "ngrok had a server error"),
    ("list", err(502, None, "Bad Gateway (the response is not an ngrok error: '<html>')", from_ngrok=False),
     "Could not list tunnel sessions: HTTP 502",
     "The error came from something between this machine and ngrok (a proxy, a load balancer, a CDN); try again"),
    ("restart", err(501, None, "Not Implemented", from_ngrok=False), "Could not restart tunnel session ts_abc: HTTP 501",
     "The server (ngrok, or a proxy in between) does not support this request; check api_url."),
])
def test_explain_hints(action, error, starts, hint):
    text = explain(action, None if action == "list" else "ts_abc", error)
    assert text.startswith(starts)
    assert hint in text
    assert text.endswith(".")
    assert ".." not in text


def test_explain_rate_limited():
    error = err(429, "ERR_NGROK_226", "Too many requests", attempts=7)
    error.rate_limit_waited = 118.04
    text = explain("stop", "ts_abc", error)
    assert text == ("Could not stop tunnel session ts_abc: HTTP 429 ERR_NGROK_226: Too many requests (operation ID op_1). "
                    "ngrok's rate limit (by default 120 requests per rolling 60 seconds per account) was still exceeded "
                    "after waiting 118 seconds over 7 attempts. Lower forks or use serial, or raise rate_limit_timeout.")


def test_explain_rate_limited_by_code_only():
    error = err(400, "ERR_NGROK_226", "Too many requests", attempts=1)
    assert "rate limit" in explain("list", None, error)


@pytest.mark.parametrize("action, done, check", [
    ("restart", "restarted", "check with community.ngrok.ngrok_tunnel_session_info before sending it again "
                             "(after a restart the old session ID is gone)"),
    ("stop", "stopped", "check with community.ngrok.ngrok_tunnel_session_info before sending it again "
                        "(after a stop the old session ID is gone)"),
    ("update", "updated", "an update leaves the session in place, and the agent runs the new version only once "
                          "restarted, so reading cannot tell; sending it again is safe, as ngrok refuses an update "
                          "while the agent is updating or waiting for its restart"),
])
@pytest.mark.parametrize("error, described", [
    (err(400, "ERR_NGROK_810", "networking error", outcome="unknown"),
     "HTTP 400 ERR_NGROK_810: networking error (operation ID op_1)"),
    (err(502, None, "Bad Gateway", outcome="unknown"), "HTTP 502: Bad Gateway (operation ID op_1)"),
    (err(None, outcome="unknown", message="No answer from ngrok for POST /x: no response within 30 seconds (timeout)"),
     "No answer from ngrok for POST /x: no response within 30 seconds (timeout)"),
])
def test_explain_unknown_outcome(action, done, check, error, described):
    text = explain(action, "ts_abc", error)
    assert text == ("The %s request for tunnel session ts_abc may or may not have reached ngrok: %s. It was not sent "
                    "again, so the agent may or may not have %s; %s." % (action, described, done, check))


def test_explain_unknown_outcome_after_re_sends():
    text = explain("stop", "ts_abc", err(500, None, "Internal", outcome="unknown"), sent=3)
    assert text == ("The stop request for tunnel session ts_abc may or may not have reached ngrok: HTTP 500: Internal "
                    "(operation ID op_1). It was sent 3 times in all (sent again only after a lost answer while the "
                    "session stayed connected), and not again, so the agent may or may not have stopped; check with "
                    "community.ngrok.ngrok_tunnel_session_info before sending it again (after a stop the old session "
                    "ID is gone).")


@pytest.mark.parametrize("session, expected", [
    ({"started_at": "2025-09-04T10:15:02Z"}, 1756980902.0),
    ({"started_at": "2025-09-04T12:15:02+02:00"}, 1756980902.0),
    ({"started_at": "2025-09-04T10:15:02.500000Z"}, 1756980902.5),
    ({"started_at": "2025-09-04T10:15:02"}, 1756980902.0),  # no offset: UTC, as ngrok always means
    ({"started_at": "yesterday"}, float("-inf")),
    ({"started_at": ""}, float("-inf")),
    ({"started_at": None}, float("-inf")),
    ({"started_at": 1756980902}, float("-inf")),
    ({}, float("-inf")),
    ("not a session", float("-inf")),
])
def test_started_at_key(session, expected):
    assert started_at_key(session) == expected


def test_started_at_key_sorts_newest_first_whatever_the_text():
    # "+02:00" sorts before "Z" as text, but 11:00+02:00 is older than 10:00Z
    sessions = [{"id": "a", "started_at": "2025-09-04T11:00:00+02:00"}, {"id": "b", "started_at": "2025-09-04T10:00:00Z"},
                {"id": "c"}]
    assert [s["id"] for s in sorted(sessions, key=started_at_key, reverse=True)] == ["b", "a", "c"]


@pytest.mark.parametrize("error", [err(400, "ERR_NGROK_999", "Weird"), err(409, None, "Conflict")])
def test_explain_without_hint(error):
    assert explain("restart", "ts_abc", error) == (
        "Could not restart tunnel session ts_abc: %s." % error.describe())


def test_explain_transport_error():
    error = err(None, message="Could not connect to https://api.ngrok.com: [Errno 111] Connection refused")
    assert explain("get", "ts_abc", error) == (
        "Could not get tunnel session ts_abc: Could not connect to https://api.ngrok.com: [Errno 111] Connection "
        "refused.")


def test_explain_unsupported_code_is_action_specific():
    # ERR_NGROK_804 (restart not supported) sent to a stop is not explained as "does not support a remote stop"
    text = explain("stop", "ts_abc", err(400, "ERR_NGROK_804", "restart not supported"))
    assert "does not support" not in text


@pytest.mark.parametrize("body, content_type", [
    ("<html><body>404 Not Found</body></html>", "text/html"),
    ("", "text/plain"),
    ('{"error": "not found"}', "application/json"),
])
def test_get_session_404_from_a_proxy_is_not_absence(rsps, make_client, body, content_type):
    # Only ngrok's own error JSON says a session does not exist; a proxy's 404 must not be read as
    # "gone" (that would turn a lost restart answer into a false success).
    rsps.get(SESSION_URL, status=404, body=body, content_type=content_type)
    with pytest.raises(NgrokError) as info:
        get_session(make_client(), OLD_ID)
    assert info.value.status_code == 404
    assert info.value.from_ngrok is False
