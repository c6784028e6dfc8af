# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tunnel sessions in the ngrok API: their paths, reading and listing them,
CEL filters on them, and the sentence that explains a failed request.

INTERNAL: private to the collection; may change without notice.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokClient, NgrokError, format_seconds

LIST_PATH = "/tunnel_sessions"
LIST_KEY = "tunnel_sessions"
PAGE_SIZE = 100

WINDOWS_HINT = ("ngrok cannot restart Windows agents remotely (the agent restarts itself with exec(), which Windows "
                "does not have). Stop it with community.ngrok.ngrok_tunnel_session_stop and let its service manager "
                "start it again (for example a Windows service with a recovery action 'Restart the Service')")

#: What ngrok answers to each action: the word for it done, the codes for "this agent cannot", for "the agent
#: tried and failed", and for "not on an SSH session".
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

_AUTH_CODES = frozenset("ERR_NGROK_%d" % n for n in (200, 201, 202, 203, 206, 207, 208))
_FORBIDDEN_CODES = frozenset(("ERR_NGROK_204", "ERR_NGROK_205", "ERR_NGROK_220"))


def session_path(session_id: str, action: str | None = None) -> str:
    path = "%s/%s" % (LIST_PATH, session_id)
    return path + "/" + action if action else path


def get_session(client: NgrokClient, session_id: str, missing_ok: bool = True) -> dict | None:
    """The session, or None when ngrok answers 404 (or that NgrokError, unless ``missing_ok``)."""
    path = session_path(session_id)
    try:
        response = client.get(path)
    except NgrokError as exc:
        if missing_ok and exc.status_code == 404 and exc.from_ngrok:
            return None
        raise
    data = response.data
    if not isinstance(data, dict) or not data.get("id"):
        raise client.unusable_answer(response, "GET", path, "it is not a tunnel session (%s)"
                                     % ("empty body" if data is None else type(data).__name__))
    return data


#: The longest CEL filter built from a list of metadata values (characters, before URL encoding): ngrok sends the
#: filter in the query string, and URLs much longer than a few KB are refused by many servers and proxies.
MAX_LIST_FILTER = 1500


def list_sessions(client: NgrokClient, cel_filter: str | None = None, max_items: int | None = None,
                  on_page=None) -> list:
    """The sessions that match ``cel_filter``, every page of them (or the first ``max_items``).

    ``on_page`` is called with each page's response (see ``NgrokClient.paginate``).
    """
    params = {"limit": str(PAGE_SIZE)}
    if cel_filter:
        params["filter"] = cel_filter
    return list(client.paginate(LIST_PATH, LIST_KEY, params=params, max_items=max_items, on_page=on_page))


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


def metadata_filter(metadata: str) -> str:
    """CEL for: the agent whose metadata is exactly ``metadata`` (an agent without metadata has ``""``)."""
    return "obj.metadata == %s" % cel_string(metadata)


def metadata_in_filters(values, max_length: int = MAX_LIST_FILTER) -> list:
    """CEL filters that together match the agents whose metadata is one of ``values``: ``obj.metadata in [...]``.

    One filter per group of values, so that each stays within ``max_length`` characters and names at most
    PAGE_SIZE values (one page holds the agents of a group, when each value names one agent). Duplicates are
    dropped; the order of ``values`` is kept. A single value longer than ``max_length`` gets a filter of its own.
    """
    filters = []
    group: list = []
    length = 0
    for value in dict.fromkeys(values):
        literal = cel_string(value)
        if group and (length + len(literal) + 2 > max_length or len(group) >= PAGE_SIZE):
            filters.append("obj.metadata in [%s]" % ", ".join(group))
            group, length = [], 0
        if not group:
            length = len("obj.metadata in []")
        group.append(literal)
        length += len(literal) + 2
    if group:
        filters.append("obj.metadata in [%s]" % ", ".join(group))
    return filters


def and_filters(*expressions) -> str | None:
    parts = [e for e in expressions if e]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return " && ".join("(%s)" % p for p in parts)


def same_agent_filter(old: dict, since: str) -> str:
    """CEL for: the agent of ``old``, reconnected at or after ``since`` (RFC 3339; no time bound when empty,
    as ``timestamp("")`` is not a valid CEL timestamp)."""
    credential = old.get("credential") or {}
    parts = [
        "obj.credential.id == %s" % cel_string(credential.get("id") or ""),
        "obj.ip == %s" % cel_string(old.get("ip") or ""),
        metadata_filter(old.get("metadata") or ""),
        "obj.id != %s" % cel_string(old.get("id") or ""),
    ]
    if since:
        parts.append("obj.started_at >= timestamp(%s)" % cel_string(since))
    return " && ".join(parts)


