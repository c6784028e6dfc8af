# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one ngrok API client of community.ngrok, on ``requests``.

INTERNAL: this module_util is private to the collection (its name starts with
an underscore). It may change without notice; do not import it from other
collections.

It owns every HTTP concern: base URL, headers, authentication, timeouts, JSON
encoding and decoding, error decoding, retries, rate limiting and paging.
Modules and plugins never talk HTTP themselves.

Transport: one ``requests.Session`` per client. The API key is set through an
auth object (so a ``~/.netrc`` entry never replaces it), redirects are never
followed (the key is only ever sent to ``api_url``), and proxies and CA
bundles follow requests' environment conventions (``https_proxy``,
``all_proxy``, ``no_proxy``, ``REQUESTS_CA_BUNDLE``), unless ``ca_path`` names
a bundle.

Retry rules (the docsite guide "Retries and faults" explains them to operators):

* Pacing: with a ``pacer`` (see ``_pacing``), every attempt, retries and
  rate-limited re-attempts included, first waits its turn in the request
  budget that all modules on this machine share, so that a fleet stays under
  ngrok's rate limit instead of probing it.
* 429 / ERR_NGROK_226 (rate limited) is waited out for every request, for at
  most ``rate_limit_timeout`` seconds in total (honouring ``Retry-After``,
  else short jittered probes); it does not use up ``retries``.
* ERR_NGROK_225 (too many concurrent requests) is retried for every request:
  ngrok did not act.
* A connection that could not be opened (refused, DNS failure, connect
  timeout, a proxy that cannot be reached) is retried: the request never left
  this machine.
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

import json
import math
import random
import socket
import sys
import time
import traceback
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.ansible_release import __version__ as ANSIBLE_CORE_VERSION

from ansible_collections.community.ngrok.plugins.module_utils._version import COLLECTION_VERSION

try:
    import requests
    from requests.auth import AuthBase
    from urllib3.exceptions import HTTPError as Urllib3Error
    from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: str | None = traceback.format_exc()
    AuthBase = object  # type: ignore[assignment,misc]
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

COLLECTION_NAME = "community.ngrok"
DEFAULT_API_URL = "https://api.ngrok.com"
NGROK_API_VERSION = "2"

#: Largest response body read, in bytes. A tunnel session list page of 100
#: sessions is about 50 KB; anything near this is not an ngrok answer.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: How much of the body one read asks for.
READ_SIZE = 65536

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

#: How much of a body a quote in a message reads (and scrubs) before it is cut.
MAX_QUOTED_BYTES = 4096


class NgrokError(Exception):
    """A request to the ngrok API did not succeed.

    ``outcome`` is ``failed`` when ngrok certainly did not act on the request
    and ``unknown`` when it may have (only possible for POST). ``from_ngrok``
    is true when the answer is ngrok's own error JSON, not a proxy's page.
    """

    def __init__(self, message: str, status_code: int | None = None, error_code: str | None = None,
                 api_msg: str | None = None, operation_id: str | None = None,
                 outcome: str = OUTCOME_FAILED, attempts: int = 1, method: str | None = None,
                 path: str | None = None, from_ngrok: bool = False) -> None:
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
        self.from_ngrok = from_ngrok
        self.rate_limit_waited = 0.0

    def __str__(self) -> str:
        return self.message

    @property
    def unknown_outcome(self) -> bool:
        return self.outcome == OUTCOME_UNKNOWN

    def describe(self) -> str:
        """``HTTP 404 ERR_NGROK_X: msg (operation ID op_...)``, or the transport message."""
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
    """An answer from the API: status, headers (case-insensitive ``get``), the body and its decoded JSON.

    ``body_problem`` says why the body is incomplete (it broke off after the
    status line), or is None.
    """

    def __init__(self, status_code: int, reason: str, headers, raw: bytes, body_problem: str | None = None) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = headers
        self.raw = raw
        self.body_problem = body_problem
        self.data = None

    @property
    def operation_id(self) -> str | None:
        return str_or_none(self.headers.get("ngrok-operation-id"))


