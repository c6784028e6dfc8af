# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Many agents at once: the bodies of ngrok_fleet_info (find the session of
each named agent by its metadata, in one paged listing) and ngrok_fleet_wait
(follow many restarted agents until they reconnect, each poll serving all of
them).

Both answer per name (a host of the play), so that a play can give each host
its own result, and fail each host on its own: a problem with one agent is
reported for that name, never by failing the whole task. Only a request that
fails (the API key, the network, ngrok) fails the task.

INTERNAL: private to the collection; may change without notice.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError, format_seconds
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_metadata,
    check_number,
    check_tunnel_session_id,
    metadata_text,
    shown,
)
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import (
    and_filters,
    cel_string,
    explain,
    list_sessions,
    metadata_in_filters,
    server_time,
    started_at_key,
)

#: The most session IDs a problem lists when several agents have the same metadata.
MAX_IDS_SHOWN = 10

#: The prefix of Ansible's omit placeholder: a variable set to ``omit`` arrives as this text.
OMIT_PREFIX = "__omit_place_holder__"

#: Bounds of the wait (seconds), as for the modules' wait_timeout and wait_interval.
MAX_WAIT_TIMEOUT = 3600
MIN_WAIT_INTERVAL = 1
MAX_WAIT_INTERVAL = 300

#: The first poll comes this many seconds after the wait starts (the last agent restarted needs a moment).
FIRST_POLL_DELAY = 1.0


def usable_metadata(value) -> str:
    """The metadata that names one agent, from what a play gave; raise ValueError saying what is wrong.

    A number is looked up as its text. An empty string (or an omit placeholder that reached us as text) is
    refused: an empty metadata would stand for every agent that has none. So are booleans, lists and dicts.
    """
    if isinstance(value, str) and value.startswith(OMIT_PREFIX):
        value = ""
    try:
        return check_metadata(metadata_text(value))
    except ValueError as exc:
        raise ValueError("its agent %s" % exc) from None


def newest_first(sessions: list) -> list:
    """Sessions sorted by started_at, newest first, whatever order the list came in (stable)."""
    return sorted(sessions, key=started_at_key, reverse=True)


def listed_ids(sessions: list) -> str:
    ids = [shown(s.get("id")) for s in sessions[:MAX_IDS_SHOWN]]
    return ", ".join(ids) + (", ..." if len(sessions) > MAX_IDS_SHOWN else "")


class FleetLookup:
    """ngrok_fleet_info: the connected session of each named agent, found by metadata in one paged listing."""

    def __init__(self, module: NgrokModule) -> None:
        self.module = module
        self.params = module.params

    def run(self) -> NoReturn:
        agents = self.params["agents"]
        names = [agent["name"] for agent in agents]
        try:
            if not agents:
                raise ValueError("agents is empty: give at least one agent (name and metadata)")
            seen: set = set()
            for name in names:
                if not name:
                    raise ValueError("an agent has an empty name: each needs a name, for example its host's "
                                     "inventory_hostname")
                if name in seen:
                    raise ValueError("the name %s is given twice in agents: each agent needs a name of its own"
                                     % shown(name))
                seen.add(name)
        except ValueError as exc:
            self.module.fail(str(exc))

        problems: dict[str, str] = {}
        metadata_of: dict[str, str] = {}
        for agent in agents:
            try:
                given = agent["name"] if agent["metadata"] is None else agent["metadata"]
                metadata_of[agent["name"]] = usable_metadata(given)
            except ValueError as exc:
                problems[agent["name"]] = "Nothing was looked up or sent for %s: %s." % (agent["name"], exc)
        names_of: dict[str, list] = {}
        for name, metadata in metadata_of.items():
            names_of.setdefault(metadata, []).append(name)
        for metadata, sharing in names_of.items():
            if len(sharing) > 1:
                for name in sharing:
                    problems[name] = (
                        "%s all have the agent metadata %s: each would act on the same agent and report it as its "
                        "own. Give each the metadata of its own agent. Nothing was sent for them."
                        % (", ".join(sharing), shown(metadata)))
        wanted = [m for m, sharing in names_of.items() if len(sharing) == 1]

        result: dict[str, Any] = {"changed": False, "tunnel_sessions": {}, "missing": {}, "problems": problems,
                                  "listed_at": None, "filters": metadata_in_filters(wanted)}
        dates: list = []
        found: dict[str, list] = {m: [] for m in wanted}
        try:
            for cel in result["filters"]:
                for session in list_sessions(self.module.client, cel,
                                             on_page=lambda response: dates.append(server_time(response.headers))):
                    listed = session.get("metadata", "") if isinstance(session, dict) else None
                    if listed in found:
                        found[listed].append(session)
        except NgrokError as exc:
            self.module.fail("%s Nothing was sent." % explain("list", None, exc), exc, **result)
        result["listed_at"] = dates[0] if dates and dates[0] else None

        for metadata in wanted:
            name = names_of[metadata][0]
            sessions = newest_first(found[metadata])
            if not sessions:
                missing = ("No connected agent has metadata %s: the agent is not running or not connected, or it was "
                           "started without that metadata (agent.metadata in its ngrok.yml, or --metadata)."
                           % shown(metadata))
                if self.params["skip_missing"]:
                    result["missing"][name] = missing + " Skipped (skip_missing)."
                else:
                    problems[name] = missing + (" Nothing was sent for %s. Set skip_missing=true (ngrok_skip_missing "
                                                "with the restart_agents role and playbook) to skip hosts whose agent "
                                                "is not connected." % name)
            elif len(sessions) > 1:
                problems[name] = ("%d connected agents have metadata %s (%s): give each agent its own metadata. "
                                  "Nothing was sent for %s." % (len(sessions), shown(metadata), listed_ids(sessions),
                                                                name))
            else:
                try:
                    check_tunnel_session_id(sessions[0].get("id"))
                except ValueError as exc:
                    problems[name] = ("ngrok's answer for metadata %s is not usable: %s. Nothing was sent for %s."
                                      % (shown(metadata), exc, name))
                else:
                    result["tunnel_sessions"][name] = sessions[0]
        result["msg"] = "%d of %d agents found, %d not connected, %d with a problem, in %d listing(s)" % (
            len(result["tunnel_sessions"]), len(agents), len(result["missing"]), len(problems), len(result["filters"]))
        self.module.exit(**result)


