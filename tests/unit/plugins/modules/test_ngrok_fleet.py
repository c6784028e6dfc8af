# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# ngrok_fleet_info and ngrok_fleet_wait: many agents, each request spent once, each name its own result.

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from ansible_collections.community.ngrok.plugins.modules import ngrok_fleet_info as info_module
from ansible_collections.community.ngrok.plugins.modules import ngrok_fleet_wait as wait_module
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    CREDENTIAL_ID,
    NEW_ID,
    OLD_ID,
    SERVER_DATE,
    SERVER_DATE_RFC3339,
    make_session,
    ngrok_error,
    run_module_fail,
    run_module_ok,
)

LIST_URL = "https://api.ngrok.com/tunnel_sessions"


def sid(n):
    """A valid tunnel session ID numbered n."""
    return "ts_%027d" % n


def page(*sessions, next_page_uri=None):
    return {"tunnel_sessions": list(sessions), "uri": LIST_URL, "next_page_uri": next_page_uri}


def filters(rsps):
    return [parse_qs(urlsplit(call.request.url).query).get("filter", [None])[0] for call in rsps.calls]


def agents(*names, **metadata):
    return [{"name": n, "metadata": metadata.get(n.replace("-", "_"))} for n in names]


# ngrok_fleet_info


def test_one_listing_finds_every_agent(rsps):
    sessions = [make_session(sid(i), metadata="web-%02d" % i) for i in range(1, 4)]
    rsps.get(LIST_URL, json=page(*reversed(sessions)), headers={"Date": SERVER_DATE})
    result = run_module_ok(info_module.main, {"agents": agents("web-01", "web-02", "web-03")})
    assert filters(rsps) == ['obj.metadata in ["web-01", "web-02", "web-03"]']
    assert result["tunnel_sessions"] == {"web-%02d" % i: sessions[i - 1] for i in range(1, 4)}
    assert result["missing"] == {} and result["problems"] == {}
    assert result["listed_at"] == SERVER_DATE_RFC3339
    assert result["changed"] is False


def test_metadata_given_is_looked_up_not_the_name(rsps):
    session = make_session(metadata="database-primary")
    rsps.get(LIST_URL, json=page(session))
    result = run_module_ok(info_module.main, {"agents": [{"name": "db-01", "metadata": "database-primary"},
                                                         {"name": "web-01", "metadata": None}]})
    assert filters(rsps) == ['obj.metadata in ["database-primary", "web-01"]']
    assert result["tunnel_sessions"] == {"db-01": session}
    assert "web-01" in result["problems"]


def test_a_number_is_looked_up_as_its_text(rsps):
    rsps.get(LIST_URL, json=page(make_session(metadata="1234")))
    result = run_module_ok(info_module.main, {"agents": [{"name": "kiosk-7", "metadata": 1234}]})
    assert filters(rsps) == ['obj.metadata in ["1234"]']
    assert list(result["tunnel_sessions"]) == ["kiosk-7"]


@pytest.mark.parametrize("metadata, problem", [
    ("", "its agent metadata must not be empty"),
    ("__omit_place_holder__0123abcd", "its agent metadata must not be empty"),
    (True, "its agent metadata is a boolean, not a string"),
    (["web-01"], "its agent metadata is a list, not a string"),
    ({"host": "web-01"}, "its agent metadata is a dict, not a string"),
    ("web\n01", "contains a line break"),
])
def test_unusable_metadata_is_a_problem_of_that_name_only(rsps, metadata, problem):
    rsps.get(LIST_URL, json=page(make_session(metadata="web-02")))
    result = run_module_ok(info_module.main, {"agents": [{"name": "web-01", "metadata": metadata},
                                                         {"name": "web-02", "metadata": None}]})
    assert problem in result["problems"]["web-01"]
    assert result["problems"]["web-01"].startswith("Nothing was looked up or sent for web-01: ")
    assert list(result["tunnel_sessions"]) == ["web-02"]
    assert filters(rsps) == ['obj.metadata in ["web-02"]']


