# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from responses import matchers

from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_info as module_under_test
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    API_KEY,
    OLD_ID,
    make_session,
    ngrok_error,
    run_module_fail,
    run_module_ok,
)

MAIN = module_under_test.main
LIST_URL = "https://api.ngrok.com/tunnel_sessions"
SESSION_URL = LIST_URL + "/" + OLD_ID


def page(sessions, next_uri=None):
    return {"tunnel_sessions": sessions, "uri": LIST_URL, "next_page_uri": next_uri}


def query(call):
    return parse_qs(urlsplit(call.request.url).query)


def sessions(*ids):
    return [make_session(i) for i in ids]


def test_list_everything(rsps):
    rsps.get(LIST_URL, json=page(sessions("ts_1", "ts_2")))
    result = run_module_ok(MAIN, {})
    assert result == {"changed": False, "tunnel_sessions": sessions("ts_1", "ts_2")}
    assert query(rsps.calls[0]) == {"limit": ["100"]}
    assert rsps.calls[0].request.method == "GET"
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + API_KEY


def test_list_empty(rsps):
    rsps.get(LIST_URL, json=page([]))
    assert run_module_ok(MAIN, {})["tunnel_sessions"] == []


@pytest.mark.parametrize("id_option", ["id", "session_id", "tunnel_session_id"])
def test_by_id(rsps, id_option):
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_ok(MAIN, {id_option: OLD_ID})
    assert result == {"changed": False, "tunnel_sessions": [make_session()]}
    assert [c.request.url for c in rsps.calls] == [SESSION_URL]


def test_by_id_unknown_is_an_empty_list(rsps):
    rsps.get(SESSION_URL, status=404, json=ngrok_error(404, "Resource not found"))
    result = run_module_ok(MAIN, {"id": OLD_ID})
    assert result == {"changed": False, "tunnel_sessions": []}


def test_session_without_metadata_is_returned_as_is(rsps):
    session = make_session(metadata=None)
    rsps.get(SESSION_URL, json=session)
    result = run_module_ok(MAIN, {"id": OLD_ID})
    assert "metadata" not in result["tunnel_sessions"][0]


@pytest.mark.parametrize("args, expected_filter", [
    ({"metadata": "web-01"}, 'obj.metadata == "web-01"'),
    ({"metadata": 'we"b\\01'}, 'obj.metadata == "we\\"b\\\\01"'),
    ({"metadata": 'x" || true || "'}, 'obj.metadata == "x\\" || true || \\""'),
    ({"metadata": "a\nb"}, 'obj.metadata == "a\\nb"'),
    ({"metadata": " "}, 'obj.metadata == " "'),
    ({"metadata": 7}, 'obj.metadata == "7"'),
    ({"filter": 'obj.os == "linux"'}, 'obj.os == "linux"'),
    ({"metadata": "web-01", "filter": 'obj.os == "linux" || obj.os == "darwin"'},
     '(obj.metadata == "web-01") && (obj.os == "linux" || obj.os == "darwin")'),
])
def test_filters_sent_and_returned(rsps, args, expected_filter):
    rsps.get(LIST_URL, json=page(sessions("ts_1")))
    result = run_module_ok(MAIN, args)
    assert result["filter"] == expected_filter
    assert query(rsps.calls[0]) == {"limit": ["100"], "filter": [expected_filter]}
    assert result["tunnel_sessions"] == sessions("ts_1")


@pytest.mark.parametrize("metadata, word", [
    ({"host": "kiosk-7"}, "a dict"),
    (["kiosk-7"], "a list"),
    (True, "a boolean"),
])
def test_metadata_not_text_is_refused_before_any_request(rsps, metadata, word):
    # ansible-core before 2.19 templates '{"host": "kiosk-7"}' into a dict: looking up its Python text would
    # silently find nothing
    result = run_module_fail(MAIN, {"metadata": metadata})
    assert "metadata is %s, not a string" % word in result["msg"]
    assert len(rsps.calls) == 0


def test_no_filter_key_without_metadata_or_filter(rsps):
    rsps.get(LIST_URL, json=page([]))
    assert "filter" not in run_module_ok(MAIN, {})


def _three_pages(rsps):
    page2 = LIST_URL + "?before_id=ts_100&limit=100"
    page3 = LIST_URL + "?before_id=ts_200&limit=100"
    rsps.get(page3, json=page(sessions(*["ts_3%02d" % i for i in range(50)])),
             match=[matchers.query_string_matcher("before_id=ts_200&limit=100")])
    rsps.get(page2, json=page(sessions(*["ts_2%02d" % i for i in range(100)]), page3),
             match=[matchers.query_string_matcher("before_id=ts_100&limit=100")])
    rsps.get(LIST_URL, json=page(sessions(*["ts_1%02d" % i for i in range(100)]), page2),
             match=[matchers.query_param_matcher({"limit": "100", "filter": 'obj.os == "linux"'})])


