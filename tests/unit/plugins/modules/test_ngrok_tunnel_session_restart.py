# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import same_agent_filter
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_restart as restart_module
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_stop as stop_module
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_update as update_module
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    API_KEY,
    NEW_ID,
    OLD_ID,
    OTHER_ID,
    SERVER_DATE,
    SERVER_DATE_RFC3339,
    make_session,
    ngrok_error,
    run_module_fail,
    run_module_ok,
)

MAIN = restart_module.main
BASE = "https://api.ngrok.com"
SESSION_URL = BASE + "/tunnel_sessions/" + OLD_ID
RESTART_URL = SESSION_URL + "/restart"
LIST_URL = BASE + "/tunnel_sessions"

ACTION_MODULES = [
    pytest.param(restart_module.main, "restart", id="restart"),
    pytest.param(stop_module.main, "stop", id="stop"),
    pytest.param(update_module.main, "update", id="update"),
]


def body_of(call):
    body = call.request.body
    return json.loads(body.decode() if isinstance(body, bytes) else body)


def methods(rsps):
    return [(call.request.method, urlsplit(call.request.url).path) for call in rsps.calls]


def list_filter(call):
    query = parse_qs(urlsplit(call.request.url).query)
    assert query["limit"] == ["100"]
    return query["filter"][0]


def list_page(*sessions):
    return {"tunnel_sessions": list(sessions), "uri": LIST_URL, "next_page_uri": None}


def read_timeout():
    """The request went out and no answer came: it may have been acted upon."""
    return requests.exceptions.ReadTimeout("HTTPSConnectionPool(host='api.ngrok.com', port=443): Read timed out.")


def connect_timeout():
    """No connection could be opened: the request was never sent."""
    return requests.exceptions.ConnectTimeout("HTTPSConnectionPool(host='api.ngrok.com', port=443): connect timeout")


# -- the plain action (shared by restart, stop and update) -------------------------------------------------

@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("id_option", ["id", "session_id", "tunnel_session_id"])
def test_action_sends_one_post(rsps, main, action, id_option):
    rsps.post(SESSION_URL + "/" + action, status=204)
    result = run_module_ok(main, {id_option: OLD_ID})
    expected = {"changed": True, "tunnel_session_id": OLD_ID}
    if action != "update":  # restart and stop say how many times they sent their request
        expected["posts_sent"] = 1
    assert result == expected
    assert methods(rsps) == [("POST", "/tunnel_sessions/%s/%s" % (OLD_ID, action))]
    request = rsps.calls[0].request
    assert body_of(rsps.calls[0]) == {}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer " + API_KEY
    assert request.headers["Ngrok-Version"] == "2"


# The full table of refused IDs is test_module.py's; here: each module checks the ID before it sends anything.
BAD_IDS = [
    ("", "got an empty value"),
    ("ts_abc/../../credentials", "it must be 'ts_' followed"),
    ("cr_32ELG6KEtDBUO1jDXSqtOey4NgM", "it has the prefix 'cr_' of another kind of ngrok resource"),
]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("bad_id, message", BAD_IDS)
def test_bad_id_fails_before_any_request(rsps, main, action, bad_id, message):
    rsps.post(re.compile(".*"), status=204)
    rsps.get(re.compile(".*"), json={})
    result = run_module_fail(main, {"id": bad_id})
    assert message in result["msg"]
    assert result["msg"].startswith("id ")
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("status, body, message, hint", [
    (404, ngrok_error(404, "Resource not found"),
     "Could not {action} tunnel session %s: HTTP 404: Resource not found (operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)."
     % OLD_ID, "The session does not exist (any more)"),
    (401, ngrok_error(401, "The API key is invalid", "ERR_NGROK_203"), "HTTP 401 ERR_NGROK_203",
     "ngrok did not accept the API key"),
    (403, ngrok_error(403, "Suspended", "ERR_NGROK_205"), "HTTP 403 ERR_NGROK_205",
     "The API key was accepted but its account may not do this"),
    (400, ngrok_error(400, "Something else", "ERR_NGROK_999"), "HTTP 400 ERR_NGROK_999: Something else", None),
])
def test_api_errors_on_post(rsps, main, action, status, body, message, hint):
    rsps.post(SESSION_URL + "/" + action, status=status, json=body)
    result = run_module_fail(main, {"id": OLD_ID})
    assert message.format(action=action) in result["msg"]
    if hint:
        assert hint in result["msg"]
    assert result["changed"] is False
    assert result["tunnel_session_id"] == OLD_ID
    assert result["api_error"]["status_code"] == status
    assert result["api_error"]["outcome"] == "failed"
    assert result["api_error"]["attempts"] == 1
    assert methods(rsps) == [("POST", "/tunnel_sessions/%s/%s" % (OLD_ID, action))]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_rate_limited_post_is_sent_again_then_succeeds(rsps, client_recorder, main, action):
    rsps.post(SESSION_URL + "/" + action, status=429, json=ngrok_error(429, "Too many", "ERR_NGROK_226"),
              headers={"Retry-After": "2"})
    rsps.post(SESSION_URL + "/" + action, status=204)
    result = run_module_ok(main, {"id": OLD_ID, "retries": 0})
    assert result["changed"] is True
    assert len(rsps.calls) == 2
    assert client_recorder.sleeps == [3.0]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_rate_limit_timeout_exhausted(rsps, client_recorder, main, action):
    rsps.post(SESSION_URL + "/" + action, status=429, json=ngrok_error(429, "Too many", "ERR_NGROK_226"))
    result = run_module_fail(main, {"id": OLD_ID, "rate_limit_timeout": 5})
    assert client_recorder.sleeps == [1.0, 2.0]
    assert result["api_error"]["attempts"] == 3
    assert "was still exceeded after waiting 3 seconds over 3 attempts" in result["msg"]
    assert result["changed"] is False


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_a_request_never_sent_is_sent_again(rsps, client_recorder, main, action):
    rsps.post(SESSION_URL + "/" + action, body=connect_timeout())
    rsps.post(SESSION_URL + "/" + action, status=204)
    result = run_module_ok(main, {"id": OLD_ID})
    assert result["changed"] is True
    assert methods(rsps) == [("POST", "/tunnel_sessions/%s/%s" % (OLD_ID, action))] * 2
    assert client_recorder.sleeps == [1.0]


