# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Restart, stop or update one tunnel session: the body of those three modules,
with the lookup of the session by its agent's metadata, check mode, the
resolution of a lost answer (and the safe re-send of a restart or stop that
did not happen), and following the agent across a restart (``wait``).

INTERNAL: private to the collection; may change without notice.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

from ansible_collections.community.ngrok.plugins.module_utils._client import (
    OUTCOME_UNKNOWN,
    NgrokError,
    NgrokResponse,
    format_seconds,
)
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_metadata,
    check_number,
    check_tunnel_session_id,
    metadata_text,
    shown,
)
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import (
    ACTIONS,
    PAGE_SIZE,
    WINDOWS_HINT,
    explain,
    get_session,
    list_sessions,
    metadata_filter,
    same_agent_filter,
    server_time,
    session_path,
    started_at_key,
)

#: Bounds of wait_timeout and wait_interval (seconds).
MAX_WAIT_TIMEOUT = 3600
MIN_WAIT_INTERVAL = 1
MAX_WAIT_INTERVAL = 300

#: Waiting for a restarted agent: the first poll after FIRST_POLL_DELAY
#: seconds, then one every ``wait_interval`` seconds until ``wait_timeout``.
FIRST_POLL_DELAY = 1.0

#: After a restart or stop whose answer was lost, the session is read after
#: each of these delays (seconds) until it is gone: 3 reads over 7 seconds.
RESOLVE_DELAYS = (1.0, 2.0, 4.0)

#: The actions whose lost answer can be resolved by reading the session (it
#: disappears when they take effect), and so re-sent when they did not happen.
RESOLVABLE_ACTIONS = ("restart", "stop")

#: What the reads after a lost answer found.
GONE = "gone"
CONNECTED = "connected"
UNREADABLE = "unreadable"

#: The most session IDs a failure lists when several agents have the metadata.
MAX_IDS_SHOWN = 10


