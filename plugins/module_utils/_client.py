# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one ngrok API client of community.ngrok.

INTERNAL: this module_util is private to the collection (its name starts with
an underscore). It may change without notice; do not import it from other
collections.

It owns every HTTP concern: base URL, headers, authentication, timeouts, JSON
encoding and decoding, error decoding, retries and paging. Modules never talk
HTTP themselves.

It speaks HTTP/1.1 itself, over ``socket`` (and ``ssl`` for https, imported
only then): one module run sends one or two ``Connection: close`` requests, and
importing ``requests`` (~60 ms) or even ``http.client`` (~12 ms with ``ssl``
and ``email``) would cost more than the whole request (see docs/benchmark.md).
Answers are read strictly: status line, headers, then a body framed by
``Content-Length``, ``chunked`` or the end of the connection. Proxies come
from ``https_proxy``/``all_proxy`` and ``no_proxy`` (http:// proxies, through a
CONNECT tunnel); certificates from the system trust store, or ``SSL_CERT_FILE``
and ``SSL_CERT_DIR``.

Retry rules (documented for operators in the modules' docs):

* 429 / ERR_NGROK_226 (rate limited) is waited out for every request, for at
  most ``rate_limit_timeout`` seconds in total (honouring ``Retry-After``,
  else short jittered probes); it does not use up ``retries``.
* ERR_NGROK_225 (too many concurrent requests) is retried for every request:
  ngrok did not act.
* A connection that could not be opened (refused, DNS failure, connect
  timeout) is retried: the request never left this machine.
* GET is idempotent, so a GET is also retried after any other 5xx (but 501
  and 505), a read timeout or a dropped connection.
* A POST whose outcome is unknown (any 5xx but 501 and 505, 503 included,
  unless its error code says what happened; ERR_NGROK_810 whatever its status;
  a read timeout; a connection dropped after the request may have been sent)
  is NEVER sent again: it raises :class:`NgrokError` with ``outcome='unknown'``.
  Nothing documents that ngrok did not act when it answers 5xx, and a 5xx from
  a proxy, a load balancer or a CDN may come after the request went on.
"""

from __future__ import annotations

import io
import json
import os
import random
import socket
import sys
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

COLLECTION_NAME = "community.ngrok"
COLLECTION_VERSION = "0.1.0"
DEFAULT_API_URL = "https://api.ngrok.com"
NGROK_API_VERSION = "2"

#: Largest response body read, in bytes. A tunnel session list page of 100
#: sessions is about 50 KB; anything near this is not an ngrok answer.
MAX_BODY_BYTES = 4 * 1024 * 1024

#: Longest status or header line, and most header lines, accepted in an answer.
MAX_LINE_BYTES = 65536
MAX_HEADERS = 100
MAX_INTERIM_ANSWERS = 10

#: Backoff: the n-th retry waits a random time in [0, min(CAP, BASE * 2**n)]
#: ("full jitter"), so that parallel forks spread out instead of retrying in
#: lockstep. A Retry-After header replaces the computed wait (plus up to one
#: second of jitter), capped at RETRY_AFTER_CAP.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 60.0

#: Rate limiting (429, ERR_NGROK_226) does not use up ``retries``: a request
#: waits it out for at most ``rate_limit_timeout`` seconds in total. Without a
#: Retry-After header the n-th wait is random in [0, min(RATE_LIMIT_BACKOFF_CAP,
#: BACKOFF_BASE * 2**n)]: short, jittered probes, so that forks spread out and
#: a slot that frees in ngrok's rolling window is taken soon.
RATE_LIMIT_BACKOFF_CAP = 4.0
#: A hard stop on rate-limited attempts of one request, whatever the waits.
MAX_RATE_LIMITED_ATTEMPTS = 1000

#: Any other 5xx answer leaves the outcome unknown, a 503 too: ngrok documents
#: no 5xx as "not acted upon", and a proxy, a load balancer or a CDN (520-524)
#: may send one after it passed the request on. A GET is retried after it; a
#: POST never. These two say for certain that the request was not acted upon
#: (not implemented; HTTP version not supported).
DEFINITE_5XX_STATUSES = frozenset((501, 505))
#: Error codes that mean ngrok did not act on the request (retry), and codes
#: that mean the outcome is unknown.
RETRY_ALWAYS_CODES = frozenset(("ERR_NGROK_225",))
RATE_LIMITED_CODE = "ERR_NGROK_226"
UNKNOWN_OUTCOME_CODES = frozenset(("ERR_NGROK_810",))
#: Codes that say for certain what happened, whatever the HTTP status: the
#: agent cannot do it (804-806, 1121, 1122) or tried and failed (807-809).
DEFINITE_FAILURE_CODES = frozenset("ERR_NGROK_%d" % n for n in (804, 805, 806, 807, 808, 809, 1121, 1122))

OUTCOME_FAILED = "failed"
OUTCOME_UNKNOWN = "unknown"


class NgrokError(Exception):
    """A request to the ngrok API did not succeed.

    ``outcome`` is ``failed`` when ngrok certainly did not act on the request
    and ``unknown`` when it may have (only possible for POST).
    """

    def __init__(self, message: str, status_code: int | None = None, error_code: str | None = None,
                 api_msg: str | None = None, operation_id: str | None = None,
                 outcome: str = OUTCOME_FAILED, attempts: int = 1, method: str | None = None,
                 path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.error_code = error_code
        self.api_msg = api_msg
        self.operation_id = operation_id
        self.outcome = outcome
        self.attempts = attempts
        self.method = method
        self.path = path
        self.rate_limit_waited = 0.0
        self.from_ngrok = False

    @property
    def unknown_outcome(self) -> bool:
        return self.outcome == OUTCOME_UNKNOWN

    def describe(self) -> str:
        """``HTTP 404 ERR_NGROK_X: msg (operation op_...)`` or the transport message."""
        if self.status_code is None:
            return self.message
        text = "HTTP %d" % self.status_code
        if self.error_code:
            text += " %s" % self.error_code
        if self.api_msg:
            text += ": %s" % self.api_msg.rstrip(".")
        if self.operation_id:
            text += " (operation ID %s)" % self.operation_id
        return text

    def as_dict(self) -> dict:
        """The structured part, returned to the user as ``api_error``."""
        return {
            "status_code": self.status_code,
            "error_code": self.error_code,
            "msg": self.api_msg if self.status_code is not None else self.message,
            "operation_id": self.operation_id,
            "outcome": self.outcome,
            "attempts": self.attempts,
        }


class NgrokResponse:
    """A successful (2xx) response: status, headers and decoded JSON (or None)."""

    def __init__(self, status_code: int, headers, data) -> None:
        self.status_code = status_code
        self.headers = headers
        self.data = data


class _NotSent(Exception):
    """The request never left this machine (safe to retry)."""


class _MaybeSent(Exception):
    """The request may have reached ngrok; the answer was lost."""


class _InvalidRequest(ValueError):
    """The URL cannot be put on the wire (whitespace, control or non-ASCII characters); nothing was sent."""


class _ProtocolError(Exception):
    """The answer is not well-formed HTTP/1.x, or it stopped before its end."""


class _NoAnswer(_ProtocolError):
    """The connection closed before the first byte of an answer."""


class NgrokClient:
    """A small, synchronous client of the ngrok API.

    ``sleep`` and ``rand`` are injectable so that tests need not wait.
    """

    def __init__(self, api_key: str, api_url: str = DEFAULT_API_URL, validate_certs: bool = True,
                 timeout: float = 30.0, retries: int = 5, rate_limit_timeout: float = 120.0,
                 user_agent: str | None = None,
                 sleep=time.sleep, rand=random.uniform, clock=time.monotonic) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.rate_limit_timeout = rate_limit_timeout
        self.validate_certs = validate_certs
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self.requests_sent = 0
        self.retry_waits: list[float] = []
        self._api_key = api_key
        self._headers = {
            "Authorization": "Bearer %s" % api_key,
            "Ngrok-Version": NGROK_API_VERSION,
            "Accept": "application/json",
            "User-Agent": user_agent or default_user_agent(),
        }

    # -- public API -----------------------------------------------------

    def get(self, path: str, params: dict | None = None) -> NgrokResponse:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict | None = None) -> NgrokResponse:
        return self.request("POST", path, body={} if body is None else body)

    def paginate(self, path: str, key: str, params: dict | None = None, max_items: int | None = None):
        """Yield the items of a list endpoint, following ``next_page_uri`` (on the same origin only)."""
        from ansible_collections.community.ngrok.plugins.module_utils._client_extras import paginate
        return paginate(self, path, key, params, max_items)

    def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None) -> NgrokResponse:
        """Send one API call, retrying only where that is safe (see module doc)."""
        url = self._url(path)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        display = self._display(url)
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else None
        idempotent = method in ("GET", "HEAD")
        attempt = 0
        retried = 0  # retries used (rate limiting does not count)
        rate_limited = 0
        rate_waited = 0.0
        while True:
            attempt += 1
            can_retry = retried < self.retries
            try:
                response, raw, body_problem = self._send(method, url, data, headers)
            except _NotSent as exc:
                if can_retry:
                    retried += 1
                    self._wait(retried, None)
                    continue
                raise NgrokError("Could not connect to %s: %s" % (self.api_url, exc), outcome=OUTCOME_FAILED,
                                 attempts=attempt, method=method, path=display) from exc
            except _MaybeSent as exc:
                if idempotent and can_retry:
                    retried += 1
                    self._wait(retried, None)
                    continue
                from ansible_collections.community.ngrok.plugins.module_utils._client_extras import scrub
                problem = scrub(str(exc), self._api_key)  # it may quote what the server sent
                raise NgrokError("No answer from ngrok for %s %s: %s" % (method, display, problem),
                                 outcome=OUTCOME_FAILED if idempotent else OUTCOME_UNKNOWN,
                                 attempts=attempt, method=method, path=display) from exc

            status = response.status_code
            if 200 <= status < 300:
                return NgrokResponse(status, response.headers, self._decode_success(method, display, response, raw))

            from ansible_collections.community.ngrok.plugins.module_utils._client_extras import decode_error
            error = decode_error(response, raw, method, display, attempt, body_problem, self._api_key)
            if (status == 429 or error.error_code == RATE_LIMITED_CODE) and error.error_code not in UNKNOWN_OUTCOME_CODES:
                rate_limited += 1
                delay = self._delay(rate_limited, response.headers.get("Retry-After"), RATE_LIMIT_BACKOFF_CAP)
                if 0 < self.rate_limit_timeout and rate_waited + delay <= self.rate_limit_timeout \
                        and rate_limited < MAX_RATE_LIMITED_ATTEMPTS:
                    rate_waited += delay
                    self._pause(delay)
                    continue
                error.rate_limit_waited = rate_waited
                raise error
            if error.error_code in RETRY_ALWAYS_CODES:
                if can_retry:
                    retried += 1
                    self._wait(retried, response.headers.get("Retry-After"))
                    continue
                raise error
            if (status >= 500 and status not in DEFINITE_5XX_STATUSES and error.error_code not in DEFINITE_FAILURE_CODES) \
                    or error.error_code in UNKNOWN_OUTCOME_CODES:
                if idempotent and can_retry:
                    retried += 1
                    self._wait(retried, response.headers.get("Retry-After"))
                    continue
                if not idempotent:
                    error.outcome = OUTCOME_UNKNOWN
            raise error

    # -- internals ------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url[:8].lower().startswith(("http://", "https://")):
            return path_or_url
        return self.api_url + "/" + path_or_url.lstrip("/")

    def _display(self, url: str) -> str:
        """The URL relative to api_url, for messages."""
        if url.startswith(self.api_url) and url[len(self.api_url):len(self.api_url) + 1] in ("", "/", "?"):
            return url[len(self.api_url):] or "/"
        return url

    def _send(self, method, url, data, headers):
        """One attempt: (reply, body, body_problem), or _NotSent / _MaybeSent / NgrokError."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        try:
            host = _wire_host(parts.hostname or "")
            port = parts.port or (443 if scheme == "https" else 80)
            _check_wire_text(target, "the URL")
        except ValueError as exc:  # a bad port (from urlsplit), or _InvalidRequest
            raise NgrokError("Invalid request URL for %s: %s" % (self.api_url, exc), method=method) from exc
        all_headers = dict(self._headers)
        if headers:
            all_headers.update(headers)
        for name, value in all_headers.items():
            if not value.isascii() or any(char < " " and char != "\t" or char == "\x7f" for char in value):
                # Never the value: it may be the API key.
                raise NgrokError("Cannot send the request to %s: the %s header contains a line break, a control or a "
                                 "non-ASCII character (not shown)" % (self.api_url, name), method=method)
        self.requests_sent += 1
        conn = _connection(scheme, host, port, self.timeout, self.validate_certs, _proxy(scheme, host, port))
        try:
            try:
                conn.connect()
            except socket.timeout as exc:
                raise _NotSent("no connection within %s seconds (timeout)" % _fmt_seconds(self.timeout)) from exc
            except OSError as exc:
                if _is_tls_error(exc):
                    # The TLS handshake failed: nothing was sent, but retrying will not help.
                    raise NgrokError("TLS error talking to %s: %s. Check the server certificate (the system trust "
                                     "store, or SSL_CERT_FILE), or set validate_certs=false only for a trusted test "
                                     "endpoint" % (self.api_url, _reason(exc)), method=method) from exc
                if str(exc).startswith("Tunnel connection failed"):
                    # The proxy answered, and refused: a retry gets the same answer.
                    raise NgrokError("The proxy refused to connect to %s: %s" % (self.api_url, _reason(exc)),
                                     method=method) from exc
                raise _NotSent(_reason(exc)) from exc
            # One deadline for the whole answer (status line, headers, body), however it trickles in.
            deadline = self._clock() + self.timeout
            try:
                conn.request(method, target, body=data, headers=all_headers)
                response = conn.getresponse(deadline, self._clock)
            except socket.timeout as exc:
                raise _MaybeSent("no response within %s seconds (timeout)" % _fmt_seconds(self.timeout)) from exc
            except (_ProtocolError, OSError) as exc:
                raise _MaybeSent("the connection was dropped (%s)" % _reason(exc)) from exc
            reply = _Reply(response.status, response.reason, response.headers)
            try:
                raw = self._read_body(response, deadline)
            except _MaybeSent as exc:
                status = reply.status_code
                if 200 <= status < 300 and method != "GET":
                    # ngrok answered success before the body broke off: the action happened.
                    return reply, b"", str(exc)
                if 400 <= status < 500 or status in DEFINITE_5XX_STATUSES:
                    # The status line says the request was not acted upon; only its explanation is lost.
                    return reply, b"", str(exc)
                raise
            return reply, raw, None
        finally:
            conn.close()

    def _read_body(self, response, deadline: float) -> bytes:
        """Read at most MAX_BODY_BYTES, by ``deadline`` (``timeout`` after the request was sent).

        Each read returns what has arrived (read1); the connection's reader
        cuts the socket timeout to the time left, and the deadline is checked
        after every read: a body that trickles in cannot hold the module past
        ``timeout``.
        """
        now = self._clock()
        chunks = []
        size = 0
        try:
            while True:
                if now > deadline:
                    raise _MaybeSent("the response body did not arrive within %s seconds"
                                     % _fmt_seconds(self.timeout))
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _MaybeSent("the response body is larger than %d bytes" % MAX_BODY_BYTES)
                chunks.append(chunk)
                now = self._clock()
        except (_ProtocolError, OSError) as exc:
            if isinstance(exc, socket.timeout) or self._clock() >= deadline:
                raise _MaybeSent("the response body did not arrive within %s seconds" % _fmt_seconds(self.timeout)) from exc
            raise _MaybeSent("the response body broke off (%s)" % _reason(exc)) from exc
        return b"".join(chunks)

    def _decode_success(self, method, display, response, raw):
        if not raw.strip():
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands of levels deep
            if method != "GET":
                # A POST that ngrok answered with 2xx happened; its body does not matter.
                return None
            from ansible_collections.community.ngrok.plugins.module_utils._client_extras import snippet, unusable_answer
            raise unusable_answer(response, method, display,
                                  "the body is not JSON: %s" % snippet(raw, secret=self._api_key)) from exc

    def _wait(self, retry: int, retry_after) -> None:
        self._pause(self._delay(retry, retry_after, BACKOFF_CAP))

    def _delay(self, retry: int, retry_after, cap: float) -> float:
        """Seconds before the ``retry``-th retry: Retry-After plus jitter, else full-jitter backoff."""
        from ansible_collections.community.ngrok.plugins.module_utils._client_extras import parse_retry_after
        seconds = parse_retry_after(retry_after)
        if seconds is not None:
            return min(seconds, RETRY_AFTER_CAP) + self._rand(0, 1.0)
        return self._rand(0, min(cap, BACKOFF_BASE * (2 ** (retry - 1))))

    def _pause(self, delay: float) -> None:
        self.retry_waits.append(delay)
        self._sleep(delay)


class _Reply:
    """Status line and headers of one answer (``headers.get`` ignores case)."""

    def __init__(self, status_code: int, reason: str, headers) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers


#: The environment variables that can name a proxy for https (no_proxy alone cannot).
PROXY_VARIABLES = frozenset(("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"))


def _proxy(scheme: str, host: str, port: int):
    """The proxy for an https request, or None; the proxy code is only imported when a variable is set."""
    if scheme != "https" or PROXY_VARIABLES.isdisjoint(os.environ):
        return None
    from ansible_collections.community.ngrok.plugins.module_utils._client_extras import proxy_for
    return proxy_for(scheme, host, port)


def _connection(scheme: str, host: str, port: int, timeout: float, validate_certs: bool, proxy):
    """An unconnected connection to ``host``: direct, or tunnelled through ``proxy`` (the tests fake this)."""
    return _Connection(scheme, host, port, timeout, validate_certs, proxy)


class _Connection:
    """One HTTP/1.1 exchange on one socket (``Connection: close``), over TLS for https.

    Close to ``http.client``'s connections: ``connect()`` (TCP, the proxy's
    CONNECT tunnel, the TLS handshake), ``request()``, ``getresponse(deadline,
    clock)`` (every read of the answer ends by ``deadline``) and ``close()``.
    """

    def __init__(self, scheme: str, host: str, port: int, timeout: float, validate_certs: bool, proxy) -> None:
        """``host`` as _wire_host returns it (NgrokClient._send checked it)."""
        self.scheme = scheme
        self.host = host
        self.port = port
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.proxy = proxy
        self.sock: Any = None  # a socket.socket, or an ssl.SSLSocket once connected over https
        self._file: Any = None
        self._method = ""

    def connect(self) -> None:
        address = (self.proxy.host, self.proxy.port) if self.proxy is not None else (self.host, self.port)
        # An ASCII name as bytes: the socket module then skips the idna codec.
        self.sock = socket.create_connection((_ascii_or_text(address[0]), address[1]), self.timeout)
        if self.proxy is not None:
            from ansible_collections.community.ngrok.plugins.module_utils._client_extras import open_tunnel
            open_tunnel(self.sock, self.host, self.port, self.proxy)
        if self.scheme == "https":
            import ssl  # pylint: disable=import-outside-toplevel  # only https pays for it (~6 ms)

            context = ssl.create_default_context()
            if not self.validate_certs:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self.sock = context.wrap_socket(self.sock, server_hostname=self.host)

    def request(self, method: str, target: str, body: bytes | None = None, headers: dict | None = None) -> None:
        """Send the request (``target`` and the header values were checked by NgrokClient._send)."""
        default_port = 443 if self.scheme == "https" else 80
        head = ["%s %s HTTP/1.1" % (method, target), "Host: %s" % _authority(self.host, self.port, default_port),
                "Accept-Encoding: identity", "Connection: close"]
        head.extend("%s: %s" % item for item in (headers or {}).items())
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append("Content-Length: %d" % len(body or b""))
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + (body or b""))
        self._method = method

    def getresponse(self, deadline: float, clock):
        """The status line and headers; every read of the answer ends by ``deadline`` (a ``clock()`` reading)."""
        self._file = io.BufferedReader(_SocketReader(self.sock, deadline, clock))
        status, reason, headers = _read_head(self._file)
        for dummy in range(MAX_INTERIM_ANSWERS):
            if not 100 <= status < 200:
                break
            status, reason, headers = _read_head(self._file)  # interim answers (100 Continue) come first
        else:
            raise _ProtocolError("more than %d interim (1xx) answers" % MAX_INTERIM_ANSWERS)
        return _Response(self._file, status, reason, headers, self._method == "HEAD")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self.sock is not None:
            self.sock.close()