@pytest.fixture
def warnings(monkeypatch):
    """Warnings given through AnsibleModule.warn()."""
    seen = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, msg: seen.append(msg))
    return seen


def connection_dropped():
    """The request went out and the connection closed before any answer: it may have been acted upon."""
    return requests.exceptions.ConnectionError(
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))")


def posts(rsps):
    return [call for call in rsps.calls if call.request.method == "POST"]


# -- a lost answer is resolved by reading the session; still connected: sent again, within retries -----------------

LOST_ANSWERS = [
    pytest.param(dict(status=503, json=ngrok_error(503, "Service Unavailable")), "HTTP 503: Service Unavailable", id="503"),
    pytest.param(dict(status=500, json=ngrok_error(500, "Internal Server Error")), "HTTP 500: Internal Server Error",
                 id="500"),
    pytest.param(dict(status=502, json=ngrok_error(502, "Bad Gateway")), "HTTP 502: Bad Gateway", id="502"),
    pytest.param(dict(status=400, json=ngrok_error(400, "networking error", "ERR_NGROK_810")),
                 "HTTP 400 ERR_NGROK_810: networking error", id="ERR_NGROK_810"),
    pytest.param(dict(body=read_timeout()), "no response within 30 seconds (timeout)", id="read-timeout"),
    pytest.param(dict(body=connection_dropped()), "the connection was dropped", id="dropped"),
]
STILL_CONNECTED = ["still connected after 1 seconds", "still connected after 3 seconds",
                   "still connected after 7 seconds"]


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
@pytest.mark.parametrize("lost, described", LOST_ANSWERS)
def test_lost_answer_session_still_connected_is_sent_again(rsps, fake_time, client_recorder, warnings, main, action,
                                                           lost, described):
    post_path = "/tunnel_sessions/%s/%s" % (OLD_ID, action)
    rsps.post(SESSION_URL + "/" + action, **lost)
    rsps.post(SESSION_URL + "/" + action, status=204)
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_ok(main, {"id": OLD_ID})
    # exactly two POSTs, with the three reads (1, 3 and 7 seconds after the first) between them
    assert methods(rsps) == [("POST", post_path)] + [("GET", "/tunnel_sessions/" + OLD_ID)] * 3 + [("POST", post_path)]
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert client_recorder.sleeps == []  # the re-send is not a client retry: no backoff on top of the reads
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "posts_sent": 2}
    assert len(warnings) == 1
    assert warnings[0].startswith("The answer to the %s request for tunnel session %s was lost (" % (action, OLD_ID))
    assert described in warnings[0]
    assert warnings[0].endswith(", and the session was still connected 7 seconds later, so the %s had not happened: "
                                "the request was sent again, 2 times in all, and ngrok accepted the last one." % action)


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
@pytest.mark.parametrize("lost, described", LOST_ANSWERS[:1] + LOST_ANSWERS[-2:])
def test_lost_answer_with_retries_0_is_never_sent_again(rsps, fake_time, main, action, lost, described):
    rsps.post(SESSION_URL + "/" + action, **lost)
    rsps.post(SESSION_URL + "/" + action, status=204)
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_fail(main, {"id": OLD_ID, "retries": 0})
    assert methods(rsps) == [("POST", "/tunnel_sessions/%s/%s" % (OLD_ID, action))] + [("GET", "/tunnel_sessions/" + OLD_ID)] * 3
    assert fake_time.sleeps == [1.0, 2.0, 4.0]
    assert result["unknown_outcome_checks"] == STILL_CONNECTED
    assert result["msg"].startswith("The %s request for tunnel session %s may or may not have reached ngrok: " % (action, OLD_ID))
    assert described in result["msg"]
    assert " It was not sent again, so the agent may or may not have " in result["msg"]
    assert result["msg"].endswith(" The session was still connected, but no retries were left (retries=0). Read again "
                                  "since: still connected after 1 seconds; still connected after 3 seconds; still "
                                  "connected after 7 seconds.")
    assert result["api_error"]["outcome"] == "unknown"
    assert result["api_error"]["attempts"] == 1
    assert result["changed"] is False
    assert result["posts_sent"] == 1
    assert "outcome_resolved" not in result


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
@pytest.mark.parametrize("retries", [1, 2, 5])
def test_persistent_lost_answer_fails_after_1_plus_retries_posts(rsps, fake_time, main, action, retries):
    rsps.post(SESSION_URL + "/" + action, status=500, json=ngrok_error(500, "Internal Server Error", operation_id="op_x"))
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_fail(main, {"id": OLD_ID, "retries": retries})
    post = ("POST", "/tunnel_sessions/%s/%s" % (OLD_ID, action))
    assert methods(rsps) == ([post] + [("GET", "/tunnel_sessions/" + OLD_ID)] * 3) * (1 + retries)
    assert fake_time.sleeps == [1.0, 2.0, 4.0] * (1 + retries)
    sent_again = ["sent again (request %d): HTTP 500: Internal Server Error (operation ID op_x)" % n
                  for n in range(2, 2 + retries)]
    checks = STILL_CONNECTED + [item for resend in sent_again for item in [resend] + STILL_CONNECTED]
    assert result["unknown_outcome_checks"] == checks
    assert result["msg"] == (
        "The %s request for tunnel session %s may or may not have reached ngrok: HTTP 500: Internal Server Error "
        "(operation ID op_x). It was sent %d times in all (sent again only after a lost answer while the session "
        "stayed connected), and not again, so the agent may or may not have %s; check with "
        "community.ngrok.ngrok_tunnel_session_info before sending it again (after a %s the old session ID is gone). "
        "The session was still connected, but no retries were left (retries=%d). Read again since: %s."
        % (action, OLD_ID, 1 + retries, "restarted" if action == "restart" else "stopped", action, retries,
           "; ".join(checks)))
    assert result["posts_sent"] == 1 + retries
    assert result["api_error"] == {"status_code": 500, "error_code": None, "msg": "Internal Server Error",
                                   "operation_id": "op_x", "outcome": "unknown", "attempts": 1}
    assert result["changed"] is False


