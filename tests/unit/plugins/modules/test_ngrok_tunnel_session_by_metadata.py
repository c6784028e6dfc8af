# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# restart, stop and update naming their session by its agent's metadata (option metadata, with skip_missing):
# the lookup, what is sent after it, and what is never sent. Each test runs for the three modules.

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_restart as restart_module
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_stop as stop_module
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_update as update_module
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    NEW_ID,
    OLD_ID,
    OTHER_ID,
    SERVER_DATE,
    make_session,
    ngrok_error,
    run_module_fail,
    run_module_ok,
)

LIST_URL = "https://api.ngrok.com/tunnel_sessions"
LIST = ("GET", "/tunnel_sessions")

ACTION_MODULES = [
    pytest.param(restart_module.main, "restart", id="restart"),
    pytest.param(stop_module.main, "stop", id="stop"),
    pytest.param(update_module.main, "update", id="update"),
]


def methods(rsps):
    return [(call.request.method, urlsplit(call.request.url).path) for call in rsps.calls]


def query(call):
    return parse_qs(urlsplit(call.request.url).query)


def page(*sessions):
    return {"tunnel_sessions": list(sessions), "uri": LIST_URL, "next_page_uri": None}


def action_path(action, session_id=OLD_ID):
    return "/tunnel_sessions/%s/%s" % (session_id, action)


@pytest.fixture
def any_post(rsps):
    """Any POST is answered 204: a test then shows that none was sent, not that one failed."""
    rsps.post(re.compile(".*"), status=204)
    return rsps


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_one_match_is_the_session_acted_on(rsps, main, action):
    session = make_session()
    rsps.get(LIST_URL, json=page(session))
    rsps.post(LIST_URL + "/%s/%s" % (OLD_ID, action), status=204)
    result = run_module_ok(main, {"metadata": "web-01"})
    expected = {"changed": True, "tunnel_session_id": OLD_ID, "tunnel_session": session}
    if action != "update":  # restart and stop say how many times they sent their request
        expected["posts_sent"] = 1
    assert result == expected
    assert methods(rsps) == [LIST, ("POST", action_path(action))]
    assert query(rsps.calls[0]) == {"limit": ["100"], "filter": ['obj.metadata == "web-01"']}


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("metadata, cel", [
    ('we"b\\01', 'obj.metadata == "we\\"b\\\\01"'),
    ('x" || true || "', 'obj.metadata == "x\\" || true || \\""'),
    ("\\", 'obj.metadata == "\\\\"'),
    ("kiosk 7 (hall)", 'obj.metadata == "kiosk 7 (hall)"'),
    ("café ☃", 'obj.metadata == "café ☃"'),
])
def test_the_filter_quotes_the_metadata(rsps, main, action, metadata, cel):
    rsps.get(LIST_URL, json=page(make_session(metadata=metadata)))
    rsps.post(LIST_URL + "/%s/%s" % (OLD_ID, action), status=204)
    run_module_ok(main, {"metadata": metadata})
    assert query(rsps.calls[0])["filter"] == [cel]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_no_match_fails_and_sends_nothing(any_post, main, action):
    any_post.get(LIST_URL, json=page())
    result = run_module_fail(main, {"metadata": 'web-"01'})
    assert result["msg"].startswith("No connected agent has metadata 'web-\"01': the %s request was not sent. "
                                    % action)
    assert "skip_missing=true" in result["msg"]
    assert result["changed"] is False
    assert "tunnel_session_id" not in result
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("check_mode", [False, True])
def test_no_match_with_skip_missing_is_ok_unchanged(any_post, main, action, check_mode):
    any_post.get(LIST_URL, json=page())
    result = run_module_ok(main, {"metadata": "web-01", "skip_missing": True, "_ansible_check_mode": check_mode})
    assert result == {
        "changed": False, "tunnel_session_id": None, "tunnel_session": None,
        "msg": "No connected agent has metadata 'web-01': skipped, the %s request was not sent (skip_missing)."
               % action,
    }
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_skip_missing_does_not_skip_a_match(rsps, main, action):
    rsps.get(LIST_URL, json=page(make_session()))
    rsps.post(LIST_URL + "/%s/%s" % (OLD_ID, action), status=204)
    result = run_module_ok(main, {"metadata": "web-01", "skip_missing": True})
    assert result["changed"] is True
    assert methods(rsps) == [LIST, ("POST", action_path(action))]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("skip_missing", [False, True])
