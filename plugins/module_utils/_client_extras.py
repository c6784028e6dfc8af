# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The parts of the ngrok API client that a plain successful request never runs.

INTERNAL: private to the collection; may change without notice.

Decoding ngrok's error answers, Retry-After, paging, proxies and their CONNECT
tunnel. They live apart from ``_client`` only for speed: AnsiballZ ships
module_utils as source and Python compiles every imported one on each module
run, so ``_client`` imports this module inside the functions that need it (see
docs/benchmark.md).
"""

from __future__ import annotations

import json
import math
import os
from urllib.parse import unquote, urlencode, urlsplit

from ansible_collections.community.ngrok.plugins.module_utils._client import (
    NgrokError,
    _authority,
    _NoAnswer,
    _ProtocolError,
    _read_head,
)


def decode_error(response, raw, method, display, attempt, body_problem=None, secret=None) -> NgrokError:
    """The NgrokError for a non-2xx answer; any text quoted from it is scrubbed of ``secret`` (the API key)."""
    status = response.status_code
    body = None
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands of levels deep
        body = None
    error_code = api_msg = operation_id = None
    if isinstance(body, dict):
        error_code = str_or_none(body.get("error_code"))
        api_msg = str_or_none(body.get("msg"))
        details = body.get("details")
        if isinstance(details, dict):
            operation_id = str_or_none(details.get("operation_id"))
    if api_msg is None:
        reason = response.reason or ""
        if body_problem:
            detail = body_problem
        elif raw.strip():
            detail = "the response is not an ngrok error: %s" % snippet(raw, secret=secret)
        else:
            detail = "empty response body"
        api_msg = ("%s (%s)" % (reason, detail) if reason else detail).strip()
    api_msg = scrub(api_msg, secret)
    operation_id = scrub(operation_id or str_or_none(response.headers.get("ngrok-operation-id")), secret)
    error_code = scrub(error_code, secret)
    error = NgrokError("", status_code=status, error_code=error_code, api_msg=api_msg,
                       operation_id=operation_id, attempts=attempt, method=method, path=display)
    # True when the body is ngrok's own error JSON (it always has status_code and msg); a 404 from a
    # proxy or a load balancer is not ngrok saying that a session does not exist.
    error.from_ngrok = isinstance(body, dict) and "status_code" in body and "msg" in body
    error.message = "%s %s: %s" % (method, display, error.describe())
    error.args = (error.message,)
    return error


def unusable_answer(response, method, display, problem) -> NgrokError:
    """A 2xx answer that cannot be used: a failure that still gives its status and ngrok's operation ID."""
    return NgrokError("ngrok answered %s %s with HTTP %d but %s" % (method, display, response.status_code, problem),
                      status_code=response.status_code, api_msg=problem,
                      operation_id=str_or_none(response.headers.get("ngrok-operation-id")), method=method, path=display)


def paginate(client, path: str, key: str, params: dict | None = None, max_items: int | None = None):
    """Yield the items of a list endpoint, following ``next_page_uri``.

    ``next_page_uri`` is followed as ngrok gives it, but only while it
    points at the same origin as ``api_url``: the API key is never sent
    anywhere else.
    """
    url = client._url(path)
    if params:
        url += "?" + urlencode(params)
    seen = set()
    count = 0
    while url:
        seen.add(url)
        response = client.request("GET", url)
        page = response.data
        if not isinstance(page, dict) or not isinstance(page.get(key), list):
            raise unusable_answer(response, "GET", client._display(url), "there is no %r list in it" % key)
        for item in page[key]:
            yield item
            count += 1
            if max_items is not None and count >= max_items:
                return
        next_url = page.get("next_page_uri")
        if not next_url:
            return
        if origin(next_url) != origin(client.api_url):
            raise NgrokError("Refusing to follow next_page_uri %s: it is not on %s, and the API key is only "
                             "ever sent to api_url" % (client._display(next_url), client.api_url),
                             method="GET", path=client._display(next_url))
        if next_url in seen:
            raise NgrokError("ngrok returned the same next_page_uri twice (%s); stopping to avoid a loop"
                             % client._display(next_url), method="GET", path=client._display(next_url))
        url = next_url


def origin(url: str) -> tuple:
    """(scheme, host, port) with the default port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return (scheme, (parts.hostname or "").lower(), port)


class Proxy:
    """An http:// proxy for https requests: host, port, and the CONNECT headers (credentials)."""

    def __init__(self, host: str, port: int, headers: dict) -> None:
        self.host = host
        self.port = port
        self.headers = headers

    def __repr__(self) -> str:
        return "Proxy(%s:%d)" % (self.host, self.port)