def test_the_default_retries_allow_5_re_sends(rsps, fake_time):
    rsps.post(RESTART_URL, status=502, json=ngrok_error(502, "Bad Gateway"))
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_fail(MAIN, {"id": OLD_ID})
    assert len(posts(rsps)) == 6
    assert result["posts_sent"] == 6
    assert "(retries=5)" in result["msg"]


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
def test_lost_answer_and_reading_fails(rsps, fake_time, main, action):
    rsps.post(SESSION_URL + "/" + action, status=504, json=ngrok_error(504, "Gateway Timeout"))
    rsps.post(SESSION_URL + "/" + action, status=204)
    rsps.get(SESSION_URL, status=401, json=ngrok_error(401, "bad key", "ERR_NGROK_203", "op_get"))
    result = run_module_fail(main, {"id": OLD_ID})
    assert len(rsps.calls) == 2
    assert len(posts(rsps)) == 1  # a read that fails is never a reason to send the POST again
    assert fake_time.sleeps == [1.0]
    assert result["unknown_outcome_checks"] == ["reading it failed (HTTP 401 ERR_NGROK_203: bad key (operation ID op_get))"]
    assert result["api_error"]["status_code"] == 504
    assert result["api_error"]["outcome"] == "unknown"
    assert " It was not sent again, " in result["msg"]
    assert "no retries were left" not in result["msg"]
    assert result["posts_sent"] == 1


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
def test_reading_fails_after_a_re_send(rsps, fake_time, main, action):
    rsps.post(SESSION_URL + "/" + action, status=500, json=ngrok_error(500, "Internal Server Error", operation_id="op_1"))
    rsps.post(SESSION_URL + "/" + action, status=503, json=ngrok_error(503, "Service Unavailable", operation_id="op_2"))
    rsps.post(SESSION_URL + "/" + action, status=204)
    for dummy in range(3):
        rsps.get(SESSION_URL, json=make_session())
    rsps.get(SESSION_URL, status=401, json=ngrok_error(401, "bad key", "ERR_NGROK_203", "op_get"))
    result = run_module_fail(main, {"id": OLD_ID})
    assert len(posts(rsps)) == 2
    assert len(rsps.calls) == 6
    assert result["unknown_outcome_checks"] == STILL_CONNECTED + [
        "sent again (request 2): HTTP 503: Service Unavailable (operation ID op_2)",
        "reading it failed (HTTP 401 ERR_NGROK_203: bad key (operation ID op_get))"]
    assert " It was sent 2 times in all " in result["msg"]
    assert result["api_error"]["operation_id"] == "op_2"
    assert result["posts_sent"] == 2


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
def test_re_send_whose_answer_is_lost_then_session_gone(rsps, fake_time, warnings, main, action):
    rsps.post(SESSION_URL + "/" + action, status=500, json=ngrok_error(500, "Internal Server Error"))
    rsps.post(SESSION_URL + "/" + action, body=read_timeout())
    rsps.post(SESSION_URL + "/" + action, status=204)
    for dummy in range(3):
        rsps.get(SESSION_URL, json=make_session())
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    result = run_module_ok(main, {"id": OLD_ID})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "outcome_resolved": True, "posts_sent": 2}
    assert [c.request.method for c in rsps.calls] == ["POST", "GET", "GET", "GET", "POST", "GET"]
    assert fake_time.sleeps == [1.0, 2.0, 4.0, 1.0]
    assert warnings == [
        "The answer to the %s request for tunnel session %s was lost (No answer from ngrok for POST "
        "/tunnel_sessions/%s/%s: no response within 30 seconds (timeout)). It had been sent 2 times (each earlier "
        "answer was lost too, and the session was still connected afterwards); it was not sent again; the session was "
        "gone 1 seconds later, so the %s took effect." % (action, OLD_ID, OLD_ID, action, action)]


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
def test_re_send_refused_leaves_the_outcome_unknown(rsps, fake_time, main, action):
    # the session vanished between the last read and the re-send: the first request may have acted late
    rsps.post(SESSION_URL + "/" + action, status=502, json=ngrok_error(502, "Bad Gateway", operation_id="op_1"))
    rsps.post(SESSION_URL + "/" + action, status=404, json=ngrok_error(404, "Resource not found", operation_id="op_2"))
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_fail(main, {"id": OLD_ID})
    assert len(posts(rsps)) == 2
    assert result["msg"].startswith("Could not %s tunnel session %s: HTTP 404: Resource not found (operation ID op_2)."
                                    % (action, OLD_ID))
    assert (" That was request 2, sent again because the answer to the earlier one was lost while the session stayed "
            "connected; the earlier one may still take effect, so the outcome is unknown. Read again since: still "
            "connected after 1 seconds; still connected after 3 seconds; still connected after 7 seconds; sent again "
            "(request 2): HTTP 404: Resource not found (operation ID op_2).") in result["msg"]
    assert result["api_error"]["status_code"] == 404
    assert result["api_error"]["outcome"] == "unknown"
    assert result["posts_sent"] == 2
    assert result["changed"] is False