def test_several_matches_fail_listing_their_ids_and_send_nothing(any_post, main, action, skip_missing):
    any_post.get(LIST_URL, json=page(make_session(NEW_ID), make_session(OTHER_ID), make_session(OLD_ID)))
    result = run_module_fail(main, {"metadata": "web-01", "skip_missing": skip_missing})
    assert result["msg"] == (
        "3 connected agents have metadata 'web-01' ('%s', '%s', '%s'): the %s request was not sent. Give each agent "
        "its own metadata, or name the session by its id." % (NEW_ID, OTHER_ID, OLD_ID, action))
    assert result["changed"] is False
    assert "tunnel_session_id" not in result
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_a_full_page_of_matches_lists_ten_ids_and_says_or_more(any_post, main, action):
    ids = ["ts_%027d" % n for n in range(100)]
    full = dict(page(*(make_session(i) for i in ids)), next_page_uri=LIST_URL + "?before_id=%s&limit=100" % ids[-1])
    any_post.get(LIST_URL, json=full)
    result = run_module_fail(main, {"metadata": "web-01"})
    assert result["msg"].startswith("100 or more connected agents have metadata 'web-01' (%s, ...): "
                                    % ", ".join("'%s'" % i for i in ids[:10]))
    assert ids[10] not in result["msg"]
    assert methods(any_post) == [LIST]  # one page is enough to know: the next one is not read


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_ids_from_the_answer_are_quoted_in_the_failure(any_post, main, action):
    evil = "ts_\x1b[31mred\nline\u202e"
    any_post.get(LIST_URL, json=page(make_session(evil), make_session(OLD_ID)))
    result = run_module_fail(main, {"metadata": "web-01"})
    assert "'ts_\\x1b[31mred\\nline\\u202e'" in result["msg"]
    assert "\x1b" not in result["msg"] and "\n" not in result["msg"] and "\u202e" not in result["msg"]
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("item, shown", [
    (make_session("ts_abc/../../credentials"), "'ts_abc/../../credentials'"),
    (make_session(None), "got an empty value"),
    (make_session(12), "got an empty value"),
    ("ts_32ELGMEqDFAlN8JoGk7mAGg7z6B", "got an empty value"),  # not a session object
])
def test_a_match_without_a_usable_id_sends_nothing(any_post, main, action, item, shown):
    any_post.get(LIST_URL, json=page(item))
    result = run_module_fail(main, {"metadata": "web-01"})
    assert result["msg"].startswith("ngrok's answer for metadata 'web-01' is not usable: id ")
    assert shown in result["msg"]
    assert result["msg"].endswith("The %s request was not sent." % action)
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_check_mode_only_looks_up(any_post, main, action):
    session = make_session()
    any_post.get(LIST_URL, json=page(session))
    any_post.get(re.compile(LIST_URL + "/.*"), json=session)
    result = run_module_ok(main, {"metadata": "web-01", "_ansible_check_mode": True})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "tunnel_session": session}
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("check_mode", [False, True])
def test_check_mode_and_a_real_run_fail_alike_on_no_match(any_post, main, action, check_mode):
    any_post.get(LIST_URL, json=page())
    result = run_module_fail(main, {"metadata": "web-01", "_ansible_check_mode": check_mode})
    assert result["msg"].startswith("No connected agent has metadata 'web-01'")
    assert methods(any_post) == [LIST]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_a_failed_lookup_says_nothing_was_sent(any_post, main, action):
    any_post.get(LIST_URL, status=401, json=ngrok_error(401, "bad key", "ERR_NGROK_203"))
    result = run_module_fail(main, {"metadata": "web-01"})
    assert result["msg"].startswith("Could not list tunnel sessions: HTTP 401 ERR_NGROK_203: bad key")
    assert result["msg"].endswith("The %s request was not sent." % action)
    assert result["api_error"]["status_code"] == 401
    assert methods(any_post) == [LIST]