class _SocketReader(io.RawIOBase):
    """The bytes of a socket; each read waits only for the time left until ``deadline``."""

    def __init__(self, sock, deadline: float, clock) -> None:
        super().__init__()
        self._sock = sock
        self._deadline = deadline
        self._clock = clock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._deadline - self._clock()
        if left <= 0:
            raise socket.timeout("timed out")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Headers:
    """Response headers; ``get`` ignores case and returns the first value of a repeated header."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values  # lower-case names

    def get(self, name: str, default=None):
        return self._values.get(name.lower(), default)


class _Response:
    """Status, reason, headers, and ``read1`` over the body (``b""`` at its end)."""

    def __init__(self, reader, status: int, reason: str, headers: _Headers, head_only: bool) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._reader = reader
        self._chunked = False
        self._left = None  # bytes left: of the body (Content-Length) or of this chunk; None: until the end
        if head_only or status in (204, 304):
            self._left = 0
        elif "chunked" in (headers.get("Transfer-Encoding") or "").lower():
            self._chunked = True
        else:
            length = (headers.get("Content-Length") or "").strip()
            if length.isascii() and length.isdigit():
                self._left = int(length)
        self._done = self._left == 0 and not self._chunked

    def read1(self, size: int = 65536) -> bytes:
        if self._done:
            return b""
        if self._chunked and not self._left:
            self._next_chunk()
            if self._done:
                return b""
        data = self._reader.read1(size if self._left is None else min(size, self._left))
        if self._left is None:
            self._done = not data
            return data
        if not data:
            raise _ProtocolError("the body stopped %d bytes before its end" % self._left)
        self._left -= len(data)
        self._done = self._left == 0 and not self._chunked
        return data

    def _next_chunk(self) -> None:
        if self._left == 0:  # the CRLF after the previous chunk's data
            if self._reader.readline(MAX_LINE_BYTES + 1) not in (b"\r\n", b"\n"):
                raise _ProtocolError("a chunk is not followed by CRLF")
        line = self._reader.readline(MAX_LINE_BYTES + 1)
        size = line.split(b";", 1)[0].strip()
        if not size or size.strip(b"0123456789abcdefABCDEF") or len(line) > MAX_LINE_BYTES:
            raise _ProtocolError("bad chunk size line %r" % line[:40] if line else "the chunked body stopped")
        self._left = int(size, 16)
        if self._left == 0:
            for dummy in range(MAX_HEADERS + 1):  # trailer fields, up to an empty line (or the end)
                if self._reader.readline(MAX_LINE_BYTES + 1) in (b"\r\n", b"\n", b""):
                    self._done = True
                    return
            raise _ProtocolError("more than %d trailer lines" % MAX_HEADERS)


def _read_head(reader):
    """(status, reason, headers) of one answer, from its status line to the empty line."""
    line = reader.readline(MAX_LINE_BYTES + 1)
    if not line:
        raise _NoAnswer("the server closed the connection without an answer")
    parts = line.decode("latin-1").split(None, 2)
    if len(line) > MAX_LINE_BYTES or len(parts) < 2 or not parts[0].startswith("HTTP/1.") \
            or not (len(parts[1]) == 3 and parts[1].isascii() and parts[1].isdigit()):
        raise _ProtocolError("not an HTTP/1.x status line: %r" % line[:40])
    values = {}
    folds_into = None  # the header an obsolete folded line continues (None: one we did not keep)
    for dummy in range(MAX_HEADERS + 1):
        line = reader.readline(MAX_LINE_BYTES + 1)
        if line in (b"\r\n", b"\n", b""):
            return int(parts[1]), parts[2].strip() if len(parts) > 2 else "", _Headers(values)
        text = line.decode("latin-1")
        if len(line) > MAX_LINE_BYTES:
            raise _ProtocolError("a header line is longer than %d bytes" % MAX_LINE_BYTES)
        if text[:1] in (" ", "\t") and values:  # obs-fold: the value goes on, after a space (RFC 9112 5.2)
            if folds_into is not None:
                values[folds_into] = (values[folds_into] + " " + text.strip()).strip()
            continue
        name, colon, value = text.partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name or "\t" in name:
            raise _ProtocolError("bad header line %r" % line[:40])
        folds_into = None if name in values else name
        values.setdefault(name, value.strip())
    raise _ProtocolError("more than %d header lines" % MAX_HEADERS)


def _wire_host(host: str) -> str:
    """The host name as it goes on the wire (IDNA for a non-ASCII name), or _InvalidRequest."""
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise _InvalidRequest("the host name cannot be encoded (%s)" % exc) from exc
    _check_wire_text(host, "the host name")
    return host


def _check_wire_text(text: str, what: str) -> None:
    if not text.isascii() or any(char <= " " or char == "\x7f" for char in text):
        raise _InvalidRequest("%s contains whitespace, control or non-ASCII characters" % what)


def _authority(host: str, port: int, default_port: int | None) -> str:
    name = "[%s]" % host if ":" in host else host
    return name if port == default_port else "%s:%d" % (name, port)


def _ascii_or_text(host: str):
    return host.encode("ascii") if host.isascii() else host


def _is_tls_error(exc: OSError) -> bool:
    """Whether ``exc`` comes from TLS (ssl is only loaded once an https connection was made)."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(exc, ssl.SSLError)


def default_user_agent() -> str:
    try:
        from ansible.module_utils.ansible_release import __version__ as ansible_version
    except ImportError:  # pragma: no cover
        ansible_version = "unknown"
    python_version = "%d.%d.%d" % sys.version_info[:3]
    return "%s/%s (ansible-core/%s; python/%s)" % (COLLECTION_NAME, COLLECTION_VERSION, ansible_version, python_version)


def _reason(exc) -> str:
    """A one-line reason from a socket, TLS or protocol exception."""
    if isinstance(exc, socket.timeout):
        return "timed out"
    return " ".join(str(exc).split()) or type(exc).__name__


def _fmt_seconds(value: float) -> str:
    return "%g" % value