@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
def test_re_send_after_rate_limiting_counts_only_the_module_s_sends(rsps, fake_time, client_recorder, main, action):
    rsps.post(SESSION_URL + "/" + action, status=503, json=ngrok_error(503, "Service Unavailable"))
    rsps.post(SESSION_URL + "/" + action, status=429, json=ngrok_error(429, "Too many", "ERR_NGROK_226"),
              headers={"Retry-After": "2"})
    rsps.post(SESSION_URL + "/" + action, status=204)
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_ok(main, {"id": OLD_ID, "retries": 1})
    assert len(posts(rsps)) == 3  # the re-send was rate limited once: waited out by the client, not a re-send
    assert client_recorder.sleeps == [3.0]
    assert result["posts_sent"] == 2


# Regression: NgrokModule had no warn() (AttributeError instead of a warning), fixed in 2bdf252.
@pytest.mark.parametrize("main, action", ACTION_MODULES[:2])
@pytest.mark.parametrize("present_reads, after", [(0, "1"), (1, "3"), (2, "7")])
def test_lost_answer_session_gone_means_it_happened(rsps, fake_time, warnings, main, action, present_reads, after):
    rsps.post(SESSION_URL + "/" + action, status=502, json=ngrok_error(502, "Bad Gateway"))
    for dummy in range(present_reads):
        rsps.get(SESSION_URL, json=make_session())
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    result = run_module_ok(main, {"id": OLD_ID})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "outcome_resolved": True, "posts_sent": 1}
    assert len([c for c in rsps.calls if c.request.method == "POST"]) == 1
    assert len(rsps.calls) == 1 + present_reads + 1
    assert fake_time.sleeps == [1.0, 2.0, 4.0][:present_reads + 1]
    assert warnings == [
        "The answer to the %s request for tunnel session %s was lost (HTTP 502: Bad Gateway (operation ID "
        "op_32ELGiMyruN4J6Yn0fduKjIT6ug)). The request was not sent again; the session was gone %s seconds later, so "
        "the %s took effect." % (action, OLD_ID, after, action)]
    assert API_KEY not in " ".join(warnings)


# Found in review: the key (or a piece of it) echoed in error_code, in the operation ID header, or in a
# warning (which ansible-core does not mask at all) was shown as it came.
@pytest.mark.parametrize("status, echo", [
    (502, API_KEY),  # the warning of a resolved lost answer
    (400, API_KEY[:16]),  # a plain failure: msg and api_error
])
def test_the_key_echoed_in_error_code_or_operation_id_is_masked(rsps, fake_time, warnings, status, echo):
    body = {"status_code": status, "msg": "bad", "error_code": echo}
    rsps.post(RESTART_URL, status=status, json=body, headers={"ngrok-operation-id": "Bearer " + echo})
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    args = {"id": OLD_ID}
    if status == 502:
        run_module_ok(MAIN, args)
        shown = " ".join(warnings)
        assert len(warnings) == 1 and "HTTP 502 ********: bad (operation ID Bearer ********)" in shown
    else:
        result = run_module_fail(MAIN, args)  # asserts that no part of the key is in the result
        api_error = result["api_error"]
        assert (api_error["error_code"], api_error["operation_id"]) == ("********", "Bearer ********")
        shown = result["msg"]
    assert echo not in shown and echo[:8] not in shown


