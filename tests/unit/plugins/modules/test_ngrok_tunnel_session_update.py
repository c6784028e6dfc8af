# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Behaviour shared with the other action modules (validation before any request, API errors, rate limits, check
# mode, lost answers) is tested for all three in test_ngrok_tunnel_session_restart.py; this file holds what is
# specific to ngrok_tunnel_session_update.

from __future__ import annotations

import re

import pytest

from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_update as module_under_test
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    OLD_ID,
    make_session,
    ngrok_error,
    run_module_fail,
    run_module_ok,
)

MAIN = module_under_test.main
SESSION_URL = "https://api.ngrok.com/tunnel_sessions/" + OLD_ID
ACTION_URL = SESSION_URL + "/update"
SSH_SUPPORTED = False  # may this action be sent to an SSH tunnel session?


def test_update_posts_to_its_own_endpoint(rsps):
    rsps.post(ACTION_URL, status=204)
    rsps.post(re.compile(".*"), status=204)
    result = run_module_ok(MAIN, {"id": OLD_ID})
    assert result == {"changed": True, "tunnel_session_id": OLD_ID}
    assert [c.request.url for c in rsps.calls] == [ACTION_URL]


def test_update_accepts_200_with_a_body(rsps):
    rsps.post(ACTION_URL, status=200, body="<html>ok</html>")
    assert run_module_ok(MAIN, {"id": OLD_ID})["changed"] is True
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("option", ["wait", "wait_timeout", "wait_interval", "metadata", "filter"])
def test_update_has_no_such_option(rsps, option):
    rsps.post(ACTION_URL, status=204)
    result = run_module_fail(MAIN, {"id": OLD_ID, option: 5})
    assert "Unsupported parameters" in result["msg"]
    assert option in result["msg"]
    assert len(rsps.calls) == 0


def test_update_requires_an_id(rsps):
    result = run_module_fail(MAIN, {})
    assert "missing required arguments: id" in result["msg"]
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("code, hint", [
    ("ERR_NGROK_806", "This agent does not support a remote update."),
    ("ERR_NGROK_809", "The agent got the command but failed to update; look at the agent's log on its host."),
    ("ERR_NGROK_1121", "This is an SSH tunnel session: SSH sessions cannot be restarted or updated remotely."),
])
def test_update_error_hints(rsps, code, hint):
    rsps.post(ACTION_URL, status=400, json=ngrok_error(400, "agent said no", code))
    result = run_module_fail(MAIN, {"id": OLD_ID})
    assert result["msg"] == "Could not update tunnel session %s: HTTP 400 %s: agent said no (operation ID %s). %s" % (
        OLD_ID, code, "op_32ELGiMyruN4J6Yn0fduKjIT6ug", hint)
    assert result["api_error"] == {"status_code": 400, "error_code": code, "msg": "agent said no",
                                   "operation_id": "op_32ELGiMyruN4J6Yn0fduKjIT6ug", "outcome": "failed", "attempts": 1}
    assert result["changed"] is False


def test_update_check_mode_allows_windows(rsps):
    rsps.get(SESSION_URL, json=make_session(os="windows"))
    result = run_module_ok(MAIN, {"id": OLD_ID, "_ansible_check_mode": True})
    assert result["changed"] is True
    assert result["tunnel_session"]["os"] == "windows"
    assert len(rsps.calls) == 1


def test_update_on_ssh_session_in_check_mode(rsps):
    rsps.get(SESSION_URL, json=make_session(transport="ssh"))
    if SSH_SUPPORTED:
        assert run_module_ok(MAIN, {"id": OLD_ID, "_ansible_check_mode": True})["changed"] is True
    else:
        result = run_module_fail(MAIN, {"id": OLD_ID, "_ansible_check_mode": True})
        assert result["msg"] == ("Cannot update tunnel session %s: it is an SSH tunnel session, and SSH sessions "
                                 "cannot be restarted or updated remotely." % OLD_ID)
    assert len(rsps.calls) == 1


def test_update_without_check_mode_does_not_read_first(rsps):
    rsps.get(SESSION_URL, json=make_session(os="windows", transport="ssh"))
    rsps.post(ACTION_URL, status=204)
    run_module_ok(MAIN, {"id": OLD_ID})
    assert [c.request.method for c in rsps.calls] == ["POST"]