def test_names_sharing_metadata_are_refused_and_not_looked_up(rsps):
    rsps.get(LIST_URL, json=page(make_session(metadata="web-03")))
    result = run_module_ok(info_module.main, {"agents": [{"name": "a", "metadata": "shared"},
                                                         {"name": "shared", "metadata": None},
                                                         {"name": "web-03", "metadata": None}]})
    message = ("a, shared all have the agent metadata 'shared': each would act on the same agent and report it as "
               "its own. Give each the metadata of its own agent. Nothing was sent for them.")
    assert result["problems"] == {"a": message, "shared": message}
    assert filters(rsps) == ['obj.metadata in ["web-03"]']


def test_no_request_when_every_name_has_a_problem(rsps):
    result = run_module_ok(info_module.main, {"agents": [{"name": "a", "metadata": ""}]})
    assert len(rsps.calls) == 0
    assert list(result["problems"]) == ["a"]
    assert result["listed_at"] is None


def test_several_agents_with_the_metadata_list_their_ids_newest_first(rsps):
    older = make_session(OLD_ID, started_at="2025-09-04T10:00:00Z")
    newer = make_session(NEW_ID, started_at="2025-09-04T11:00:00Z")
    rsps.get(LIST_URL, json=page(older, newer))
    result = run_module_ok(info_module.main, {"agents": agents("web-01")})
    assert result["problems"] == {"web-01": "2 connected agents have metadata 'web-01' ('%s', '%s'): give each agent "
                                            "its own metadata. Nothing was sent for web-01." % (NEW_ID, OLD_ID)}
    assert result["tunnel_sessions"] == {}


@pytest.mark.parametrize("skip_missing", [False, True])
def test_an_agent_not_connected(rsps, skip_missing):
    rsps.get(LIST_URL, json=page())
    result = run_module_ok(info_module.main, {"agents": agents("web-04"), "skip_missing": skip_missing})
    text = "No connected agent has metadata 'web-04': the agent is not running or not connected"
    if skip_missing:
        assert result["missing"]["web-04"].startswith(text) and result["problems"] == {}
    else:
        assert result["problems"]["web-04"].startswith(text) and result["missing"] == {}
        assert result["problems"]["web-04"].endswith("Set skip_missing=true (ngrok_skip_missing with the "
                                                     "restart_agents role and playbook) to skip hosts whose agent is "
                                                     "not connected.")


def test_a_session_without_metadata_never_matches(rsps):
    rsps.get(LIST_URL, json=page(make_session(metadata=None)))
    result = run_module_ok(info_module.main, {"agents": agents("web-01")})
    assert "web-01" in result["problems"]


def test_every_page_is_read(rsps):
    second = LIST_URL + "?before_id=x"
    rsps.get(LIST_URL, json=page(make_session(sid(1), metadata="a"), next_page_uri=second),
             match=[lambda req: (urlsplit(req.url).query.find("before_id") < 0, "")])
    rsps.get(second, json=page(make_session(sid(2), metadata="b")))
    result = run_module_ok(info_module.main, {"agents": agents("a", "b")})
    assert sorted(result["tunnel_sessions"]) == ["a", "b"]
    assert len(rsps.calls) == 2


def test_many_agents_are_asked_for_in_groups_of_at_most_100(rsps):
    names = ["host-%03d" % i for i in range(1, 251)]
    rsps.get(re.compile(re.escape(LIST_URL) + r"\?.*"), json=page())
    result = run_module_ok(info_module.main, {"agents": agents(*names), "skip_missing": True})
    sent = filters(rsps)
    assert len(sent) == 3 == len(result["filters"])
    asked = [name for cel in sent for name in re.findall(r'"(host-\d+)"', cel)]
    assert asked == names
    assert all(len(cel) <= 1500 for cel in sent)
    assert len(result["missing"]) == 250