def test_an_operation_id_header_with_the_key_is_masked_by_the_module_itself(rsps):
    # unusable_answer() quotes the operation ID header as it came: only NgrokModule.fail() masks it
    rsps.get(SESSION_URL, status=200, body="not json", headers={"ngrok-operation-id": "op_" + API_KEY})
    result = run_module_fail(MAIN, {"id": OLD_ID, "_ansible_check_mode": True})
    assert result["api_error"]["operation_id"] == "op_********"
    assert result["api_error"]["status_code"] == 200


def test_a_session_with_a_deeply_nested_field_still_fails_cleanly(rsps):
    # 700 levels: json.loads reads it, but code that recurses once per level (as _scrubbed did) crashes
    session = json.dumps(make_session(os="windows"))
    rsps.get(SESSION_URL, body=session[:-1] + ', "extra": ' + "[" * 700 + '"x"' + "]" * 700 + "}")
    result = run_module_fail(MAIN, {"id": OLD_ID, "_ansible_check_mode": True})
    assert result["msg"].startswith("Cannot restart tunnel session %s: its agent runs on Windows." % OLD_ID)


def test_lost_answer_resolved_then_wait_follows_the_agent(rsps, fake_time, warnings):
    rsps.get(SESSION_URL, json=make_session())
    rsps.post(RESTART_URL, body=read_timeout())
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    rsps.get(LIST_URL, json=list_page(make_session(NEW_ID)))
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert result["outcome_resolved"] is True
    assert result["new_tunnel_session"]["id"] == NEW_ID
    # no Date header from a lost answer: the old session's start time bounds the search
    assert 'obj.started_at >= timestamp("2025-09-04T10:11:27Z")' in list_filter(rsps.calls[3])
    assert len(warnings) == 1


def test_lost_answer_sent_again_then_wait_follows_the_agent(rsps, fake_time, warnings):
    rsps.get(SESSION_URL, json=make_session())
    rsps.post(RESTART_URL, status=503, json=ngrok_error(503, "Service Unavailable"))
    rsps.post(RESTART_URL, status=204, headers={"Date": SERVER_DATE})
    rsps.get(LIST_URL, json=list_page(make_session(NEW_ID, started_at="2025-09-04T10:15:02Z")))
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert methods(rsps) == [("GET", "/tunnel_sessions/" + OLD_ID), ("POST", "/tunnel_sessions/%s/restart" % OLD_ID)] + \
        [("GET", "/tunnel_sessions/" + OLD_ID)] * 3 + [("POST", "/tunnel_sessions/%s/restart" % OLD_ID),
                                                       ("GET", "/tunnel_sessions")]
    assert result["posts_sent"] == 2
    assert result["new_tunnel_session"]["id"] == NEW_ID
    # the re-send's Date header bounds the search
    assert 'obj.started_at >= timestamp("%s")' % SERVER_DATE_RFC3339 in list_filter(rsps.calls[-1])
    assert len(warnings) == 1


@pytest.mark.parametrize("lost, described", LOST_ANSWERS)
@pytest.mark.parametrize("retries", [0, 5])
def test_update_lost_answer_is_not_resolved_by_reading_nor_sent_again(rsps, fake_time, client_recorder, lost,
                                                                      described, retries):
    rsps.post(SESSION_URL + "/update", **lost)
    rsps.post(SESSION_URL + "/update", status=204)
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_fail(update_module.main, {"id": OLD_ID, "retries": retries})
    assert methods(rsps) == [("POST", "/tunnel_sessions/%s/update" % OLD_ID)]
    assert fake_time.sleeps == []
    assert client_recorder.sleeps == []
    assert "unknown_outcome_checks" not in result
    assert "posts_sent" not in result
    assert described in result["msg"]
    assert " It was not sent again, " in result["msg"]
    assert "an update leaves the session in place" in result["msg"]
    assert result["api_error"]["outcome"] == "unknown"


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_failed_outcome_is_not_resolved_by_reading(rsps, fake_time, main, action):
    rsps.post(SESSION_URL + "/" + action, status=400, json=ngrok_error(400, "no", "ERR_NGROK_999"))
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    run_module_fail(main, {"id": OLD_ID})
    assert len(rsps.calls) == 1
    assert fake_time.sleeps == []


# -- check mode -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_check_mode_reads_and_never_posts(rsps, main, action):
    rsps.get(SESSION_URL, json=make_session())
    rsps.post(re.compile(".*"), status=204)
    result = run_module_ok(main, {"id": OLD_ID, "_ansible_check_mode": True})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "tunnel_session": make_session()}
    assert methods(rsps) == [("GET", "/tunnel_sessions/" + OLD_ID)]