# Paging, tested here once: pages of 100 followed by next_page_uri, and max_results stopping early.
@pytest.mark.parametrize("max_results, count, calls", [(None, 250, 3), (1, 1, 1), (100, 100, 1), (101, 101, 2),
                                                       (250, 250, 3), (1000, 250, 3)])
def test_paging_and_max_results(rsps, max_results, count, calls):
    _three_pages(rsps)
    args = {"filter": 'obj.os == "linux"'}
    if max_results is not None:
        args["max_results"] = max_results
    result = run_module_ok(MAIN, args)
    ids = [s["id"] for s in result["tunnel_sessions"]]
    expected = ["ts_1%02d" % i for i in range(100)] + ["ts_2%02d" % i for i in range(100)] + ["ts_3%02d" % i for i in range(50)]
    assert ids == expected[:count]
    assert len(rsps.calls) == calls


def test_foreign_next_page_is_refused(rsps):
    rsps.get(LIST_URL, json=page(sessions("ts_1"), "https://evil.example/tunnel_sessions?before_id=ts_1"))
    rsps.get(re.compile("https://evil.*"), json=page([]))
    result = run_module_fail(MAIN, {})
    assert result["msg"].startswith("Could not list tunnel sessions: Refusing to follow next_page_uri "
                                    "https://evil.example/tunnel_sessions?before_id=ts_1")
    assert len(rsps.calls) == 1
    assert result["api_error"]["status_code"] is None


def test_invalid_cel_explained(rsps):
    rsps.get(LIST_URL, status=400, json=ngrok_error(400, "Invalid CEL query", "ERR_NGROK_250", "op_cel"))
    result = run_module_fail(MAIN, {"filter": "obj.os ="})
    assert result["msg"].startswith("Could not list tunnel sessions: HTTP 400 ERR_NGROK_250: Invalid CEL query "
                                    "(operation ID op_cel). The filter is not a valid CEL expression for ngrok")
    assert result["filter"] == "obj.os ="
    assert result["changed"] is False
    assert result["api_error"] == {"status_code": 400, "error_code": "ERR_NGROK_250", "msg": "Invalid CEL query",
                                   "operation_id": "op_cel", "outcome": "failed", "attempts": 1}


@pytest.mark.parametrize("status, code, hint", [
    (401, "ERR_NGROK_203", "ngrok did not accept the API key"),
    (403, "ERR_NGROK_205", "The API key was accepted but its account may not do this"),
])
def test_get_errors_explained(rsps, status, code, hint):
    rsps.get(SESSION_URL, status=status, json=ngrok_error(status, "no", code))
    result = run_module_fail(MAIN, {"id": OLD_ID})
    assert result["msg"].startswith("Could not get tunnel session %s: HTTP %d %s" % (OLD_ID, status, code))
    assert hint in result["msg"]


def test_get_is_retried_after_502(rsps, client_recorder):
    rsps.get(SESSION_URL, status=502, json=ngrok_error(502, "Bad Gateway"))
    rsps.get(SESSION_URL, json=make_session())
    result = run_module_ok(MAIN, {"id": OLD_ID})
    assert result["tunnel_sessions"] == [make_session()]
    assert client_recorder.sleeps == [1.0]


def test_get_retries_exhausted(rsps, client_recorder):
    rsps.get(SESSION_URL, status=500, json=ngrok_error(500, "Internal"))
    result = run_module_fail(MAIN, {"id": OLD_ID, "retries": 2})
    assert result["api_error"]["attempts"] == 3
    assert result["api_error"]["outcome"] == "failed"
    assert "ngrok had a server error; try again later." in result["msg"]
    assert len(rsps.calls) == 3


def test_check_mode_still_reads(rsps):
    rsps.get(LIST_URL, json=page(sessions("ts_1")))
    result = run_module_ok(MAIN, {"_ansible_check_mode": True})
    assert result["tunnel_sessions"] == sessions("ts_1")
    assert result["changed"] is False


# The full tables of refused IDs and connection options are test_module.py's.
@pytest.mark.parametrize("args, message", [
    ({"id": OLD_ID, "metadata": "web-01"}, "parameters are mutually exclusive: id|metadata"),
    ({"id": OLD_ID, "filter": "obj.os == \"linux\""}, "parameters are mutually exclusive: id|filter"),
    ({"metadata": ""}, "metadata must not be empty; to find agents without metadata use filter: obj.metadata == \"\""),
    ({"filter": ""}, "filter must not be empty: leave it unset to list every session"),
    ({"filter": "  \n"}, "filter must not be empty"),
    ({"max_results": 0}, "max_results must be between 1 and 1000000; got 0"),
    ({"max_results": 1000001}, "max_results must be between 1 and 1000000; got 1000001"),
    ({"id": "ts_a/../x"}, "id 'ts_a/../x' is not a tunnel session ID"),
])
def test_bad_input_fails_before_any_request(rsps, args, message):
    rsps.get(re.compile(".*"), json=page([]))
    result = run_module_fail(MAIN, args)
    assert message in result["msg"]
    assert len(rsps.calls) == 0
