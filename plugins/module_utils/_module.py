# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The base of every community.ngrok module: the connection options, their
validation (before any request), the client, and failures and warnings
scrubbed of the API key.

INTERNAL: private to the collection; may change without notice.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from typing import NoReturn
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.community.ngrok.plugins.module_utils._client import (
    DEFAULT_API_URL,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    NgrokClient,
    NgrokError,
    scrub,
)
from ansible_collections.community.ngrok.plugins.module_utils._pacing import Pacer

#: Bounds of the connection options (a value outside is an input error).
MIN_TIMEOUT = 0.1
MAX_TIMEOUT = 3600
MAX_RETRIES = 20
MAX_RATE_LIMIT = 10000

#: ngrok's limit on an agent's metadata (characters).
MAX_METADATA = 4096

#: ts_ and 27 letters and digits (a KSUID), as in every ID ngrok shows; used with fullmatch (no trailing newline).
TUNNEL_SESSION_ID_RE = re.compile(r"ts_[0-9A-Za-z]{27}")
_ID_CHARS_RE = re.compile(r"ts_[0-9A-Za-z]+")
_OTHER_PREFIX_RE = re.compile(r"([a-z]{1,8})_[0-9A-Za-z]+")


def connection_argument_spec() -> dict:
    """The options documented once in the ``community.ngrok.api`` doc fragment."""
    return dict(
        api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["NGROK_API_KEY"])),
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["NGROK_API_URL"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30),
        retries=dict(type="int", default=5),
        rate_limit_timeout=dict(type="float", default=120),
        rate_limit=dict(type="int", default=120, fallback=(env_fallback, ["NGROK_RATE_LIMIT"])),
        rate_limit_window=dict(type="float", default=60, fallback=(env_fallback, ["NGROK_RATE_LIMIT_WINDOW"])),
    )


def tunnel_session_id_argument_spec(required: bool = True) -> dict:
    return dict(type="str", required=required, aliases=["session_id", "tunnel_session_id"])


def tunnel_session_target_argument_spec() -> dict:
    """How an action module names its session: ``id``, or ``metadata`` (with ``skip_missing``).

    The module also declares ``id`` and ``metadata`` mutually exclusive and one of them required.
    """
    return dict(
        id=tunnel_session_id_argument_spec(required=False),
        # raw: a list or a dict is refused as such (metadata_text), not looked up as its Python text
        metadata=dict(type="raw"),
        skip_missing=dict(type="bool", default=False),
    )


def check_api_url(value) -> str:
    """Return the normalised API URL or raise ValueError saying what to fix.

    Messages show the URL without credentials, query or fragment: a key pasted
    into a URL by mistake is never echoed.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("api_url must not be empty: leave it unset for %s" % DEFAULT_API_URL)
    value = value.strip()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError("api_url is not a valid URL (a bad host or port): it must look like %s" % DEFAULT_API_URL) from exc
    shown = _shown_url(parts)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("api_url %r is not a valid URL: it must look like %s" % (shown, DEFAULT_API_URL))
    if "@" in parts.netloc:
        raise ValueError("api_url must not contain credentials (user:password@); pass the API key in api_key")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("api_url %r must not have a query string or a fragment (the part from '?' or '#' on; not "
                         "shown)" % shown)
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("api_url %r contains spaces or control characters" % shown)
    if not parts.path.isascii():
        raise ValueError("api_url %r has non-ASCII characters in its path: percent-encode them" % shown)
    if scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("api_url %r uses http:// to a host that is not this machine: the API key would travel "
                         "in clear text. Use https://, or http:// only for a loopback host "
                         "(127.0.0.0/8, ::1, localhost)" % shown)
    if port == 0:
        raise ValueError("api_url %r has port 0" % shown)
    return value.rstrip("/")


def _shown_url(parts) -> str:
    """scheme://host[:port]/path of a split URL: no credentials, query or fragment."""
    host = parts.netloc.rpartition("@")[2]
    text = "%s://%s%s" % (parts.scheme, host, parts.path) if parts.scheme else (host + parts.path)
    return text if len(text) <= 100 else text[:100] + "..."


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def check_api_key(value) -> str:
    if value is None or not str(value).strip():
        if os.environ.get("NGROK_API_KEY", "").strip():
            # The fallback applies only to an option that is not given, so api_key was given, blank or null
            # (ansible-core 2.19 passes a null str option as "").
            raise ValueError("api_key is empty or null (an empty variable?), and a given api_key hides NGROK_API_KEY, "
                             "which is set: give api_key a value, or leave it out (default(omit)) to use "
                             "NGROK_API_KEY")
        raise ValueError("No ngrok API key: set the api_key option or the NGROK_API_KEY environment variable "
                         "(an API key from the ngrok dashboard, not an agent authtoken)")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("api_key contains spaces, line breaks or control characters: set it to the API key alone "
                         "(the value is not shown here)")
    if not value.isascii():
        raise ValueError("api_key contains non-ASCII characters (a typographic quote or a look-alike letter pasted "
                         "with it?): ngrok API keys are ASCII letters, digits and '_' (the value is not shown here)")
    return value