def proxy_for(scheme: str, host: str, port: int, environ=None) -> Proxy | None:
    """The proxy for an https request to host:port from https_proxy/all_proxy and no_proxy, or None.

    Plain http:// is only ever allowed to loopback (see _module), which a proxy
    cannot reach: it is never proxied.
    """
    if scheme != "https":
        return None
    environ = os.environ if environ is None else environ
    url = env_value(environ, "https_proxy") or env_value(environ, "all_proxy")
    if not url or no_proxy(host, port, env_value(environ, "no_proxy") or ""):
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    try:
        proxy_port = parts.port or 80
    except ValueError:
        proxy_port = -1
    if parts.scheme.lower() != "http" or not parts.hostname or proxy_port < 0:
        raise NgrokError("Unsupported proxy %s://%s in https_proxy/all_proxy: only http:// proxies "
                         "(http://host:port) are supported" % (parts.scheme, parts.hostname or ""))
    headers = {}
    if parts.username is not None:
        import base64
        credentials = "%s:%s" % (unquote(parts.username), unquote(parts.password or ""))
        headers["Proxy-Authorization"] = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return Proxy(parts.hostname, proxy_port, headers)


def open_tunnel(sock, host: str, port: int, proxy: Proxy) -> None:
    """Have the proxy at the other end of ``sock`` open a CONNECT tunnel to host:port.

    A refusal (or an answer that is not HTTP) raises ``OSError("Tunnel connection
    failed: ...")``; a proxy that closes without answering raises
    ConnectionResetError, which the client retries like a refused connection.
    """
    authority = _authority(host, port, None)
    head = ["CONNECT %s HTTP/1.1" % authority, "Host: %s" % authority]
    head.extend("%s: %s" % item for item in proxy.headers.items())
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii"))
    reader = sock.makefile("rb")
    try:
        status, reason, dummy = _read_head(reader)
    except _NoAnswer as exc:
        raise ConnectionResetError("the proxy closed the connection without answering CONNECT") from exc
    except _ProtocolError as exc:
        raise OSError("Tunnel connection failed: the proxy's answer is not HTTP (%s)" % exc) from exc
    finally:
        reader.close()
    if status != 200:
        raise OSError("Tunnel connection failed: %d %s" % (status, reason))


def env_value(environ, name: str) -> str:
    """``name`` or ``NAME`` from the environment (lower case first, as curl and Python do)."""
    return (environ.get(name) or environ.get(name.upper()) or "").strip()


def no_proxy(host: str, port: int, entries: str) -> bool:
    """True when no_proxy (``*``, hosts, domain suffixes, optionally with :port) excludes host:port."""
    host = host.lower().rstrip(".")
    for entry in entries.replace(" ", "").lower().split(","):
        if not entry:
            continue
        if entry == "*":
            return True
        name, entry_port = entry, ""
        head, sep, tail = entry.rpartition(":")
        if sep and tail.isdigit() and (":" not in head or head.endswith("]")):
            name, entry_port = head, tail
        name = name.strip("[]").strip(".")
        if entry_port and int(entry_port) != port:
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def parse_retry_after(value) -> float | None:
    """Seconds from a Retry-After header (delta-seconds only); None when absent or not a number."""
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    if math.isnan(seconds) or seconds < 0:
        return None
    return seconds


def snippet(raw: bytes, size: int = 120, secret=None) -> str:
    """The start of a body, for a message: whitespace squeezed, ``secret`` scrubbed BEFORE it is cut."""
    text = scrub(raw[:MAX_SCRUBBED].decode("utf-8", "replace"), secret)
    text = " ".join(text.split())
    if len(text) > size:
        text = text[:size] + "..."
    return repr(text)


#: How much of a body snippet() reads (and scrubs) before it cuts its quote.
MAX_SCRUBBED = 4096


def scrub(text, secret, shortest: int = 8):
    """``text`` with every piece of ``secret`` that is ``shortest`` characters or longer masked.

    A server or a proxy can echo the request back, Authorization header
    included. Ansible's no_log masking only replaces the whole value, so a
    quote cut to a few dozen characters could show part of the API key; this
    catches a piece of it anywhere in the text.
    """
    if not secret or not text:
        return text
    shortest = min(shortest, len(secret))
    out = []
    start = i = 0
    while i <= len(text) - shortest:
        if text[i:i + shortest] not in secret:
            i += 1
            continue
        end = i + shortest
        while end < len(text) and text[i:end + 1] in secret:
            end += 1
        out.append(text[start:i] + "********")
        start = i = end
    out.append(text[start:])
    return "".join(out)


def str_or_none(value):
    if value is None:
        return None
    return str(value)
