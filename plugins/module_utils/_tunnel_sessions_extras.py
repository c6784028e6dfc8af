# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tunnel sessions: lookups (the info module), following an agent across a
restart (``wait``), resolving a lost answer, and the failure messages.

INTERNAL: private to the collection; may change without notice.

Apart from ``_tunnel_sessions`` only for speed: a plain restart, stop or update
never runs this code, so it does not compile it (see docs/benchmark.md).
``self`` in the functions below is the running ``TunnelSessionAction``.
"""

from __future__ import annotations

import time
from typing import Any

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_number,
    check_tunnel_session_id,
)
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import (
    ACTIONS,
    LIST_PATH,
    WINDOWS_HINT,
    get_session,
)

PAGE_SIZE = 100

#: Waiting for a restarted agent: the first poll after FIRST_POLL_DELAY
#: seconds, then one every ``wait_interval`` seconds until ``wait_timeout``.
FIRST_POLL_DELAY = 1.0

#: After a restart or stop whose answer was lost, the session is read after
#: each of these delays (seconds) until it is gone: 3 reads over 7 seconds.
RESOLVE_DELAYS = (1.0, 2.0, 4.0)

_AUTH_CODES = frozenset("ERR_NGROK_%d" % n for n in (200, 201, 202, 203, 206, 207, 208))
_FORBIDDEN_CODES = frozenset(("ERR_NGROK_204", "ERR_NGROK_205", "ERR_NGROK_220"))


def cel_string(value: str) -> str:
    """``value`` as a CEL string literal that can never change the expression."""
    out = ['"']
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def and_filters(*expressions) -> str | None:
    parts = [e for e in expressions if e]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " && ".join("(%s)" % p for p in parts)


def list_sessions(client, cel_filter: str | None = None, max_items: int | None = None) -> list:
    params = {"limit": str(PAGE_SIZE)}
    if cel_filter:
        params["filter"] = cel_filter
    return list(client.paginate(LIST_PATH, "tunnel_sessions", params=params, max_items=max_items))


def same_agent_filter(old: dict, since: str) -> str:
    """CEL for: the agent of ``old``, reconnected at or after ``since`` (RFC 3339; no time bound when empty,
    as ``timestamp("")`` is not a valid CEL timestamp)."""
    credential = old.get("credential") or {}
    parts = [
        "obj.credential.id == %s" % cel_string(credential.get("id") or ""),
        "obj.ip == %s" % cel_string(old.get("ip") or ""),
        "obj.metadata == %s" % cel_string(old.get("metadata") or ""),
        "obj.id != %s" % cel_string(old.get("id") or ""),
    ]
    if since:
        parts.append("obj.started_at >= timestamp(%s)" % cel_string(since))
    return " && ".join(parts)


def explain(action: str, session_id: str | None, error: NgrokError) -> str:
    """A sentence for the operator: what failed, ngrok's words, and what to do.

    ``action`` is restart, stop, update, get or list; ``session_id`` the session
    concerned (None for a list).
    """
    spec = ACTIONS.get(action, {})
    target = "tunnel session %s" % session_id if session_id else "tunnel sessions"
    if error.unknown_outcome:
        if action == "update":
            check = ("an update leaves the session in place, and the agent runs the new version only once restarted, so "
                     "reading cannot tell; sending it again is safe, as ngrok refuses an update while the agent is "
                     "updating or waiting for its restart")
        else:
            check = ("check with community.ngrok.ngrok_tunnel_session_info before sending it again (after a %s the old "
                     "session ID is gone)" % action)
        done = spec.get("done", action)
        return ("The %s request for tunnel session %s may or may not have reached ngrok: %s. It was not sent again, "
                "so the agent may or may not have %s; %s." % (action, session_id, error.describe(), done, check))
    text = "Could not %s %s: %s." % (action, target, error.describe())
    status, code = error.status_code, error.error_code
    if status == 401 or code in _AUTH_CODES:
        hint = ("ngrok did not accept the API key: check api_key or NGROK_API_KEY (it must be an API key from the "
                "ngrok dashboard, not an agent authtoken or an API key ID)")
    elif status == 403 or code in _FORBIDDEN_CODES:
        hint = ("the API key was accepted but its account may not do this (API access not allowed, account "
                "suspended, or this machine's IP address is restricted)")
    elif code == "ERR_NGROK_250":
        hint = ("the filter is not a valid CEL expression for ngrok: compare fields of obj (id, metadata, "
                "agent_version, ip, os, region, started_at, credential) with == != < <= > >= in, combine with && || !, "
                "and quote strings, for example obj.os == \"linux\" && obj.metadata != \"\"")
    elif status == 404:
        hint = ("the session does not exist (any more): a tunnel session ID changes every time its agent restarts "
                "or reconnects. Look the current ID up with community.ngrok.ngrok_tunnel_session_info")
    elif status == 429 or code == "ERR_NGROK_226":
        hint = ("ngrok's rate limit (by default 120 requests per rolling 60 seconds per account) was still exceeded "
                "after waiting %s seconds over %d attempts. Lower forks or use serial, or raise rate_limit_timeout"
                % (fmt(round(error.rate_limit_waited, 1)), error.attempts))
    elif code in spec.get("unsupported", ()):
        hint = "this agent does not support a remote %s" % action
        if action == "restart":
            hint += ". If it runs on Windows: " + WINDOWS_HINT
    elif code in spec.get("agent_failed", ()):
        hint = "the agent got the command but failed to %s; look at the agent's log on its host" % action
        if action == "update":  # ngrok also refuses an update it need not run: its message says which
            hint = ("the agent got the command but failed to update. ngrok also refuses an update when none is "
                    "available, when the agent's configuration disables update checks, and while the agent is updating "
                    "or waiting for the restart that runs its update (then restart it); otherwise look at the agent's "
                    "log on its host")
    elif code in ("ERR_NGROK_1121", "ERR_NGROK_1122"):
        hint = "this is an SSH tunnel session: SSH sessions cannot be restarted or updated remotely"
    elif status in (501, 505):
        hint = "the server (ngrok, or a proxy in between) does not support this request; check api_url"
    elif status is not None and status >= 500:
        hint = ("ngrok had a server error; try again later" if error.from_ngrok else
                "the error came from something between this machine and ngrok (a proxy, a load balancer, a CDN); "
                "try again later")
    else:
        return text
    return "%s %s." % (text, hint if hint.startswith("ngrok") else hint[0].upper() + hint[1:])


def resolve_unknown_outcome(self, error: NgrokError, result: dict) -> bool:
    """After a POST whose answer was lost: did it take effect?

    Never sends the POST again. A restart or a stop that took effect makes
    the session ID disappear, so the session is read (GET, safe to retry) a
    few times over RESOLVE_DELAYS. Gone: the action happened (True, with a
    warning). Still there: the outcome stays unknown (False), and the
    failure message says so. An update leaves the session in place, so its
    outcome cannot be told this way.
    """
    if self.action not in ("restart", "stop"):
        return False
    checks = []
    for delay in RESOLVE_DELAYS:
        time.sleep(delay)
        try:
            present = get_session(self.module.client, self.session_id) is not None
        except NgrokError as exc:
            checks.append("reading it failed (%s)" % exc.describe())
            break
        if not present:
            self.module.warn(
                "The answer to the %s request for tunnel session %s was lost (%s). The request was not sent "
                "again; the session was gone %s seconds later, so the %s took effect." % (
                    self.action, self.session_id, error.describe(), fmt(sum(RESOLVE_DELAYS[:len(checks) + 1])),
                    self.action))
            result["outcome_resolved"] = True
            return True
        checks.append("still connected after %s seconds" % fmt(sum(RESOLVE_DELAYS[:len(checks) + 1])))
    result["unknown_outcome_checks"] = checks
    return False


def wait_for_reconnect(self, old: dict, since: str, result: dict) -> dict:
    client = self.module.client
    cel = same_agent_filter(old, since)
    timeout = float(self.params["wait_timeout"])
    interval = float(self.params["wait_interval"])
    start = time.monotonic()
    deadline = start + timeout
    delay = min(FIRST_POLL_DELAY, timeout)
    while True:
        time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
        try:
            found = list_sessions(client, cel, max_items=2)
        except NgrokError as exc:
            self.module.fail("The restart of tunnel session %s WAS sent and took effect, but looking for the "
                             "reconnected agent failed: %s" % (self.session_id, exc.describe()),
                             exc, **result)
        if found:
            if len(found) > 1:
                self.module.warn("More than one session matches the restarted agent of %s; returning the newest "
                                 "(%s)" % (self.session_id, found[0].get("id")))
            return found[0]
        if time.monotonic() >= deadline:
            break
        delay = interval
    credential = (old.get("credential") or {}).get("id")
    return self.module.fail(
        "The restart of tunnel session %s WAS sent and accepted by ngrok, but the agent did not reconnect within "
        "%s seconds. Looked for a new session with credential %s, IP %s and metadata %r that started at or "
        "after %s; none appeared. Check the agent on its host." % (
            self.session_id, fmt(timeout), credential, old.get("ip"), old.get("metadata") or "", since),
        searched_filter=cel, **result)


_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def server_time(headers) -> str | None:
    """The server's Date header as RFC 3339 UTC: the moment the restart was accepted.

    HTTP servers send the IMF-fixdate form ``Sun, 06 Nov 1994 08:49:37 GMT``
    (RFC 9110); anything else gives None, and the caller falls back to the old
    session's start time. Parsed by hand: the email package costs more to
    import than the whole rest of this file.
    """
    value = headers.get("Date") if headers is not None else None
    if not value:
        return None
    fields = value.split()
    if len(fields) != 6 or fields[5] != "GMT" or fields[2] not in _MONTHS:
        return None
    day, year, clock = fields[1], fields[3], fields[4].split(":")
    if not (day.isdigit() and year.isdigit() and len(year) == 4 and len(clock) == 3
            and all(part.isdigit() and len(part) == 2 for part in clock)):
        return None
    hour, minute, second = (int(part) for part in clock)
    if not (1 <= int(day) <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        return None
    return "%s-%02d-%02dT%s:%s:%sZ" % (year, _MONTHS[fields[2]], int(day), clock[0], clock[1], clock[2])


def fmt(value: float) -> str:
    return "%g" % value


class TunnelSessionInfo:
    """Find tunnel sessions (the body of ngrok_tunnel_session_info)."""

    def __init__(self, module: NgrokModule) -> None:
        self.module = module
        self.params = module.params

    def run(self) -> None:
        params = self.params
        try:
            session_id = None if params["id"] is None else check_tunnel_session_id(params["id"])
            if params["metadata"] is not None and params["metadata"] == "":
                raise ValueError("metadata must not be empty; to find agents without metadata use "
                                 "filter: obj.metadata == \"\"")
            if params["filter"] is not None and not params["filter"].strip():
                raise ValueError("filter must not be empty: leave it unset to list every session")
            check_number("max_results", params["max_results"], 1, 1000000)
        except ValueError as exc:
            self.module.fail(str(exc))
        client = self.module.client
        result: dict[str, Any] = {"changed": False}
        try:
            if session_id is not None:
                session = get_session(client, session_id)
                result["tunnel_sessions"] = [session] if session is not None else []
            else:
                metadata = params["metadata"]
                cel = and_filters("obj.metadata == %s" % cel_string(metadata) if metadata is not None else None,
                                  params["filter"])
                if cel:
                    result["filter"] = cel
                result["tunnel_sessions"] = list_sessions(client, cel, params["max_results"])
        except NgrokError as exc:
            self.module.fail(explain("get" if session_id else "list", session_id, exc), exc, **result)
        self.module.exit(**result)