def test_a_failed_listing_fails_naming_the_status(rsps):
    rsps.get(LIST_URL, status=401, json=ngrok_error(401, "The API key is not valid", "ERR_NGROK_202"))
    result = run_module_fail(info_module.main, {"agents": agents("web-01")})
    assert result["msg"].startswith("Could not list tunnel sessions: HTTP 401")
    assert result["msg"].endswith("Nothing was sent.")
    assert result["api_error"]["error_code"] == "ERR_NGROK_202"


@pytest.mark.parametrize("given, message", [
    ([], "agents is empty"),
    ([{"name": "a", "metadata": "x"}, {"name": "a", "metadata": "y"}], "the name 'a' is given twice in agents"),
    ([{"name": "", "metadata": "x"}], "an agent has an empty name"),
])
def test_bad_agents_fail_before_any_request(rsps, given, message):
    result = run_module_fail(info_module.main, {"agents": given})
    assert message in result["msg"]
    assert len(rsps.calls) == 0


# ngrok_fleet_wait


def old(session_id, metadata, **kw):
    return make_session(session_id, metadata=metadata, started_at="2025-09-04T10:00:00Z", **kw)


def back(session_id, metadata, **kw):
    kw.setdefault("started_at", "2025-09-04T10:16:00Z")
    return make_session(session_id, metadata=metadata, **kw)


WAIT_ARGS = {"since": SERVER_DATE_RFC3339, "interval": 5, "timeout": 60}


def test_one_poll_serves_every_agent(rsps, fake_time):
    olds = {"web-01": old(sid(1), "web-01"), "web-02": old(sid(2), "web-02")}
    news = {"web-01": back(sid(11), "web-01"), "web-02": back(sid(12), "web-02")}
    rsps.get(LIST_URL, json=page(*news.values()))
    result = run_module_ok(wait_module.main, dict(WAIT_ARGS, tunnel_sessions=olds))
    assert result["tunnel_sessions"] == news
    assert result["not_reconnected"] == {} and result["polls"] == 1
    assert filters(rsps) == ['(obj.metadata in ["web-01", "web-02"]) && '
                             '(obj.started_at >= timestamp("2025-09-04T10:15:00Z"))']
    assert fake_time.sleeps == [1.0]


def test_later_polls_ask_only_for_the_agents_not_back(rsps, fake_time):
    olds = {"web-01": old(sid(1), "web-01"), "web-02": old(sid(2), "web-02")}
    rsps.get(LIST_URL, json=page(back(sid(11), "web-01")))
    rsps.get(LIST_URL, json=page(back(sid(12), "web-02")))
    result = run_module_ok(wait_module.main, dict(WAIT_ARGS, tunnel_sessions=olds))
    assert sorted(result["tunnel_sessions"]) == ["web-01", "web-02"]
    assert result["polls"] == 2
    assert filters(rsps)[1].startswith('(obj.metadata in ["web-02"]) && ')
    assert fake_time.sleeps == [1.0, 5.0]


@pytest.mark.parametrize("change", [
    {"ip": "10.0.0.99"},
    {"credential": {"id": "cr_someoneElse"}},
    {"id": sid(1)},
])
def test_a_session_of_another_agent_is_not_taken(rsps, change):
    rsps.get(LIST_URL, json=page(back(sid(11), "web-01", **change) if "id" not in change else old(sid(1), "web-01")))
    result = run_module_ok(wait_module.main, dict(WAIT_ARGS, timeout=3, fail_on_timeout=False,
                                                  tunnel_sessions={"web-01": old(sid(1), "web-01")}))
    assert result["tunnel_sessions"] == {}
    assert result["not_reconnected"]["web-01"].startswith(
        "The restart of tunnel session %s WAS sent and accepted by ngrok, but the agent did not reconnect within 3 "
        "seconds. Looked for a new session with credential %s, IP 10.110.2.2 and metadata 'web-01' that started at "
        "or after 2025-09-04T10:15:00Z" % (sid(1), CREDENTIAL_ID))