OP_ID = "op_32ELGiMyruN4J6Yn0fduKjIT6ug"  # ngrok_error's default


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_check_mode_missing_session_fails(rsps, main, action):
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    rsps.post(re.compile(".*"), status=204)
    result = run_module_fail(main, {"id": OLD_ID, "_ansible_check_mode": True})
    # like every failure on an API request: the session, the HTTP status and the operation ID, also as api_error
    assert result["msg"] == (
        "Could not get tunnel session %s: HTTP 404: Resource not found (operation ID %s). The session does not "
        "exist (any more): a tunnel session ID changes every time its agent restarts or reconnects. Look the current "
        "ID up with community.ngrok.ngrok_tunnel_session_info. The %s request was not sent." % (OLD_ID, OP_ID, action))
    assert result["changed"] is False
    assert result["api_error"] == {"status_code": 404, "error_code": None, "msg": "Resource not found",
                                   "operation_id": OP_ID, "outcome": "failed", "attempts": 1}
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_check_mode_read_error(rsps, main, action):
    rsps.get(SESSION_URL, status=401, json=ngrok_error(401, "bad key", "ERR_NGROK_203"))
    result = run_module_fail(main, {"id": OLD_ID, "_ansible_check_mode": True})
    # the failed request is the read, so the message says so, and that the action was not sent
    assert result["msg"].startswith("Could not get tunnel session %s: HTTP 401 ERR_NGROK_203" % OLD_ID)
    assert result["msg"].endswith("The %s request was not sent." % action)
    assert result["api_error"]["status_code"] == 401
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("main, action, os_name, transport, refused", [
    (restart_module.main, "restart", "windows", "ngrok/2", "its agent runs on Windows"),
    (restart_module.main, "restart", "Windows", "ngrok/2", "its agent runs on Windows"),
    (restart_module.main, "restart", "linux", "ssh", "it is an SSH tunnel session"),
    (restart_module.main, "restart", "linux", "ngrok/2", None),
    (restart_module.main, "restart", "darwin", "ngrok/v2", None),
    (stop_module.main, "stop", "windows", "ngrok/2", None),
    (stop_module.main, "stop", "linux", "ssh", None),
    (update_module.main, "update", "windows", "ngrok/2", None),
    (update_module.main, "update", "linux", "ssh", "it is an SSH tunnel session"),
])
def test_check_mode_predicts_refusals(rsps, main, action, os_name, transport, refused):
    session = make_session(os=os_name, transport=transport)
    rsps.get(SESSION_URL, json=session)
    rsps.post(re.compile(".*"), status=204)
    if refused:
        result = run_module_fail(main, {"id": OLD_ID, "_ansible_check_mode": True})
        assert result["msg"].startswith("Cannot %s tunnel session %s: %s" % (action, OLD_ID, refused))
        assert result["tunnel_session"] == session
        assert result["changed"] is False
    else:
        result = run_module_ok(main, {"id": OLD_ID, "_ansible_check_mode": True})
        assert result["changed"] is True
    assert len(rsps.calls) == 1


def test_check_mode_windows_message_points_to_stop(rsps):
    rsps.get(SESSION_URL, json=make_session(os="windows"))
    result = run_module_fail(MAIN, {"id": OLD_ID, "_ansible_check_mode": True})
    assert "community.ngrok.ngrok_tunnel_session_stop" in result["msg"]
    assert "service manager" in result["msg"]


# -- restart-specific: hints ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code, hint", [
    ("ERR_NGROK_804", "This agent does not support a remote restart. If it runs on Windows: ngrok cannot restart "
                      "Windows agents remotely"),
    ("ERR_NGROK_808", "The agent got the command but failed to restart; look at the agent's log on its host."),
    ("ERR_NGROK_1122", "This is an SSH tunnel session: SSH sessions cannot be restarted or updated remotely."),
])
def test_restart_error_hints(rsps, code, hint):
    rsps.post(RESTART_URL, status=400, json=ngrok_error(400, "agent said no", code))
    result = run_module_fail(MAIN, {"id": OLD_ID})
    assert result["msg"].startswith("Could not restart tunnel session %s: HTTP 400 %s: agent said no" % (OLD_ID, code))
    assert hint in result["msg"]
    assert result["api_error"]["error_code"] == code


# -- restart with wait -------------------------------------------------------------------------------------------

def _wait_setup(rsps, polls, date=SERVER_DATE, old=None):
    rsps.get(SESSION_URL, json=old or make_session())
    rsps.post(RESTART_URL, status=204, headers={"Date": date} if date else {})
    for sessions in polls:
        rsps.get(LIST_URL, json=list_page(*sessions))


