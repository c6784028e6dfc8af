# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Endpoints in the ngrok API: listing them, joining them to their agent's
tunnel session, and choosing the public TCP endpoint that forwards to SSH.

INTERNAL: private to the collection; may change without notice.

ngrok's ``GET /endpoints`` cannot be filtered on ``tunnel_session``, so the
whole list is read (a page per 100 endpoints) and joined here, on the client.
An agent reached over SSH through ngrok has a TCP endpoint whose
``upstream_url`` names the local port 22; the API writes that upstream as
``tcp://localhost:22``, ``localhost:22`` or just ``22``, so the port is parsed,
never compared as a string.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokClient

LIST_PATH = "/endpoints"
LIST_KEY = "endpoints"
PAGE_SIZE = 100

#: The port sshd listens on, the default upstream port of the endpoint used for SSH.
SSH_PORT = 22

#: The fields of an endpoint kept in the ngrok_endpoints host variable.
SUMMARY_FIELDS = ("id", "name", "type", "proto", "url", "hostport", "upstream_url", "bindings")

_PORT_RE = re.compile(r"[0-9]{1,5}")


def list_endpoints(client: NgrokClient) -> list:
    """Every endpoint of the account, newest first, a page of PAGE_SIZE per request."""
    return list(client.paginate(LIST_PATH, LIST_KEY, params={"limit": str(PAGE_SIZE)}))


def session_id_of(endpoint) -> str | None:
    """The ID of the tunnel session an endpoint belongs to; None for cloud and edge endpoints."""
    if not isinstance(endpoint, dict):
        return None
    session = endpoint.get("tunnel_session")
    if isinstance(session, dict) and isinstance(session.get("id"), str) and session["id"]:
        return session["id"]
    return None


def endpoints_by_session(endpoints: list) -> dict[str, list]:
    """Agent endpoints grouped by tunnel session ID, in the order listed; the others are left out."""
    grouped: dict[str, list] = {}
    for endpoint in endpoints:
        session_id = session_id_of(endpoint)
        if session_id is not None:
            grouped.setdefault(session_id, []).append(endpoint)
    return grouped


def upstream_port(upstream_url) -> int | None:
    """The local port an endpoint forwards to, from ``tcp://localhost:22``, ``localhost:22`` or ``22``.

    None when there is no port, or when the upstream is not plain TCP (``http://``, ``https://``,
    ``tls://``...): such an upstream is not an SSH server, whatever its port.
    """
    if not isinstance(upstream_url, str):
        return None
    text = upstream_url.strip()
    if _PORT_RE.fullmatch(text):
        return _valid_port(int(text))
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme != "tcp":
            return None
    else:
        text = "tcp://" + text
    try:
        port = urlsplit(text).port
    except ValueError:
        return None
    return _valid_port(port)


def _valid_port(port) -> int | None:
    if isinstance(port, int) and 0 < port < 65536:
        return port
    return None


def public_address(endpoint) -> tuple[str, int] | None:
    """(host, port) of a TCP endpoint's public address, from ``url`` (``tcp://0.tcp.ngrok.io:12345``)
    or else ``hostport``; None when it has none."""
    for candidate in (endpoint.get("url"), endpoint.get("public_url")):
        if isinstance(candidate, str) and candidate.lower().startswith("tcp://"):
            address = _host_port(candidate)
            if address is not None:
                return address
    hostport = endpoint.get("hostport")
    if isinstance(hostport, str) and hostport:
        return _host_port("tcp://" + hostport)
    return None


def _host_port(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or _valid_port(port) is None:
        return None
    return parts.hostname, port  # type: ignore[return-value]


def is_public(endpoint) -> bool:
    """Whether the endpoint is reachable from the internet: ``bindings`` absent, or holding ``public``."""
    bindings = endpoint.get("bindings")
    if bindings is None:
        return True
    return isinstance(bindings, list) and "public" in bindings


def is_tcp(endpoint) -> bool:
    """A TCP endpoint: ``proto: tcp``, or (when proto is absent) a ``tcp://`` URL."""
    proto = endpoint.get("proto")
    if isinstance(proto, str) and proto:
        return proto.lower() == "tcp"
    url = endpoint.get("url")
    return isinstance(url, str) and url.lower().startswith("tcp://")


def ssh_endpoint(endpoints: list, port: int = SSH_PORT) -> tuple[dict, str, int] | None:
    """The endpoint to SSH through, with its public host and port, or None.

    It is the first (the newest, in ngrok's order) public TCP endpoint whose upstream is the local
    ``port``. An HTTP endpoint, or TCP to another port (a database on 5432), is never taken.
    """
    for endpoint in endpoints:
        if not isinstance(endpoint, dict) or not is_tcp(endpoint) or not is_public(endpoint):
            continue
        if upstream_port(endpoint.get("upstream_url")) != port:
            continue
        address = public_address(endpoint)
        if address is not None:
            return endpoint, address[0], address[1]
    return None


def summary(endpoint: dict) -> dict:
    """The part of an endpoint kept in the ngrok_endpoints host variable (absent fields left out)."""
    return {field: endpoint[field] for field in SUMMARY_FIELDS if field in endpoint}
