# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Behaviour shared with the other action modules (validation before any request, API errors, rate limits, check
# mode, lost answers) is tested for all three in test_ngrok_tunnel_session_restart.py; this file holds what is
# specific to ngrok_tunnel_session_stop and ngrok_tunnel_session_update, each test run for both.

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_stop
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_update
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    OLD_ID,
    make_session,
    ngrok_error,
    run_module_fail,
    run_module_ok,
)

SESSION_URL = "https://api.ngrok.com/tunnel_sessions/" + OLD_ID
OPERATION_ID = "op_32ELGiMyruN4J6Yn0fduKjIT6ug"

ACTIONS = {
    "stop": SimpleNamespace(
        main=ngrok_tunnel_session_stop.main,
        ssh_supported=True,  # may this action be sent to an SSH tunnel session?
        hints=[
            ("ERR_NGROK_805", "This agent does not support a remote stop."),
            ("ERR_NGROK_807", "The agent got the command but failed to stop; look at the agent's log on its host."),
        ],
    ),
    "update": SimpleNamespace(
        main=ngrok_tunnel_session_update.main,
        ssh_supported=False,
        hints=[
            ("ERR_NGROK_806", "This agent does not support a remote update."),
            ("ERR_NGROK_809", "The agent got the command but failed to update. ngrok also refuses an update when none "
             "is available, when the agent's configuration disables update checks, and while the agent is updating or "
             "waiting for the restart that runs its update (then restart it); otherwise look at the agent's log on its "
             "host."),
            ("ERR_NGROK_1121", "This is an SSH tunnel session: SSH sessions cannot be restarted or updated remotely."),
        ],
    ),
}
HINT_CASES = [(action, code, hint) for action, spec in ACTIONS.items() for code, hint in spec.hints]


@pytest.fixture(params=sorted(ACTIONS))
def action(request):
    return request.param


def action_url(action):
    return SESSION_URL + "/" + action


def test_posts_to_its_own_endpoint(rsps, action):
    rsps.post(action_url(action), status=204)
    rsps.post(re.compile(".*"), status=204)
    result = run_module_ok(ACTIONS[action].main, {"id": OLD_ID})
    # a stop says how many times it sent its request; an update is never sent again, and does not
    assert result == dict({"changed": True, "tunnel_session_id": OLD_ID}, **({"posts_sent": 1} if action == "stop" else {}))
    assert [c.request.url for c in rsps.calls] == [action_url(action)]


def test_accepts_200_with_a_body(rsps, action):
    rsps.post(action_url(action), status=200, body="<html>ok</html>")
    assert run_module_ok(ACTIONS[action].main, {"id": OLD_ID})["changed"] is True
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("option", ["wait", "wait_timeout", "wait_interval", "filter"])
def test_has_no_such_option(rsps, action, option):
    rsps.post(action_url(action), status=204)
    result = run_module_fail(ACTIONS[action].main, {"id": OLD_ID, option: 5})
    assert "Unsupported parameters" in result["msg"]
    assert option in result["msg"]
    assert len(rsps.calls) == 0


def test_requires_an_id_or_metadata(rsps, action):
    result = run_module_fail(ACTIONS[action].main, {})
    assert "one of the following is required: id, metadata" in result["msg"]
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("action_name, code, hint", HINT_CASES)
def test_error_hints(rsps, action_name, code, hint):
    rsps.post(action_url(action_name), status=400, json=ngrok_error(400, "agent said no", code))
    result = run_module_fail(ACTIONS[action_name].main, {"id": OLD_ID})
    assert result["msg"] == "Could not %s tunnel session %s: HTTP 400 %s: agent said no (operation ID %s). %s" % (
        action_name, OLD_ID, code, OPERATION_ID, hint)
    assert result["api_error"] == {"status_code": 400, "error_code": code, "msg": "agent said no",
                                   "operation_id": OPERATION_ID, "outcome": "failed", "attempts": 1}
    assert result["changed"] is False


def test_check_mode_allows_windows(rsps, action):
    rsps.get(SESSION_URL, json=make_session(os="windows"))
    result = run_module_ok(ACTIONS[action].main, {"id": OLD_ID, "_ansible_check_mode": True})
    assert result["changed"] is True
    assert result["tunnel_session"]["os"] == "windows"
    assert len(rsps.calls) == 1


def test_ssh_session_in_check_mode(rsps, action):
    rsps.get(SESSION_URL, json=make_session(transport="ssh"))
    args = {"id": OLD_ID, "_ansible_check_mode": True}
    if ACTIONS[action].ssh_supported:
        assert run_module_ok(ACTIONS[action].main, args)["changed"] is True
    else:
        result = run_module_fail(ACTIONS[action].main, args)
        assert result["msg"] == ("Cannot %s tunnel session %s: it is an SSH tunnel session, and SSH sessions "
                                 "cannot be restarted or updated remotely." % (action, OLD_ID))
    assert len(rsps.calls) == 1


def test_without_check_mode_does_not_read_first(rsps, action):
    rsps.get(SESSION_URL, json=make_session(os="windows", transport="ssh"))
    rsps.post(action_url(action), status=204)
    run_module_ok(ACTIONS[action].main, {"id": OLD_ID})
    assert [c.request.method for c in rsps.calls] == ["POST"]