class _NotSent(Exception):
    """The request never left this machine (safe to retry)."""


class _MaybeSent(Exception):
    """The request may have reached ngrok; the answer was lost."""


class BearerAuth(AuthBase):
    """``Authorization: Bearer <key>``. As an auth object it keeps requests from using ``~/.netrc`` instead."""

    def __init__(self, api_key: str) -> None:
        self._header = "Bearer %s" % api_key

    def __call__(self, request):
        request.headers["Authorization"] = self._header
        return request


class NgrokClient:
    """A small, synchronous client of the ngrok API, on one ``requests.Session``.

    ``sleep``, ``rand`` and ``clock`` are injectable so that tests need not wait.
    ``pacer`` (a ``_pacing.Pacer``, or None for no pacing) is waited on before every attempt.
    """

    def __init__(self, api_key: str, api_url: str = DEFAULT_API_URL, validate_certs: bool = True,
                 ca_path: str | None = None, timeout: float = 30.0, retries: int = 5,
                 rate_limit_timeout: float = 120.0, sleep=time.sleep, rand=random.uniform,
                 clock=time.monotonic, pacer=None) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.rate_limit_timeout = rate_limit_timeout
        self.pacer = pacer
        # requests reads REQUESTS_CA_BUNDLE only when verify is True: a ca_path wins over it.
        self.verify: bool | str = (ca_path or True) if validate_certs else False
        self._api_key = api_key
        self._sleep = sleep
        self._rand = rand
        self._clock = clock
        self.requests_sent = 0
        self.retry_waits: list[float] = []
        self.session = requests.Session()
        self.session.auth = BearerAuth(api_key)
        self.session.headers.update({
            "Ngrok-Version": NGROK_API_VERSION,
            "Accept": "application/json",
            "User-Agent": user_agent(),
        })

    # -- public API -----------------------------------------------------

    def get(self, path: str, params: dict | None = None) -> NgrokResponse:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: dict | None = None) -> NgrokResponse:
        return self.request("POST", path, body={} if body is None else body)

    def paginate(self, path: str, key: str, params: dict | None = None, max_items: int | None = None,
                 on_page=None):
        """Yield the items of a list endpoint, following ``next_page_uri``.

        ``next_page_uri`` is followed as ngrok gives it, but only while it
        points at the same origin as ``api_url``: the API key is never sent
        anywhere else. ``on_page``, when given, is called with each page's
        :class:`NgrokResponse` before its items are yielded (its headers, for
        example the server's ``Date``).
        """
        url = self.url(path, params)
        seen = set()
        count = 0
        while url:
            seen.add(url)
            response = self.request("GET", url)
            page = response.data
            if not isinstance(page, dict) or not isinstance(page.get(key), list):
                raise self.unusable_answer(response, "GET", self.display(url), "there is no %r list in it" % key)
            if on_page is not None:
                on_page(response)
            for item in page[key]:
                yield item
                count += 1
                if max_items is not None and count >= max_items:
                    return
            next_url = page.get("next_page_uri")
            if not next_url:
                return
            if origin(next_url) != origin(self.api_url):
                raise NgrokError("Refusing to follow next_page_uri %s: it is not on %s, and the API key is only "
                                 "ever sent to api_url" % (self.display(next_url), self.api_url),
                                 method="GET", path=self.display(next_url))
            if next_url in seen:
                raise NgrokError("ngrok returned the same next_page_uri twice (%s); stopping to avoid a loop"
                                 % self.display(next_url), method="GET", path=self.display(next_url))
            url = next_url

    def request(self, method: str, path: str, params: dict | None = None, body: dict | None = None) -> NgrokResponse:
        """Send one API call, retrying only where that is safe (see this file's docstring)."""
        url = self.url(path, params)
        display = self.display(url)
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        idempotent = method in ("GET", "HEAD")
        attempt = 0
        retried = 0  # retries used (rate limiting does not count)
        rate_limited = 0
        rate_waited = 0.0
        while True:
            attempt += 1
            can_retry = retried < self.retries
            try:
                response = self._send(method, url, data)
            except _NotSent as exc:
                if can_retry:
                    retried += 1
                    self._wait(retried, None)
                    continue
                raise NgrokError("Could not connect to %s: %s" % (self.api_url, exc), attempts=attempt,
                                 method=method, path=display) from exc
            except _MaybeSent as exc:
                if idempotent and can_retry:
                    retried += 1
                    self._wait(retried, None)
                    continue
                raise NgrokError("No answer from ngrok for %s %s: %s" % (method, display, scrub(str(exc), self._api_key)),
                                 outcome=OUTCOME_FAILED if idempotent else OUTCOME_UNKNOWN,
                                 attempts=attempt, method=method, path=display) from exc

            status = response.status_code
            if 200 <= status < 300:
                response.data = self._decode_success(method, display, response)
                return response
            if 300 <= status < 400:
                location = scrub(response.headers.get("Location") or "", self._api_key) or "no Location"
                raise NgrokError("ngrok answered %s %s with a redirect (HTTP %d to %s). Redirects are not followed, so "
                                 "that the API key is only ever sent to api_url: check api_url"
                                 % (method, display, status, location),
                                 status_code=status, api_msg="redirect to %s" % location,
                                 operation_id=scrub(response.operation_id, self._api_key), attempts=attempt,
                                 method=method, path=display)

            error = self.decode_error(response, method, display, attempt)
            retry_after = response.headers.get("Retry-After")
            if (status == 429 or error.error_code == RATE_LIMITED_CODE) and error.error_code not in UNKNOWN_OUTCOME_CODES:
                rate_limited += 1
                delay = self._delay(rate_limited, retry_after, RATE_LIMIT_BACKOFF_CAP)
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
                    self._wait(retried, retry_after)
                    continue
                raise error
            if (status >= 500 and status not in DEFINITE_5XX_STATUSES and error.error_code not in DEFINITE_FAILURE_CODES) \
                    or error.error_code in UNKNOWN_OUTCOME_CODES:
                if idempotent and can_retry:
                    retried += 1
                    self._wait(retried, retry_after)
                    continue
                if not idempotent:
                    error.outcome = OUTCOME_UNKNOWN
            raise error

    def url(self, path_or_url: str, params: dict | None = None) -> str:
        """The absolute URL of an API path (a full URL is kept as it is), with ``params`` as its query."""
        if path_or_url[:8].lower().startswith(("http://", "https://")):
            url = path_or_url
        else:
            url = self.api_url + "/" + path_or_url.lstrip("/")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        return url

    def display(self, url: str) -> str:
        """The URL relative to api_url, for messages."""
        if url.startswith(self.api_url) and url[len(self.api_url):len(self.api_url) + 1] in ("", "/", "?"):
            return url[len(self.api_url):] or "/"
        return url

    def decode_error(self, response: NgrokResponse, method: str, display: str, attempt: int) -> NgrokError:
        """The NgrokError for a non-2xx answer; any text quoted from it is scrubbed of the API key."""
        body = _json_or_none(response.raw)
        error_code = api_msg = operation_id = None
        if isinstance(body, dict):
            error_code = str_or_none(body.get("error_code"))
            api_msg = str_or_none(body.get("msg"))
            details = body.get("details")
            if isinstance(details, dict):
                operation_id = str_or_none(details.get("operation_id"))
        if api_msg is None:
            if response.body_problem:
                detail = response.body_problem
            elif response.raw.strip():
                detail = "the response is not an ngrok error: %s" % self.quote(response.raw)
            else:
                detail = "empty response body"
            api_msg = ("%s (%s)" % (response.reason, detail) if response.reason else detail).strip()
        error = NgrokError("", status_code=response.status_code, error_code=scrub(error_code, self._api_key),
                           api_msg=scrub(api_msg, self._api_key),
                           operation_id=scrub(operation_id or response.operation_id, self._api_key),
                           attempts=attempt, method=method, path=display,
                           # ngrok's error JSON always has status_code and msg; a proxy's 404 page has not
                           from_ngrok=isinstance(body, dict) and "status_code" in body and "msg" in body)
        error.message = "%s %s: %s" % (method, display, error.describe())
        error.args = (error.message,)
        return error

    def unusable_answer(self, response: NgrokResponse, method: str, display: str, problem: str) -> NgrokError:
        """A 2xx answer that cannot be used: a failure that still gives its status and ngrok's operation ID."""
        return NgrokError("ngrok answered %s %s with HTTP %d but %s" % (method, display, response.status_code, problem),
                          status_code=response.status_code, api_msg=problem,
                          operation_id=scrub(response.operation_id, self._api_key), method=method, path=display)

    def quote(self, raw: bytes, size: int = 120) -> str:
        """The start of a body, for a message: whitespace squeezed, the API key scrubbed BEFORE it is cut."""
        text = scrub(raw[:MAX_QUOTED_BYTES].decode("utf-8", "replace"), self._api_key)
        text = " ".join(text.split())
        if len(text) > size:
            text = text[:size] + "..."
        return repr(text)

    # -- internals ------------------------------------------------------

    def _send(self, method: str, url: str, data: bytes | None) -> NgrokResponse:
        """One attempt: the answer, or _NotSent / _MaybeSent / NgrokError (not retried)."""
        headers = {"Content-Type": "application/json"} if data is not None else None
        if self.pacer is not None:
            self.pacer.wait_turn()
        self.requests_sent += 1
        deadline = self._clock() + self.timeout
        try:
            response = self.session.request(method, url, data=data, headers=headers, stream=True,
                                            allow_redirects=False, verify=self.verify,
                                            timeout=(self.timeout, self.timeout))
        except requests.exceptions.SSLError as exc:
            # The TLS handshake failed: nothing was sent, and sending again will not help.
            raise NgrokError("TLS error talking to %s: %s. Check the server certificate (ca_path, or the "
                             "REQUESTS_CA_BUNDLE environment variable), or set validate_certs=false only for a "
                             "trusted test endpoint" % (self.api_url, reason(exc)), method=method) from exc
        except requests.exceptions.ProxyError as exc:
            if _never_connected(exc):
                raise _NotSent("could not reach the proxy: %s" % reason(exc)) from exc
            # The proxy answered and refused the tunnel: a retry gets the same answer.
            raise NgrokError("The proxy refused to connect to %s: %s" % (self.api_url, reason(exc)),
                             method=method) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise _NotSent("no connection within %s seconds (timeout)" % format_seconds(self.timeout)) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise _MaybeSent("no response within %s seconds (timeout)" % format_seconds(self.timeout)) from exc
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise _NotSent(reason(exc)) from exc
            raise _MaybeSent("the connection was dropped (%s)" % reason(exc)) from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader, ValueError) as exc:
            # Raised before anything is sent (a UnicodeError, or http.client's "Invalid header value").
            # Never the text of the exception: it can quote a header, and a header holds the API key.
            raise NgrokError("Cannot send %s %s: the URL or a header value is not valid HTTP (%s)"
                             % (method, self.display(url), type(exc).__name__), method=method) from exc
        with response:
            answer = NgrokResponse(response.status_code, response.reason or "", response.headers, b"")
            try:
                answer.raw = self._read_body(response, deadline)
            except _MaybeSent as exc:
                status = answer.status_code
                if 200 <= status < 300 and method != "GET":
                    # ngrok answered success before the body broke off: the action happened.
                    answer.body_problem = str(exc)
                elif 300 <= status < 500 or status in DEFINITE_5XX_STATUSES:
                    # The status line says the request was not acted upon; only its explanation is lost.
                    answer.body_problem = str(exc)
                else:
                    raise
        return answer

    def _read_body(self, response, deadline: float) -> bytes:
        """Read at most MAX_BODY_BYTES, by ``deadline`` (checked after every read; each read waits ``timeout``)."""
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                if self._clock() > deadline:
                    raise _MaybeSent("the response body did not arrive within %s seconds" % format_seconds(self.timeout))
                chunk = response.raw.read1(READ_SIZE, decode_content=True)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _MaybeSent("the response body is larger than %d bytes" % MAX_BODY_BYTES)
                chunks.append(chunk)
        except (Urllib3Error, OSError) as exc:
            if isinstance(exc, (ReadTimeoutError, socket.timeout)) or self._clock() >= deadline:
                raise _MaybeSent("the response body did not arrive within %s seconds"
                                 % format_seconds(self.timeout)) from exc
            raise _MaybeSent("the response body broke off (%s)" % reason(exc)) from exc

    def _decode_success(self, method: str, display: str, response: NgrokResponse):
        if not response.raw.strip():
            return None
        try:
            return json.loads(response.raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested thousands of levels deep
            if method != "GET":
                # A POST that ngrok answered with 2xx happened; its body does not matter.
                return None
            raise self.unusable_answer(response, method, display,
                                       "the body is not JSON: %s" % self.quote(response.raw)) from exc

    def _wait(self, retry: int, retry_after) -> None:
        self._pause(self._delay(retry, retry_after, BACKOFF_CAP))

    def _delay(self, retry: int, retry_after, cap: float) -> float:
        """Seconds before the ``retry``-th retry: Retry-After plus jitter, else full-jitter backoff."""
        seconds = parse_retry_after(retry_after)
        if seconds is not None:
            return min(seconds, RETRY_AFTER_CAP) + self._rand(0, 1.0)
        return self._rand(0, min(cap, BACKOFF_BASE * (2 ** (retry - 1))))

    def _pause(self, delay: float) -> None:
        self.retry_waits.append(delay)
        self._sleep(delay)


def _never_connected(exc: Exception) -> bool:
    """Whether a requests ConnectionError (or ProxyError) happened before the request could leave this machine.

    urllib3 raises ConnectTimeoutError, or its subclass NewConnectionError (refused, DNS failures),
    when the TCP connection, to the API or to a proxy, could not be opened; requests wraps it in a
    MaxRetryError as ``reason``. Anything else happened on an open connection.
    """
    cause = exc.args[0] if exc.args else None
    underlying = getattr(cause, "reason", cause)
    # A proxy that could not be reached: urllib3's ProxyError wraps the connection error.
    underlying = getattr(underlying, "original_error", underlying)
    return isinstance(underlying, ConnectTimeoutError)


def _json_or_none(raw: bytes):
    try:
        return json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands of levels deep
        return None


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


def user_agent() -> str:
    return "%s/%s (ansible-core/%s; python-requests/%s; python/%d.%d.%d)" % (
        COLLECTION_NAME, COLLECTION_VERSION, ANSIBLE_CORE_VERSION, requests.__version__, *sys.version_info[:3])


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


def reason(exc: BaseException) -> str:
    """A one-line reason from a requests, urllib3 or socket exception: its innermost cause, without object reprs."""
    inner = exc
    for dummy in range(6):
        nested = getattr(inner, "reason", None)
        if not isinstance(nested, BaseException):
            nested = next((arg for arg in getattr(inner, "args", ()) if isinstance(arg, BaseException)), None)
        if nested is None:
            break
        inner = nested
    # ConnectTimeoutError and NewConnectionError carry (connection object, message): the message alone
    messages = [arg for arg in getattr(inner, "args", ()) if isinstance(arg, str)]
    text = messages[-1] if len(getattr(inner, "args", ())) > 1 and messages else str(inner)
    text = " ".join(text.split()) or type(inner).__name__
    # urllib3 2.x prefixes "HTTPConnection(host='...', port=...): " or "<...HTTPConnection object at 0x...>: "
    for marker in ("): ", ">: "):
        head, sep, tail = text.partition(marker)
        if sep and ("Connection(" in head or "Connection object" in head):
            text = tail
            break
    return text


def format_seconds(value: float) -> str:
    """Seconds for a message: ``1``, ``1.5``, ``120``."""
    return "%g" % value


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