def check_ca_path(value) -> None:
    """A ca_path must name a CA bundle file (or a directory of certificates) that exists."""
    if value is not None and not os.path.exists(value):
        raise ValueError("ca_path %r does not exist: it must be a PEM file of CA certificates (or a directory of them)"
                         % value)


def check_tunnel_session_id(value, option: str = "id") -> str:
    """Return the ID or raise ValueError; run before any request is sent."""
    if not isinstance(value, str) or not value:
        raise ValueError("%s must be a tunnel session ID such as ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v; got an empty value"
                         % option)
    if TUNNEL_SESSION_ID_RE.fullmatch(value):
        return value
    if _ID_CHARS_RE.fullmatch(value):
        raise ValueError("%s %s is not a tunnel session ID: after 'ts_' it must have 27 letters and digits, not %d "
                         "(was it cut short or pasted twice?)" % (option, shown(value), len(value) - 3))
    other = _OTHER_PREFIX_RE.fullmatch(value)
    if other:
        raise ValueError("%s %s is not a tunnel session ID: it has the prefix %r of another kind of ngrok resource. "
                         "A tunnel session ID starts with 'ts_'" % (option, shown(value), other.group(1) + "_"))
    raise ValueError("%s %s is not a tunnel session ID: it must be 'ts_' followed by 27 letters and digits only, "
                     "such as ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v" % (option, shown(value)))


def metadata_text(value):
    """The metadata a task gave, as text when it can be: a number is looked up as its text.

    Raise ValueError for a boolean, a list or a dict: no agent metadata is one, and reading it as text would look
    up something else. Anything else is returned as it is, for check_metadata.
    """
    for kind, word in ((bool, "a boolean"), (dict, "a dict"), (list, "a list")):
        if isinstance(value, kind):
            hint = (" (ansible-core before 2.19 turns text that looks like JSON into a dict when it templates it)"
                    if kind is dict else "")
            raise ValueError("metadata is %s, not a string%s" % (word, hint))
    if isinstance(value, (int, float)):
        return str(value)
    return value


def check_metadata(value) -> str:
    """Return the agent metadata that names one agent, or raise ValueError; run before any request is sent."""
    if not isinstance(value, str) or not value:
        raise ValueError("metadata must not be empty (an empty variable?): it names the agent, as set by agent.metadata "
                         "in its ngrok.yml or --metadata")
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        raise ValueError("metadata %s contains a line break, a tab or another control character: it must be the "
                         "agent's metadata exactly" % shown(value))
    if len(value) > MAX_METADATA:
        raise ValueError("metadata %s has %d characters: ngrok keeps at most %d"
                         % (shown(value), len(value), MAX_METADATA))
    return value


def shown(value, size: int = 64) -> str:
    """A value for a message, quoted (repr: control and invisible characters escaped) and cut after ``size``
    characters. For input and for anything an answer contains."""
    text = str(value)
    return repr(text if len(text) <= size else text[:size] + "...")