class FleetWait:
    """ngrok_fleet_wait: the new session of each restarted agent, every poll listing all of those not yet back."""

    def __init__(self, module: NgrokModule) -> None:
        self.module = module
        self.params = module.params

    def run(self) -> NoReturn:
        params = self.params
        sessions = params["tunnel_sessions"]
        try:
            names = list(sessions) if params["names"] is None else [n for n in params["names"] if n in sessions]
            pending: dict[str, dict] = {}
            for name in names:
                old = sessions[name]
                if not isinstance(old, dict):
                    raise ValueError("tunnel_sessions[%s] is a %s, not a tunnel session (a dict with id, credential, "
                                     "ip and metadata)" % (shown(name), type(old).__name__))
                check_tunnel_session_id(old.get("id"), option="tunnel_sessions[%s].id" % shown(name))
                pending[name] = old
            since = params["since"]
            if since is not None and started_at_key({"started_at": since}) == float("-inf"):
                raise ValueError("since %s is not an RFC 3339 time such as 2025-10-31T09:23:45Z" % shown(since))
            check_number("timeout", params["timeout"], 1, MAX_WAIT_TIMEOUT, " seconds")
            check_number("interval", params["interval"], MIN_WAIT_INTERVAL, MAX_WAIT_INTERVAL, " seconds")
        except ValueError as exc:
            self.module.fail(str(exc))

        result: dict[str, Any] = {"changed": False, "tunnel_sessions": {}, "not_reconnected": {}, "polls": 0}
        if self.module.check_mode or not pending:
            result["msg"] = "Nothing to wait for" + (" in check mode (nothing was restarted)"
                                                     if self.module.check_mode else "")
            self.module.exit(**result)

        timeout = float(params["timeout"])
        interval = float(params["interval"])
        deadline = time.monotonic() + timeout
        delay = min(FIRST_POLL_DELAY, timeout)
        while pending:
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            result["polls"] += 1
            self.poll(pending, since, result)
            if time.monotonic() >= deadline:
                break
            delay = interval
        for name, old in pending.items():
            result["not_reconnected"][name] = self.not_back(old, since, timeout)
        result["msg"] = "%d of %d agents reconnected, %d did not within %s seconds (%d polls)" % (
            len(result["tunnel_sessions"]), len(names), len(pending), format_seconds(timeout), result["polls"])
        if pending and params["fail_on_timeout"]:
            self.module.fail(result.pop("msg") + ": " + " ".join(result["not_reconnected"].values()), **result)
        self.module.exit(**result)

    def poll(self, pending: dict, since: str | None, result: dict) -> None:
        """One poll: list the sessions of the pending agents' metadata (started since ``since``); take each agent
        that is back out of ``pending`` into ``result``."""
        by_metadata: dict[str, list] = {}
        for name, old in pending.items():
            by_metadata.setdefault(old.get("metadata") or "", []).append(name)
        started = "obj.started_at >= timestamp(%s)" % cel_string(since) if since else None
        listed: list = []
        try:
            for cel in metadata_in_filters(list(by_metadata)):
                listed.extend(list_sessions(self.module.client, and_filters(cel, started)))
        except NgrokError as exc:
            self.module.fail("The restarts WERE sent, but looking for the reconnected agents (%s) failed: %s"
                             % (", ".join(sorted(pending)), exc.describe()), exc, **result)
        for metadata, names in by_metadata.items():
            candidates = [s for s in listed if isinstance(s, dict) and (s.get("metadata") or "") == metadata]
            for name in names:
                new = [s for s in newest_first(candidates) if same_agent(pending[name], s)]
                if not new:
                    continue
                if len(new) > 1:
                    self.module.warn("More than one session matches the restarted agent of %s (%s); taking the "
                                     "newest (%s)" % (name, pending[name].get("id"), new[0].get("id")))
                result["tunnel_sessions"][name] = new[0]
                del pending[name]

    @staticmethod
    def not_back(old: dict, since: str | None, timeout: float) -> str:
        credential = (old.get("credential") or {}).get("id")
        return ("The restart of tunnel session %s WAS sent and accepted by ngrok, but the agent did not reconnect "
                "within %s seconds. Looked for a new session with credential %s, IP %s and metadata %s%s; none "
                "appeared. Check the agent on its host." % (
                    old.get("id"), format_seconds(timeout), credential, old.get("ip"), shown(old.get("metadata") or ""),
                    " that started at or after %s" % since if since else ""))


def same_agent(old: dict, new: dict) -> bool:
    """Whether ``new`` is a later session of ``old``'s agent: the same credential, IP address and metadata, another
    ID, and a start at or after the old one's (an agent is known by those, as in the restart module's wait)."""
    if new.get("id") == old.get("id"):
        return False
    same_credential = ((new.get("credential") or {}).get("id") or "") == ((old.get("credential") or {}).get("id") or "")
    same_ip = (new.get("ip") or "") == (old.get("ip") or "")
    same_metadata = (new.get("metadata") or "") == (old.get("metadata") or "")
    return same_credential and same_ip and same_metadata and started_at_key(new) >= started_at_key(old)