# The session is known before anything is sent, so what check mode refuses is refused before the POST.
@pytest.mark.parametrize("main, action, session, refused", [
    (restart_module.main, "restart", make_session(os="windows"), "its agent runs on Windows"),
    (restart_module.main, "restart", make_session(transport="ssh"), "it is an SSH tunnel session"),
    (update_module.main, "update", make_session(transport="ssh"), "it is an SSH tunnel session"),
    (stop_module.main, "stop", make_session(os="windows"), None),
    (stop_module.main, "stop", make_session(transport="ssh"), None),
])
def test_what_ngrok_would_refuse_is_refused_before_sending(any_post, main, action, session, refused):
    any_post.get(LIST_URL, json=page(session))
    if refused:
        result = run_module_fail(main, {"metadata": "web-01"})
        assert result["msg"].startswith("Cannot %s tunnel session %s: %s" % (action, OLD_ID, refused))
        assert methods(any_post) == [LIST]
    else:
        assert run_module_ok(main, {"metadata": "web-01"})["changed"] is True
        assert methods(any_post) == [LIST, ("POST", action_path(action))]


def test_restart_by_metadata_and_wait_follows_the_agent(rsps):
    session = make_session()
    new = make_session(NEW_ID, started_at="2025-09-04T10:15:02Z")
    rsps.get(LIST_URL, json=page(session))
    rsps.post(LIST_URL + "/%s/restart" % OLD_ID, status=204, headers={"Date": SERVER_DATE})
    rsps.get(LIST_URL, json=page(new))
    result = run_module_ok(restart_module.main, {"metadata": "web-01", "wait": True})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID, "tunnel_session": session,
                      "new_tunnel_session": new, "posts_sent": 1}
    # the lookup stands in for the read by ID: no GET /tunnel_sessions/{id}
    assert methods(rsps) == [LIST, ("POST", action_path("restart")), LIST]
    assert 'obj.id != "%s"' % OLD_ID in query(rsps.calls[2])["filter"][0]


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("args, message", [
    ({"metadata": ""}, "metadata must not be empty (an empty variable?)"),
    ({"metadata": "web-01\n"}, "metadata 'web-01\\n' contains a line break, a tab or another control character"),
    ({"metadata": "web\t01"}, "metadata 'web\\t01' contains a line break"),
    ({"metadata": "\x1b[2Jweb"}, "metadata '\\x1b[2Jweb' contains a line break"),
    ({"metadata": "x" * 4097}, "has 4097 characters: ngrok keeps at most 4096"),
    ({"metadata": "web-01", "id": OLD_ID}, "parameters are mutually exclusive: id|metadata"),
    ({"metadata": "web-01", "session_id": OLD_ID}, "parameters are mutually exclusive: id|metadata"),
    ({"skip_missing": True}, "one of the following is required: id, metadata"),
    ({"id": OLD_ID, "skip_missing": True}, "skip_missing is only used with metadata"),
    ({"metadata": "web-01", "skip_missing": "maybe"}, "skip_missing"),
])
def test_bad_input_fails_before_any_request(any_post, main, action, args, message):
    any_post.get(re.compile(".*"), json=page(make_session()))
    result = run_module_fail(main, args)
    assert message in result["msg"]
    assert len(any_post.calls) == 0


@pytest.mark.parametrize("main, action", ACTION_MODULES)
@pytest.mark.parametrize("metadata, message", [
    (["web-01"], "metadata is a list, not a string"),
    ({"host": "web-01"}, "metadata is a dict, not a string"),
    (False, "metadata is a boolean, not a string"),
])
def test_metadata_that_is_not_text_fails_before_any_request(any_post, main, action, metadata, message):
    result = run_module_fail(main, {"metadata": metadata})
    assert result["msg"].startswith(message)
    assert len(any_post.calls) == 0


@pytest.mark.parametrize("main, action", ACTION_MODULES)
def test_metadata_given_as_a_number_is_looked_up_as_its_text(rsps, main, action):
    rsps.get(LIST_URL, json=page(make_session(metadata="1234")))
    rsps.post(LIST_URL + "/%s/%s" % (OLD_ID, action), status=204)
    run_module_ok(main, {"metadata": 1234})
    assert query(rsps.calls[0])["filter"] == ['obj.metadata == "1234"']