def check_number(name: str, value, minimum, maximum, unit: str = "") -> None:
    if value is None:
        return
    if math.isnan(value) or value < minimum or value > maximum:
        raise ValueError("%s must be between %s and %s%s; got %s" % (name, minimum, maximum, unit, value))


def check_connection(params: dict) -> None:
    """Check the connection options in ``params`` (normalising ``api_url`` in place) before any request.

    Raises ValueError saying what to fix. Shared by the modules and the inventory plugin.
    """
    check_api_key(params["api_key"])
    params["api_url"] = check_api_url(params["api_url"])
    check_ca_path(params["ca_path"])
    check_number("timeout", params["timeout"], MIN_TIMEOUT, MAX_TIMEOUT, " seconds")
    check_number("retries", params["retries"], 0, MAX_RETRIES)
    check_number("rate_limit_timeout", params["rate_limit_timeout"], 0, MAX_TIMEOUT, " seconds")
    check_number("rate_limit", params["rate_limit"], 0, MAX_RATE_LIMIT, " requests (0 turns pacing off)")
    check_number("rate_limit_window", params["rate_limit_window"], MIN_TIMEOUT, MAX_TIMEOUT, " seconds")


def new_client(params: dict, warn) -> NgrokClient:
    """The client for checked connection options, paced in the budget that every community.ngrok
    module and plugin on this machine shares (``warn`` reports a record that cannot be used)."""
    return NgrokClient(
        api_key=params["api_key"],
        api_url=params["api_url"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        timeout=params["timeout"],
        retries=params["retries"],
        rate_limit_timeout=params["rate_limit_timeout"],
        pacer=Pacer(params["api_url"], params["api_key"], params["rate_limit"], params["rate_limit_window"], warn=warn),
    )


def _scrubbed(value, secret):
    """A copy of ``value`` with every string in it (in dicts and lists, at any depth) scrubbed of pieces of
    ``secret``. Not recursive: an answer may nest its JSON deeper than Python's recursion limit allows."""
    if not secret or not isinstance(secret, str):
        return value
    root = [value]
    todo = [(root, 0)]
    while todo:
        container, index = todo.pop()
        item = container[index]
        if isinstance(item, str):
            container[index] = scrub(item, secret)
        elif isinstance(item, dict):
            container[index] = copy = dict(item)
            todo.extend((copy, name) for name in copy)
        elif isinstance(item, (list, tuple)):
            container[index] = copy = list(item)
            todo.extend((copy, position) for position in range(len(copy)))
    return root[0]


class NgrokModule:
    """An AnsibleModule with the connection options, validated, and a client.

    Nothing is sent until the module calls the client, and the client is only
    built once every connection option passed validation.
    """

    def __init__(self, argument_spec: dict, supports_check_mode: bool = True, **kwargs) -> None:
        spec = connection_argument_spec()
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self._client: NgrokClient | None = None

    def validate_connection(self) -> None:
        try:
            check_connection(self.params)
        except ValueError as exc:
            self.fail(str(exc))

    @property
    def client(self) -> NgrokClient:
        client = self._client
        if client is None:
            self.validate_connection()
            client = self._client = new_client(self.params, warn=self.warn)
        return client

    # fail_json() and exit_json() exit; not every ansible-core version annotates them NoReturn.
    # Every failure and warning is scrubbed of pieces of the API key, whatever part of an answer it quotes:
    # no_log masks whole values only, and ansible-core does not mask warnings at all.
    def fail(self, msg: str, error: NgrokError | None = None, **result) -> NoReturn:  # type: ignore[misc]
        if error is not None:
            result["api_error"] = error.as_dict()
        result["msg"] = msg
        self.module.fail_json(**_scrubbed(result, self.params.get("api_key")))

    def warn(self, msg: str) -> None:
        self.module.warn(_scrubbed(msg, self.params.get("api_key")))

    def exit(self, **result) -> NoReturn:  # type: ignore[misc]
        self.module.exit_json(**result)