@pytest.mark.parametrize("wait_bounds, message", [
    (dict(wait_timeout=0), "wait_timeout must be between 1 and 3600 seconds; got 0"),
    (dict(wait_timeout=3601), "wait_timeout must be between 1 and 3600 seconds; got 3601"),
    (dict(wait_timeout=-5), "wait_timeout must be between 1 and 3600 seconds; got -5"),
    (dict(wait_interval=0), "wait_interval must be between 1 and 300 seconds; got 0"),
    (dict(wait_interval=301), "wait_interval must be between 1 and 300 seconds; got 301"),
])
def test_wait_bounds_fail_before_any_request(rsps, wait_bounds, message):
    rsps.get(re.compile(".*"), json={})
    rsps.post(re.compile(".*"), status=204)
    result = run_module_fail(MAIN, dict(wait_bounds, id=OLD_ID, wait=True))
    assert result["msg"] == message
    assert len(rsps.calls) == 0


def test_wait_returns_the_new_session(rsps, fake_time):
    new = make_session(NEW_ID, started_at="2025-09-04T10:15:02Z")
    _wait_setup(rsps, [[new]])
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "tunnel_session": make_session(),
                      "new_tunnel_session": new, "posts_sent": 1}
    assert methods(rsps) == [("GET", "/tunnel_sessions/" + OLD_ID), ("POST", "/tunnel_sessions/%s/restart" % OLD_ID),
                             ("GET", "/tunnel_sessions")]
    cel = list_filter(rsps.calls[2])
    assert cel == same_agent_filter(make_session(), SERVER_DATE_RFC3339)
    assert 'obj.credential.id == "cr_32ELG6KEtDBUO1jDXSqtOey4NgM"' in cel
    assert 'obj.ip == "10.110.2.2"' in cel
    assert 'obj.metadata == "web-01"' in cel
    assert 'obj.id != "%s"' % OLD_ID in cel
    assert 'obj.started_at >= timestamp("2025-09-04T10:15:00Z")' in cel
    assert fake_time.sleeps == [1.0]


def test_wait_without_date_header_uses_old_started_at(rsps, fake_time):
    _wait_setup(rsps, [[make_session(NEW_ID)]], date=None)
    run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert 'obj.started_at >= timestamp("2025-09-04T10:11:27Z")' in list_filter(rsps.calls[2])


def test_wait_session_without_metadata_filters_on_empty_metadata(rsps):
    old = make_session(metadata=None)
    _wait_setup(rsps, [[make_session(NEW_ID, metadata=None)]], old=old)
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert 'obj.metadata == ""' in list_filter(rsps.calls[2])
    assert result["new_tunnel_session"]["id"] == NEW_ID


def test_wait_polls_every_interval_until_found(rsps, fake_time):
    _wait_setup(rsps, [[], [], [make_session(NEW_ID)]])
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True, "wait_interval": 7})
    assert result["new_tunnel_session"]["id"] == NEW_ID
    assert fake_time.sleeps == [1.0, 7.0, 7.0]
    assert len(rsps.calls) == 5


@pytest.mark.parametrize("wait_timeout, wait_interval, polls, sleeps", [
    (120, 5, 25, [1.0] + [5.0] * 23 + [4.0]),
    (1, 5, 1, [1.0]),
    (3, 1, 3, [1.0, 1.0, 1.0]),
    (10, 4, 4, [1.0, 4.0, 4.0, 1.0]),
])
def test_wait_timeout_fails_but_keeps_changed(rsps, fake_time, wait_timeout, wait_interval, polls, sleeps):
    _wait_setup(rsps, [[]])
    result = run_module_fail(MAIN, {"id": OLD_ID, "wait": True, "wait_timeout": wait_timeout,
                                    "wait_interval": wait_interval})
    assert result["changed"] is True
    assert result["tunnel_session"] == make_session()
    assert result["msg"] == (
        "The restart of tunnel session %s WAS sent and accepted by ngrok, but the agent did not reconnect within %d "
        "seconds. Looked for a new session with credential cr_32ELG6KEtDBUO1jDXSqtOey4NgM, IP 10.110.2.2 and metadata "
        "'web-01' that started at or after 2025-09-04T10:15:00Z; none appeared. Check the agent on its host."
        % (OLD_ID, wait_timeout))
    assert result["searched_filter"] == same_agent_filter(make_session(), SERVER_DATE_RFC3339)
    posts = [c for c in rsps.calls if c.request.method == "POST"]
    lists = [c for c in rsps.calls if urlsplit(c.request.url).path == "/tunnel_sessions"]
    assert len(posts) == 1
    assert len(lists) == polls
    assert len(rsps.calls) == polls + 2
    assert fake_time.sleeps == sleeps
    assert sum(fake_time.sleeps) == pytest.approx(wait_timeout)


def test_wait_poll_error_fails_saying_the_restart_was_sent(rsps, fake_time):
    rsps.get(SESSION_URL, json=make_session())
    rsps.post(RESTART_URL, status=204, headers={"Date": SERVER_DATE})
    rsps.get(LIST_URL, status=400, json=ngrok_error(400, "Invalid CEL query", "ERR_NGROK_250", "op_list"))
    result = run_module_fail(MAIN, {"id": OLD_ID, "wait": True})
    assert result["msg"] == ("The restart of tunnel session %s WAS sent and took effect, but looking for the reconnected "
                             "agent failed: HTTP 400 ERR_NGROK_250: Invalid CEL query (operation ID op_list)" % OLD_ID)
    assert result["changed"] is True
    assert result["api_error"]["error_code"] == "ERR_NGROK_250"