def test_timeout_fails_by_default_with_what_came_back(rsps, fake_time):
    olds = {"web-01": old(sid(1), "web-01"), "web-02": old(sid(2), "web-02")}
    rsps.get(LIST_URL, json=page(back(sid(11), "web-01")))
    rsps.get(LIST_URL, json=page())
    result = run_module_fail(wait_module.main, dict(WAIT_ARGS, timeout=10, tunnel_sessions=olds))
    assert result["msg"].startswith("1 of 2 agents reconnected, 1 did not within 10 seconds")
    assert list(result["tunnel_sessions"]) == ["web-01"]
    assert list(result["not_reconnected"]) == ["web-02"]
    assert sum(fake_time.sleeps) == 10


def test_names_limit_the_wait(rsps):
    olds = {"web-01": old(sid(1), "web-01"), "web-02": old(sid(2), "web-02")}
    rsps.get(LIST_URL, json=page(back(sid(11), "web-01")))
    result = run_module_ok(wait_module.main, dict(WAIT_ARGS, tunnel_sessions=olds, names=["web-01", "web-09"]))
    assert list(result["tunnel_sessions"]) == ["web-01"]
    assert filters(rsps)[0].startswith('(obj.metadata in ["web-01"])')


def test_the_newest_of_several_is_taken_with_a_warning(rsps):
    rsps.get(LIST_URL, json=page(back(sid(11), "web-01", started_at="2025-09-04T10:16:00Z"),
                                 back(sid(12), "web-01", started_at="2025-09-04T10:17:00Z")))
    result = run_module_ok(wait_module.main, dict(WAIT_ARGS, tunnel_sessions={"web-01": old(sid(1), "web-01")}))
    assert result["tunnel_sessions"]["web-01"]["id"] == sid(12)


def test_without_since_no_time_filter(rsps):
    rsps.get(LIST_URL, json=page(old(sid(1), "web-01"), back(sid(11), "web-01")))
    result = run_module_ok(wait_module.main, {"tunnel_sessions": {"web-01": old(sid(1), "web-01")}})
    assert filters(rsps) == ['obj.metadata in ["web-01"]']
    assert result["tunnel_sessions"]["web-01"]["id"] == sid(11)


def test_check_mode_sends_nothing(rsps):
    result = run_module_ok(wait_module.main, dict(WAIT_ARGS, tunnel_sessions={"web-01": old(sid(1), "web-01")},
                                                  _ansible_check_mode=True))
    assert len(rsps.calls) == 0
    assert result["tunnel_sessions"] == {} and result["polls"] == 0


def test_a_failed_poll_fails_saying_the_restarts_were_sent(rsps):
    rsps.get(LIST_URL, status=403, json=ngrok_error(403, "Forbidden", "ERR_NGROK_205"))
    result = run_module_fail(wait_module.main, dict(WAIT_ARGS, tunnel_sessions={"web-01": old(sid(1), "web-01")}))
    assert result["msg"].startswith("The restarts WERE sent, but looking for the reconnected agents (web-01) failed: "
                                    "HTTP 403")
    assert result["api_error"]["status_code"] == 403


@pytest.mark.parametrize("args, message", [
    ({"tunnel_sessions": {"web-01": "ts_x"}}, "tunnel_sessions['web-01'] is a str, not a tunnel session"),
    ({"tunnel_sessions": {"web-01": {"id": "cr_1"}}}, "tunnel_sessions['web-01'].id"),
    ({"tunnel_sessions": {"web-01": old(sid(5), "web-01")}, "since": "yesterday"},
     "since 'yesterday' is not an RFC 3339"),
    ({"tunnel_sessions": {"web-01": old(sid(5), "web-01")}, "timeout": 0}, "timeout must be between 1 and 3600"),
    ({"tunnel_sessions": {"web-01": old(sid(5), "web-01")}, "interval": 301}, "interval must be between 1 and 300"),
])
def test_bad_input_fails_before_any_request(rsps, args, message):
    result = run_module_fail(wait_module.main, args)
    assert message in result["msg"]
    assert len(rsps.calls) == 0
