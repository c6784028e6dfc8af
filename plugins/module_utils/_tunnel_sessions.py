# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tunnel sessions: the restart/stop/update actions.

INTERNAL: private to the collection; may change without notice.

What a plain successful action runs is here; failure messages, resolving a
lost answer, following the agent across a restart (``wait``) and the info
module's lookups are in ``_tunnel_sessions_extras``, imported only when needed
(AnsiballZ ships module_utils as source, compiled on every module run).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_number,
    check_tunnel_session_id,
)

LIST_PATH = "/tunnel_sessions"

#: Bounds of wait_timeout and wait_interval (seconds); the waiting itself is
#: in _tunnel_sessions_extras.wait_for_reconnect.
MAX_WAIT_TIMEOUT = 3600
MIN_WAIT_INTERVAL = 1
MAX_WAIT_INTERVAL = 300

WINDOWS_HINT = ("ngrok cannot restart Windows agents remotely (the agent restarts itself with exec(), which Windows "
                "does not have). Stop it with community.ngrok.ngrok_tunnel_session_stop and let its service manager "
                "start it again (for example a Windows service with a recovery action 'Restart the Service')")

ACTIONS: dict[str, dict[str, Any]] = {
    "restart": {
        "done": "restarted",
        "unsupported": frozenset(("ERR_NGROK_804",)),
        "agent_failed": frozenset(("ERR_NGROK_808",)),
        "ssh": "ERR_NGROK_1122",
    },
    "stop": {
        "done": "stopped",
        "unsupported": frozenset(("ERR_NGROK_805",)),
        "agent_failed": frozenset(("ERR_NGROK_807",)),
        "ssh": None,
    },
    "update": {
        "done": "updated",
        "unsupported": frozenset(("ERR_NGROK_806",)),
        "agent_failed": frozenset(("ERR_NGROK_809",)),
        "ssh": "ERR_NGROK_1121",
    },
}


def session_path(session_id: str, action: str | None = None) -> str:
    path = "%s/%s" % (LIST_PATH, session_id)
    return path + "/" + action if action else path


def get_session(client, session_id: str, missing_ok: bool = True) -> dict | None:
    """The session, or None when ngrok answers 404 (or that NgrokError, unless ``missing_ok``)."""
    try:
        response = client.get(session_path(session_id))
    except NgrokError as exc:
        if missing_ok and exc.status_code == 404 and exc.from_ngrok:
            return None
        raise
    data = response.data
    if not isinstance(data, dict) or not data.get("id"):
        from ansible_collections.community.ngrok.plugins.module_utils._client_extras import unusable_answer
        raise unusable_answer(response, "GET", session_path(session_id), "it is not a tunnel session (%s)"
                              % ("empty body" if data is None else type(data).__name__))
    return data


class TunnelSessionAction:
    """restart, stop or update one tunnel session (the body of those modules)."""

    def __init__(self, module: NgrokModule, action: str) -> None:
        self.module = module
        self.action = action
        self.params = module.params
        self.session_id = ""

    def run(self) -> None:
        params = self.params
        try:
            self.session_id = check_tunnel_session_id(params["id"])
            if params.get("wait"):
                check_number("wait_timeout", params["wait_timeout"], 1, MAX_WAIT_TIMEOUT, " seconds")
                check_number("wait_interval", params["wait_interval"], MIN_WAIT_INTERVAL, MAX_WAIT_INTERVAL,
                             " seconds")
        except ValueError as exc:
            self.module.fail(str(exc))
        client = self.module.client
        result: dict[str, Any] = {"changed": False, "tunnel_session_id": self.session_id}

        session: dict[str, Any] = {}
        if self.module.check_mode or params.get("wait"):
            session = self._read_session(result)
            self._refuse_unsupported(session, result)
            result["tunnel_session"] = session
        if self.module.check_mode:
            result["changed"] = True
            self.module.exit(**result)

        response = None
        try:
            response = client.post(session_path(self.session_id, self.action))
        except NgrokError as exc:
            from ansible_collections.community.ngrok.plugins.module_utils import _tunnel_sessions_extras as extras
            if not (exc.unknown_outcome and extras.resolve_unknown_outcome(self, exc, result)):
                msg = extras.explain(self.action, self.session_id, exc)
                if result.get("unknown_outcome_checks"):
                    msg += " Read again since: %s." % "; ".join(result["unknown_outcome_checks"])
                self.module.fail(msg, exc, **result)
        result["changed"] = True
        if params.get("wait"):
            from ansible_collections.community.ngrok.plugins.module_utils import _tunnel_sessions_extras as extras
            since = (extras.server_time(response.headers) if response is not None else None) \
                or session.get("started_at") or ""
            result["new_tunnel_session"] = extras.wait_for_reconnect(self, session, since, result)
        self.module.exit(**result)

    def _read_session(self, result: dict) -> dict:
        """The session before the action; any failure (a 404 too) names its HTTP status and operation ID."""
        try:
            session = get_session(self.module.client, self.session_id, missing_ok=False)
        except NgrokError as exc:
            from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions_extras import explain
            self.module.fail("%s The %s request was not sent." % (explain("get", self.session_id, exc), self.action),
                             exc, **result)
        return session or {}

    def _refuse_unsupported(self, session: dict, result: dict) -> None:
        if self.action == "restart" and str(session.get("os", "")).lower() == "windows":
            self.module.fail("Cannot restart tunnel session %s: its agent runs on Windows. %s."
                             % (self.session_id, WINDOWS_HINT), tunnel_session=session, **result)
        if ACTIONS[self.action]["ssh"] and session.get("transport") == "ssh":
            self.module.fail("Cannot %s tunnel session %s: it is an SSH tunnel session, and SSH sessions cannot be "
                             "restarted or updated remotely." % (self.action, self.session_id),
                             tunnel_session=session, **result)