class TunnelSessionAction:
    """restart, stop or update one tunnel session."""

    def __init__(self, module: NgrokModule, action: str) -> None:
        self.module = module
        self.action = action
        self.params = module.params
        self.session_id = ""
        self.result: dict[str, Any] = {"changed": False}

    def run(self) -> NoReturn:
        params = self.params
        metadata = params["metadata"]
        try:
            if metadata is None:
                self.session_id = check_tunnel_session_id(params["id"])
                if params["skip_missing"]:
                    raise ValueError("skip_missing is only used with metadata: a session given by its id is never "
                                     "skipped")
            else:
                metadata = check_metadata(metadata_text(metadata))
            if params.get("wait"):
                check_number("wait_timeout", params["wait_timeout"], 1, MAX_WAIT_TIMEOUT, " seconds")
                check_number("wait_interval", params["wait_interval"], MIN_WAIT_INTERVAL, MAX_WAIT_INTERVAL,
                             " seconds")
        except ValueError as exc:
            self.module.fail(str(exc))
        result = self.result

        session: dict[str, Any] = {}
        if metadata is not None:
            session = self.find_session(metadata)
        result["tunnel_session_id"] = self.session_id
        if not session and (self.module.check_mode or params.get("wait")):
            session = self.read_session()
        if session:
            self.refuse_unsupported(session)
            result["tunnel_session"] = session
        if self.module.check_mode:
            result["changed"] = True
            self.module.exit(**result)

        response = self.send_action()
        result["changed"] = True
        if params.get("wait"):
            since = (server_time(response.headers) if response is not None else None) or session.get("started_at") or ""
            result["new_tunnel_session"] = self.wait_for_reconnect(session, since)
        self.module.exit(**result)

    def find_session(self, metadata: str) -> dict:
        """The one connected session whose agent has this metadata; sets ``session_id``.

        No match fails, or exits unchanged with ``skip_missing``; several fail. Nothing is sent then.
        """
        try:
            found = list_sessions(self.module.client, metadata_filter(metadata), max_items=PAGE_SIZE)
        except NgrokError as exc:
            self.module.fail("%s The %s request was not sent." % (explain("list", None, exc), self.action), exc,
                             **self.result)
        if not found:
            if self.params["skip_missing"]:
                self.module.exit(msg="No connected agent has metadata %s: skipped, the %s request was not sent "
                                     "(skip_missing)." % (shown(metadata), self.action),
                                 tunnel_session_id=None, tunnel_session=None, **self.result)
            self.module.fail("No connected agent has metadata %s: the %s request was not sent. Check that the agent "
                             "runs, with this metadata (agent.metadata in its ngrok.yml, or --metadata); set "
                             "skip_missing=true to accept that it is not connected." % (shown(metadata), self.action),
                             **self.result)
        ids = [item.get("id") if isinstance(item, dict) else None for item in found]
        if len(found) > 1:
            listed = ", ".join(shown(i) for i in ids[:MAX_IDS_SHOWN]) + (", ..." if len(ids) > MAX_IDS_SHOWN else "")
            self.module.fail("%s connected agents have metadata %s (%s): the %s request was not sent. Give each agent "
                             "its own metadata, or name the session by its id."
                             % ("%d or more" % len(ids) if len(ids) >= PAGE_SIZE else len(ids), shown(metadata),
                                listed, self.action), **self.result)
        try:
            self.session_id = check_tunnel_session_id(ids[0])
        except ValueError as exc:
            self.module.fail("ngrok's answer for metadata %s is not usable: %s. The %s request was not sent."
                             % (shown(metadata), exc, self.action), **self.result)
        return found[0]

    def read_session(self) -> dict:
        """The session before the action; any failure (a 404 too) names its HTTP status and operation ID."""
        try:
            session = get_session(self.module.client, self.session_id, missing_ok=False)
        except NgrokError as exc:
            self.module.fail("%s The %s request was not sent." % (explain("get", self.session_id, exc), self.action),
                             exc, **self.result)
        return session or {}

    def refuse_unsupported(self, session: dict) -> None:
        """Fail, as ngrok would, when the session's agent cannot take the action (Windows, SSH)."""
        if self.action == "restart" and str(session.get("os", "")).lower() == "windows":
            self.module.fail("Cannot restart tunnel session %s: its agent runs on Windows. %s."
                             % (self.session_id, WINDOWS_HINT), tunnel_session=session, **self.result)
        if ACTIONS[self.action]["ssh"] and session.get("transport") == "ssh":
            self.module.fail("Cannot %s tunnel session %s: it is an SSH tunnel session, and SSH sessions cannot be "
                             "restarted or updated remotely." % (self.action, self.session_id),
                             tunnel_session=session, **self.result)

    def send_action(self) -> NgrokResponse | None:
        """POST the action: ngrok's answer, or None when a lost answer was resolved by reading (the session is gone).

        A restart or a stop whose answer was lost is resolved by reading the
        session (resolve_unknown_outcome). Still connected after the reads: it
        did not happen, so it is sent again, at most ``retries`` times, and a
        lost answer to that is resolved the same way. A read that fails, no
        retries left, or any other failure: the module fails. An update is
        never sent again (reading cannot tell whether it happened).
        """
        path = session_path(self.session_id, self.action)
        resendable = self.action in RESOLVABLE_ACTIONS
        resends_left = self.params["retries"] if resendable else 0
        lost: list[NgrokError] = []  # the lost answers, in order
        checks: list[str] = []  # what the reads found, and each re-send's answer, in order
        while True:
            if resendable:
                self.result["posts_sent"] = len(lost) + 1
            try:
                response = self.module.client.post(path)
            except NgrokError as exc:
                error = exc
            else:
                if lost:
                    self.module.warn(
                        "The answer to the %s request for tunnel session %s was lost (%s), and the session was still "
                        "connected %s seconds later, so the %s had not happened: the request was sent again, %d times "
                        "in all, and ngrok accepted the last one." % (
                            self.action, self.session_id, lost[0].describe(), format_seconds(sum(RESOLVE_DELAYS)),
                            self.action, len(lost) + 1))
                return response
            if lost:
                checks.append("sent again (request %d): %s" % (len(lost) + 1, error.describe()))
            if not error.unknown_outcome:
                if lost:
                    self.fail_after_resend(error, len(lost) + 1, checks)
                self.module.fail(explain(self.action, self.session_id, error), error, **self.result)
            lost.append(error)
            found = self.resolve_unknown_outcome(error, len(lost), checks) if resendable else UNREADABLE
            if found == GONE:
                return None
            if found == UNREADABLE or resends_left == 0:
                self.fail_unknown(error, len(lost), checks, retries_used_up=found == CONNECTED)
            resends_left -= 1

    def resolve_unknown_outcome(self, error: NgrokError, posts: int, checks: list) -> str:
        """After a restart or stop whose answer was lost: did it take effect? GONE, CONNECTED or UNREADABLE.

        Never sends the POST. A restart or a stop that took effect makes the
        session ID disappear, so the session is read (GET, safe to retry) after
        each of RESOLVE_DELAYS. Gone: the action happened (GONE, with a
        warning). Still there after the last read: it did not (CONNECTED). A
        read that fails leaves the outcome unknown (UNREADABLE). What each read
        found goes to ``checks``. ``posts`` is how many times it was sent.
        """
        for number in range(1, len(RESOLVE_DELAYS) + 1):
            time.sleep(RESOLVE_DELAYS[number - 1])
            waited = format_seconds(sum(RESOLVE_DELAYS[:number]))
            try:
                present = get_session(self.module.client, self.session_id) is not None
            except NgrokError as exc:
                checks.append("reading it failed (%s)" % exc.describe())
                return UNREADABLE
            if not present:
                sent = ("The request was not sent again" if posts == 1 else
                        "It had been sent %d times (each earlier answer was lost too, and the session was still "
                        "connected afterwards); it was not sent again" % posts)
                self.module.warn(
                    "The answer to the %s request for tunnel session %s was lost (%s). %s; the session was gone %s "
                    "seconds later, so the %s took effect." % (
                        self.action, self.session_id, error.describe(), sent, waited, self.action))
                self.result["outcome_resolved"] = True
                return GONE
            checks.append("still connected after %s seconds" % waited)
        return CONNECTED

    def fail_unknown(self, error: NgrokError, posts: int, checks: list, retries_used_up: bool) -> NoReturn:
        """Fail with the outcome unknown: the last answer was lost, and reading did not or could not resolve it."""
        msg = explain(self.action, self.session_id, error, sent=posts)
        if retries_used_up:
            msg += " The session was still connected, but no retries were left (retries=%d)." % self.params["retries"]
        if checks:
            self.result["unknown_outcome_checks"] = checks
            msg += " Read again since: %s." % "; ".join(checks)
        self.module.fail(msg, error, **self.result)

    def fail_after_resend(self, error: NgrokError, posts: int, checks: list) -> NoReturn:
        """Fail on a re-send that ngrok refused: an earlier request's answer was lost, so the outcome stays unknown."""
        msg = ("%s That was request %d, sent again because the answer to the earlier one was lost while the session "
               "stayed connected; the earlier one may still take effect, so the outcome is unknown. Read again since: "
               "%s." % (explain(self.action, self.session_id, error), posts, "; ".join(checks)))
        # api_error describes this re-send, but the outcome is the action's: that of the earlier, lost requests.
        error.outcome = OUTCOME_UNKNOWN
        self.result["unknown_outcome_checks"] = checks
        self.module.fail(msg, error, **self.result)

    def wait_for_reconnect(self, old: dict, since: str) -> dict:
        """The new session of the restarted agent, polled for until ``wait_timeout``."""
        cel = same_agent_filter(old, since)
        timeout = float(self.params["wait_timeout"])
        interval = float(self.params["wait_interval"])
        deadline = time.monotonic() + timeout
        delay = min(FIRST_POLL_DELAY, timeout)
        while True:
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            try:
                found = list_sessions(self.module.client, cel, max_items=PAGE_SIZE)
            except NgrokError as exc:
                self.module.fail("The restart of tunnel session %s WAS sent and took effect, but looking for the "
                                 "reconnected agent failed: %s" % (self.session_id, exc.describe()),
                                 exc, **self.result)
            if found:
                # The newest by started_at, whatever order the list came in (stable: ties keep ngrok's order).
                found = sorted(found, key=started_at_key, reverse=True)
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
                self.session_id, format_seconds(timeout), credential, old.get("ip"), old.get("metadata") or "", since),
            searched_filter=cel, **self.result)