# Regression: NgrokModule had no warn() (AttributeError), fixed in 2bdf252.
@pytest.mark.parametrize("listed", [
    pytest.param([make_session(NEW_ID, started_at="2025-09-04T10:15:09Z"),
                  make_session(OTHER_ID, started_at="2025-09-04T10:15:01Z")], id="newest-first"),
    pytest.param([make_session(OTHER_ID, started_at="2025-09-04T10:15:01Z"),
                  make_session(NEW_ID, started_at="2025-09-04T10:15:09Z")], id="oldest-first"),
    # as text "12:15:01+02:00" sorts after "10:15:09Z", but it is the older moment
    pytest.param([make_session(OTHER_ID, started_at="2025-09-04T12:15:01+02:00"),
                  make_session(NEW_ID, started_at="2025-09-04T10:15:09Z")], id="offsets"),
    pytest.param([make_session(OTHER_ID, started_at=None), make_session(NEW_ID)], id="one-without-started-at"),
    pytest.param([make_session(OTHER_ID, started_at="2025-09-04T10:15:01Z"), make_session(OTHER_ID[:-1] + "2"),
                  make_session(NEW_ID, started_at="2025-09-04T10:15:09Z")], id="three"),
])
def test_wait_with_several_matches_returns_the_newest_by_started_at(rsps, fake_time, warnings, listed):
    _wait_setup(rsps, [listed])
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert result["new_tunnel_session"]["id"] == NEW_ID
    assert warnings == ["More than one session matches the restarted agent of %s; returning the newest (%s)"
                        % (OLD_ID, NEW_ID)]


def test_wait_with_two_matches_started_the_same_second_keeps_ngrok_s_order(rsps, fake_time, warnings):
    _wait_setup(rsps, [[make_session(NEW_ID), make_session(OTHER_ID)]])
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": True})
    assert result["new_tunnel_session"]["id"] == NEW_ID
    assert result["changed"] is True
    assert warnings == ["More than one session matches the restarted agent of %s; returning the newest (%s)"
                        % (OLD_ID, NEW_ID)]
    assert parse_qs(urlsplit(rsps.calls[2].request.url).query)["limit"] == ["100"]


@pytest.mark.parametrize("session, refused", [
    (make_session(os="windows"), "its agent runs on Windows"),
    (make_session(transport="ssh"), "it is an SSH tunnel session"),
])
def test_wait_refuses_before_posting(rsps, session, refused):
    rsps.get(SESSION_URL, json=session)
    rsps.post(RESTART_URL, status=204)
    result = run_module_fail(MAIN, {"id": OLD_ID, "wait": True})
    assert refused in result["msg"]
    assert methods(rsps) == [("GET", "/tunnel_sessions/" + OLD_ID)]


def test_wait_on_missing_session_never_posts(rsps):
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    rsps.post(RESTART_URL, status=204)
    result = run_module_fail(MAIN, {"id": OLD_ID, "wait": True})
    assert "HTTP 404" in result["msg"] and "does not exist" in result["msg"]
    assert result["msg"].endswith("The restart request was not sent.")
    assert result["api_error"]["status_code"] == 404
    assert len(rsps.calls) == 1


def test_wait_false_ignores_wait_bounds(rsps):
    rsps.post(RESTART_URL, status=204)
    result = run_module_ok(MAIN, {"id": OLD_ID, "wait": False, "wait_timeout": 0, "wait_interval": 0})
    assert result["changed"] is True


# -- the API key never shows -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, setup", [
    pytest.param({}, lambda r: r.post(RESTART_URL, status=401, json=ngrok_error(401, "bad", "ERR_NGROK_203")), id="401"),
    pytest.param({}, lambda r: (r.post(RESTART_URL, body=read_timeout()), r.get(SESSION_URL, json=make_session())),
                 id="timeout"),
    pytest.param({"api_key": API_KEY + "\n"}, lambda r: None, id="bad-key"),
    pytest.param({"api_url": "https://%s@api.ngrok.com" % API_KEY}, lambda r: None, id="key-in-url"),
    pytest.param({"wait": True}, lambda r: (r.get(SESSION_URL, json=make_session()), r.post(RESTART_URL, status=204),
                                            r.get(LIST_URL, json=list_page())), id="wait-timeout"),
])
def test_api_key_never_in_a_failure(rsps, args, setup):
    setup(rsps)
    args = dict(args, id=OLD_ID)
    run_module_fail(MAIN, args)  # run_module_fail scans the whole result for the key


def test_api_key_never_in_a_success(rsps):
    _wait_setup(rsps, [[make_session(NEW_ID)]])
    run_module_ok(MAIN, {"id": OLD_ID, "wait": True})  # scans the result
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + API_KEY