def started_at_key(session) -> float:
    """A session's ``started_at`` as a POSIX timestamp, to sort by; minus infinity when absent or not RFC 3339."""
    value = session.get("started_at") if isinstance(session, dict) else None
    if not isinstance(value, str):
        return float("-inf")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"  # fromisoformat takes "Z" only from Python 3.11 on
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return float("-inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def server_time(headers) -> str | None:
    """The server's ``Date`` header as RFC 3339 UTC (the moment the restart was accepted), or None.

    Without a usable Date, the caller falls back to the old session's start time.
    """
    value = headers.get("Date") if headers is not None else None
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def explain(action: str, session_id: str | None, error: NgrokError, sent: int = 1) -> str:
    """A sentence for the operator: what failed, ngrok's words, and what to do.

    ``action`` is restart, stop, update, get or list; ``session_id`` the session
    concerned (None for a list); ``sent`` how many times a POST whose outcome
    is unknown was sent (re-sent while the session stayed connected).
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
        again = ("It was not sent again" if sent <= 1 else
                 "It was sent %d times in all (sent again only after a lost answer while the session stayed "
                 "connected), and not again" % sent)
        return ("The %s request for tunnel session %s may or may not have reached ngrok: %s. %s, so the agent may or "
                "may not have %s; %s." % (action, session_id, error.describe(), again, done, check))
    text = "Could not %s %s: %s." % (action, target, error.describe())
    hint = _hint(action, error)
    if hint is None:
        return text
    return "%s %s." % (text, hint if hint.startswith("ngrok") else hint[0].upper() + hint[1:])


def _hint(action: str, error: NgrokError) -> str | None:
    """What the operator can do about a failure, or None."""
    spec = ACTIONS.get(action, {})
    status, code = error.status_code, error.error_code
    if status == 401 or code in _AUTH_CODES:
        return ("ngrok did not accept the API key: check api_key or NGROK_API_KEY (it must be an API key from the "
                "ngrok dashboard, not an agent authtoken or an API key ID)")
    if status == 403 or code in _FORBIDDEN_CODES:
        return ("the API key was accepted but its account may not do this (API access not allowed, account "
                "suspended, or this machine's IP address is restricted)")
    if code == "ERR_NGROK_250":
        return ("the filter is not a valid CEL expression for ngrok: compare fields of obj (id, metadata, "
                "agent_version, ip, os, region, started_at, credential) with == != < <= > >= in, combine with && || !, "
                "and quote strings, for example obj.os == \"linux\" && obj.metadata != \"\"")
    if status == 404:
        return ("the session does not exist (any more): a tunnel session ID changes every time its agent restarts "
                "or reconnects. Look the current ID up with community.ngrok.ngrok_tunnel_session_info")
    if status == 429 or code == "ERR_NGROK_226":
        return ("ngrok's rate limit (by default 120 requests per rolling 60 seconds per account) was still exceeded "
                "after waiting %s seconds over %d attempts. Lower forks or use serial, or raise rate_limit_timeout"
                % (format_seconds(round(error.rate_limit_waited, 1)), error.attempts))
    if code in spec.get("unsupported", ()):
        hint = "this agent does not support a remote %s" % action
        return hint + ". If it runs on Windows: " + WINDOWS_HINT if action == "restart" else hint
    if code in spec.get("agent_failed", ()):
        if action == "update":  # ngrok also refuses an update it need not run: its message says which
            return ("the agent got the command but failed to update. ngrok also refuses an update when none is "
                    "available, when the agent's configuration disables update checks, and while the agent is updating "
                    "or waiting for the restart that runs its update (then restart it); otherwise look at the agent's "
                    "log on its host")
        return "the agent got the command but failed to %s; look at the agent's log on its host" % action
    if code in ("ERR_NGROK_1121", "ERR_NGROK_1122"):
        return "this is an SSH tunnel session: SSH sessions cannot be restarted or updated remotely"
    if status in (501, 505):
        return "the server (ngrok, or a proxy in between) does not support this request; check api_url"
    if status is not None and status >= 500:
        return ("ngrok had a server error; try again later" if error.from_ngrok else
                "the error came from something between this machine and ngrok (a proxy, a load balancer, a CDN); "
                "try again later")
    return None
