# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""NgrokClient on real sockets: servers on 127.0.0.1 in threads, nothing faked below requests.

Each server listens on a free port of 127.0.0.1, serves every connection in
its own thread with a canned behaviour (answer, hold, drop, break off, trickle,
tunnel), records the requests it read, and is closed by the test's fixture.
Every wait on the server side is bounded (``WAIT``) and woken when the test
ends, and the client's own timeouts are short, so that no test waits for
anything that is not the behaviour under test.

The ``"not sent"`` cases (the request never left this machine: retried, even a
POST) and the ``"may have been sent"`` cases (a POST is never sent again: its
outcome is unknown; a GET is retried) are checked by counting, on the server
side, the requests that arrived.
"""

from __future__ import annotations

import selectors
import socket
import ssl
import struct
import threading
import time
from http import HTTPStatus
from types import SimpleNamespace

import pytest
import requests

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import API_KEY

#: conftest.py lets this module open real connections (to the servers below, on 127.0.0.1 only).
REAL_SOCKETS = True

#: The longest any server thread waits for anything; the fixture wakes them all when a test ends.
WAIT = 5.0
#: The client's timeout where the test waits for it to expire.
SHORT = 0.3

SESSION = "/tunnel_sessions/ts_1"
RESTART = "/tunnel_sessions/ts_1/restart"


# -- loopback servers -------------------------------------------------------------------------------------

class Server:
    """A TCP server on 127.0.0.1 that runs ``handle(conn, server)`` for each connection, in a thread of its own."""

    def __init__(self, handle, tls_context=None):
        self.handle = handle
        self.tls_context = tls_context
        self.requests = []
        self.connections = 0
        self.stop = threading.Event()
        self._sockets = []
        self._threads = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if tls_context else "http", self.port)
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return  # closed
            self.connections += 1
            self.track(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn):
        conn.settimeout(WAIT)
        try:
            if self.tls_context is not None:
                conn = self.tls_context.wrap_socket(conn, server_side=True)
            self.handle(conn, self)
        except OSError:  # the client went away, or refused our certificate
            pass
        finally:
            conn.close()

    def track(self, sock):
        """``sock`` is shut down when the server closes (so that no thread stays blocked on it)."""
        self._sockets.append(sock)

    def read_request(self, conn):
        """Read one request (head, and a body of Content-Length bytes) and record it; None if none came."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, dummy, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, dummy = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, dummy, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        while len(body) < int(headers.get("content-length") or 0):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        request = SimpleNamespace(method=method, target=target, headers=headers, body=body, head=head)
        self.requests.append(request)
        return request

    def close(self):
        self.stop.set()
        for sock in [self.sock] + self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.sock.close()
        self._acceptor.join(WAIT)
        for thread in self._threads:
            thread.join(WAIT)


@pytest.fixture
def serve():
    """``serve(handle, tls_context=None)`` starts a Server; all are closed when the test ends."""
    servers = []

    def start(handle, tls_context=None):
        servers.append(Server(handle, tls_context))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def closed_port():
    """A port of 127.0.0.1 where nothing listens (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def full_listener():
    """A listening socket whose accept queue is full: a new connection is neither accepted nor refused.

    Linux drops the SYN of a connection to a listener whose accept queue is full
    (unless net.ipv4.tcp_abort_on_overflow is set), so connecting times out. The
    queue is filled with connections that are never accepted, until one more
    connection times out.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for dummy in range(16):
            sock = socket.socket()
            sock.settimeout(0.2)
            try:
                sock.connect(("127.0.0.1", port))
            except socket.timeout:
                sock.close()
                break
            except OSError as exc:
                sock.close()
                pytest.skip("a full accept queue refuses connections here (%s): no connect timeout on loopback" % exc)
            fillers.append(sock)
        else:
            pytest.skip("the accept queue of a listener with backlog 0 never filled: no connect timeout on loopback")
        yield SimpleNamespace(port=port, listener=listener)
    finally:
        for sock in fillers:
            sock.close()
        listener.close()


def waiting_queue_is_silent(listener):
    """Accept whatever waits in ``listener``'s queue: True if none of it carried a byte."""
    listener.settimeout(0.2)
    while True:
        try:
            conn, dummy = listener.accept()
        except OSError:
            return True
        with conn:
            conn.settimeout(0.2)
            try:
                if conn.recv(1):
                    return False
            except OSError:
                pass


# -- canned behaviours --------------------------------------------------------------------------------------

def http_answer(status, body=b"", headers=()):
    head = ["HTTP/1.1 %d %s" % (status, HTTPStatus(status).phrase), "Content-Length: %d" % len(body),
            "Connection: close"] + list(headers)
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def answer(*raws):
    """Answer the requests with ``raws``, in order (the last one repeats); then close the connection."""
    pending = list(raws)

    def handle(conn, server):
        if server.read_request(conn) is not None:
            conn.sendall(pending.pop(0) if len(pending) > 1 else pending[0])
    return handle


JSON_OK = http_answer(200, b'{"id": "ts_1"}', ["Content-Type: application/json"])
NO_CONTENT = http_answer(204)


def hold(conn, server):
    """Read the request, and never answer it (until the test ends)."""
    if server.read_request(conn) is not None:
        server.stop.wait(WAIT)


def drop(conn, server):
    """Read the request, and close the connection without an answer."""
    server.read_request(conn)


def reset(conn):
    """Close ``conn`` with a TCP reset instead of an orderly shutdown."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def break_off(raw, with_reset=False):
    """Read the request, send ``raw`` (an answer cut short), then close, or reset, the connection."""
    def handle(conn, server):
        if server.read_request(conn) is not None:
            conn.sendall(raw)
            if with_reset:
                reset(conn)
    return handle


def chunked_cut_short(status):
    part = b'{"tunnel_sessions": ['
    return (b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"%x\r\n%s\r\n" % (status, HTTPStatus(status).phrase.encode(), len(part), part))


def length_cut_short(status):
    return (b'HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n'
            b'{"status_code": ' % (status, HTTPStatus(status).phrase.encode()))


def dribble_body(conn, server):
    """Answer 200 with a 100000-byte body, and send it one byte every 50 ms (until the client goes away)."""
    if server.read_request(conn) is None:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
    while not server.stop.wait(0.05):
        conn.sendall(b" ")


def connect_proxy(conn, server):
    """An HTTP CONNECT proxy: opens the tunnel it is asked for, and relays bytes both ways."""
    request = server.read_request(conn)
    if request is None or request.method != "CONNECT":
        return
    host, dummy, port = request.target.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as upstream:
        server.track(upstream)
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        with selectors.DefaultSelector() as selector:
            selector.register(conn, selectors.EVENT_READ, upstream)
            selector.register(upstream, selectors.EVENT_READ, conn)
            while True:
                events = selector.select(WAIT)
                if not events:
                    return
                for key, dummy in events:
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)


# -- TLS with a private CA --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A private CA, a server certificate from it for 127.0.0.1 and localhost, and another CA that did not sign it."""
    trustme = pytest.importorskip("trustme")
    folder = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other_ca_file = folder / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca_file))
    return SimpleNamespace(context=context, ca_file=str(ca_file), other_ca_file=str(other_ca_file))


@pytest.fixture
def tls_server(serve, pki):
    return serve(answer(JSON_OK), tls_context=pki.context)


def _post_or_get(client, method, path=None):
    if method == "POST":
        return client.post(path or RESTART)
    return client.get(path or SESSION)


# -- the request as a server sees it ------------------------------------------------------------------------

def test_get_and_post_over_a_real_socket(serve, make_client):
    server = serve(answer(JSON_OK, NO_CONTENT))
    client = make_client(api_url=server.url, timeout=WAIT, retries=0)

    assert client.get(SESSION, params={"a": "b c"}).data == {"id": "ts_1"}
    response = client.post(RESTART)

    assert (response.status_code, response.data) == (204, None)
    get, post = server.requests
    assert (get.method, get.target, get.body) == ("GET", SESSION + "?a=b+c", b"")
    assert (post.method, post.target, post.body) == ("POST", RESTART, b"{}")
    for request in (get, post):
        assert request.headers["authorization"] == "Bearer " + API_KEY
        assert request.headers["ngrok-version"] == "2"
        assert request.headers["accept"] == "application/json"
        assert request.headers["user-agent"].startswith("community.ngrok/")
        assert request.headers["host"] == "127.0.0.1:%d" % server.port
    assert "content-type" not in get.headers
    assert post.headers["content-type"] == "application/json"
    assert post.headers["content-length"] == "2"


# -- not sent: retried, a POST too ------------------------------------------------------------------------

def test_a_refused_connection_is_retried_even_for_a_post(make_client):
    port = closed_port()
    client = make_client(api_url="http://127.0.0.1:%d" % port, timeout=WAIT, retries=2)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    error = info.value
    assert error.message.startswith("Could not connect to http://127.0.0.1:%d: " % port)
    assert "refused" in error.message.lower()
    assert "object at 0x" not in error.message and "Connection(" not in error.message
    assert (error.outcome, error.attempts, client.requests_sent) == ("failed", 3, 3)
    assert len(client.recorder.sleeps) == 2


def test_a_dns_failure_is_retried_even_for_a_post(make_client):
    host = "no-such-host.community-ngrok.invalid"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        pass
    else:
        pytest.skip("the resolver here answers for names under .invalid")
    client = make_client(api_url="https://" + host, timeout=WAIT, retries=1)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert info.value.message.startswith("Could not connect to https://%s: " % host)
    assert (info.value.outcome, info.value.attempts, client.requests_sent) == ("failed", 2, 2)


def test_a_connect_timeout_is_retried_even_for_a_post(full_listener, make_client):
    client = make_client(api_url="http://127.0.0.1:%d" % full_listener.port, timeout=SHORT, retries=1)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert info.value.message == "Could not connect to http://127.0.0.1:%d: no connection within %g seconds (timeout)" % (
        full_listener.port, SHORT)
    assert (info.value.outcome, info.value.attempts, client.requests_sent) == ("failed", 2, 2)
    assert waiting_queue_is_silent(full_listener.listener)


def test_a_proxy_that_cannot_be_reached_is_retried_even_for_a_post(tls_server, pki, make_client, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:%d" % closed_port())
    client = make_client(api_url=tls_server.url, ca_path=pki.ca_file, timeout=WAIT, retries=1)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert info.value.message.startswith("Could not connect to %s: could not reach the proxy: " % tls_server.url)
    assert (info.value.outcome, info.value.attempts, client.requests_sent) == ("failed", 2, 2)
    assert tls_server.connections == 0


def test_a_proxy_connect_timeout_is_retried_even_for_a_post(full_listener, tls_server, pki, make_client, monkeypatch):
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:%d" % full_listener.port)
    client = make_client(api_url=tls_server.url, ca_path=pki.ca_file, timeout=SHORT, retries=1)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert info.value.message.startswith("Could not connect to %s: " % tls_server.url)
    assert "object at 0x" not in info.value.message and "Connection(" not in info.value.message
    assert (info.value.outcome, info.value.attempts, client.requests_sent) == ("failed", 2, 2)
    assert tls_server.connections == 0


def test_a_tls_handshake_that_times_out_leaves_a_post_unknown(serve, pki, make_client):
    # urllib3 reports a stalled TLS handshake as a read timeout, the same exception as an answer that never
    # comes, and only its text tells them apart. The client takes the safe side: a POST "may have been
    # sent" (not re-sent; the actions then read the session), documented in the retries guide.
    server = serve(hold)  # accepts the connection, and never says a word of TLS
    client = make_client(api_url="https://127.0.0.1:%d" % server.port, ca_path=pki.ca_file, timeout=SHORT, retries=1)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert server.requests == []
    assert (info.value.outcome, info.value.attempts, client.requests_sent) == ("unknown", 1, 1)


@pytest.mark.parametrize("status", [403, 407])
def test_a_proxy_that_refuses_the_tunnel_fails_clearly_and_is_not_retried(serve, tls_server, pki, make_client,
                                                                          monkeypatch, status):
    proxy = serve(answer(http_answer(status, headers=['Proxy-Authenticate: Basic realm="proxy"'] if status == 407 else [])))
    monkeypatch.setenv("https_proxy", proxy.url)
    client = make_client(api_url=tls_server.url, ca_path=pki.ca_file, timeout=WAIT, retries=3)
    with pytest.raises(NgrokError) as info:
        client.get(SESSION)
    assert info.value.message == "The proxy refused to connect to %s: Tunnel connection failed: %d %s" % (
        tls_server.url, status, HTTPStatus(status).phrase)
    assert (info.value.outcome, info.value.attempts, client.requests_sent) == ("failed", 1, 1)
    assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", "127.0.0.1:%d" % tls_server.port)]
    assert tls_server.connections == 0


# -- may have been sent: a POST is never sent again, a GET is retried -------------------------------------

#: (behaviour, timeout, start of the reason): the timeout is short only where the test waits for it
MAYBE_SENT = [
    pytest.param(hold, SHORT, "no response within %g seconds (timeout)" % SHORT, id="read-timeout"),
    pytest.param(drop, WAIT, "the connection was dropped (", id="closed-without-an-answer"),
    pytest.param(break_off(b"HTTP/1.1 20"), WAIT, "the connection was dropped (", id="closed-in-the-status-line"),
    pytest.param(break_off(chunked_cut_short(502)), WAIT, "the response body broke off (", id="502-chunked-body-cut-short"),
    pytest.param(break_off(length_cut_short(502)), WAIT, "the response body broke off (",
                 id="502-body-shorter-than-its-length"),
    pytest.param(break_off(length_cut_short(502), with_reset=True), WAIT, "", id="502-then-connection-reset"),
]


@pytest.mark.parametrize("handle, timeout, reason", MAYBE_SENT)
def test_a_post_whose_answer_is_lost_is_sent_once_and_its_outcome_is_unknown(serve, make_client, handle, timeout, reason):
    server = serve(handle)
    client = make_client(api_url=server.url, timeout=timeout, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert info.value.message.startswith("No answer from ngrok for POST %s: %s" % (RESTART, reason))
    assert (info.value.outcome, info.value.attempts) == ("unknown", 1)
    assert [(r.method, r.target) for r in server.requests] == [("POST", RESTART)]
    assert client.recorder.sleeps == []


@pytest.mark.parametrize("handle, timeout, reason", MAYBE_SENT + [
    pytest.param(break_off(chunked_cut_short(200)), WAIT, "the response body broke off (", id="200-chunked-body-cut-short"),
    pytest.param(break_off(length_cut_short(200)), WAIT, "the response body broke off (",
                 id="200-body-shorter-than-its-length"),
])
def test_a_get_whose_answer_is_lost_is_retried(serve, make_client, handle, timeout, reason):
    server = serve(handle)
    client = make_client(api_url=server.url, timeout=timeout, retries=2)
    with pytest.raises(NgrokError) as info:
        client.get(SESSION)
    assert info.value.message.startswith("No answer from ngrok for GET %s: %s" % (SESSION, reason))
    assert (info.value.outcome, info.value.attempts) == ("failed", 3)
    assert [(r.method, r.target) for r in server.requests] == [("GET", SESSION)] * 3


@pytest.mark.parametrize("raw", [pytest.param(chunked_cut_short(200), id="chunked"),
                                 pytest.param(length_cut_short(200), id="shorter-than-its-length")])
def test_a_post_answered_2xx_whose_body_broke_off_succeeded(serve, make_client, raw):
    server = serve(break_off(raw))
    client = make_client(api_url=server.url, timeout=WAIT, retries=3)
    response = client.post(RESTART)
    assert (response.status_code, response.data) == (200, None)
    assert response.body_problem.startswith("the response body broke off (")
    assert len(server.requests) == 1


def test_a_post_answered_4xx_whose_body_broke_off_is_a_plain_failure(serve, make_client):
    server = serve(break_off(length_cut_short(404)))
    client = make_client(api_url=server.url, timeout=WAIT, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert (info.value.status_code, info.value.outcome, info.value.attempts) == (404, "failed", 1)
    assert info.value.api_msg.startswith("Not Found (the response body broke off (")
    assert len(server.requests) == 1


# -- the whole answer is due within timeout ---------------------------------------------------------------

def test_a_body_dribbled_past_the_timeout_is_abandoned(serve, make_client):
    server = serve(dribble_body)
    timeout = 0.5
    client = make_client(api_url=server.url, timeout=timeout, retries=0)
    start = time.monotonic()
    with pytest.raises(NgrokError) as info:
        client.get(SESSION)
    elapsed = time.monotonic() - start
    assert info.value.message == "No answer from ngrok for GET %s: the response body did not arrive within 0.5 seconds" % SESSION
    assert elapsed < timeout * 3 + 2  # the whole body would take 5000 s
    assert len(server.requests) == 1


# -- TLS with a private CA --------------------------------------------------------------------------------

def test_an_unknown_certificate_authority_is_a_tls_error_and_not_retried(tls_server, make_client):
    client = make_client(api_url=tls_server.url, timeout=WAIT, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    error = info.value
    assert error.message.startswith("TLS error talking to %s: " % tls_server.url)
    assert "CERTIFICATE_VERIFY_FAILED" in error.message
    assert "ca_path" in error.message and "REQUESTS_CA_BUNDLE" in error.message
    assert (error.outcome, error.attempts, client.requests_sent) == ("failed", 1, 1)
    assert tls_server.requests == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("options, bundle", [
    pytest.param({"ca_path": "ca"}, None, id="ca_path"),
    pytest.param({}, "ca", id="REQUESTS_CA_BUNDLE"),
    pytest.param({"ca_path": "ca"}, "other", id="ca_path-wins-over-REQUESTS_CA_BUNDLE"),
    pytest.param({"validate_certs": False}, None, id="validate_certs-false"),
    pytest.param({"validate_certs": False}, "other", id="validate_certs-false-wins-over-REQUESTS_CA_BUNDLE"),
])
def test_a_private_certificate_authority_is_trusted(tls_server, pki, make_client, monkeypatch, options, bundle):
    files = {"ca": pki.ca_file, "other": pki.other_ca_file}
    if bundle:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", files[bundle])
    options = {name: files.get(value, value) if isinstance(value, str) else value for name, value in options.items()}
    client = make_client(api_url=tls_server.url, timeout=WAIT, retries=0, **options)
    assert client.get(SESSION).data == {"id": "ts_1"}
    assert [(r.method, r.headers["authorization"]) for r in tls_server.requests] == [("GET", "Bearer " + API_KEY)]


def test_a_wrong_requests_ca_bundle_is_used(tls_server, pki, make_client, monkeypatch):
    # the other side of ca_path-wins-over-REQUESTS_CA_BUNDLE: without ca_path, the bundle decides
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", pki.other_ca_file)
    with pytest.raises(NgrokError) as info:
        make_client(api_url=tls_server.url, timeout=WAIT, retries=0).get(SESSION)
    assert info.value.message.startswith("TLS error talking to ")


# -- an HTTP CONNECT proxy in front of the TLS server ---------------------------------------------------------

@pytest.mark.parametrize("variable", ["https_proxy", "HTTPS_PROXY", "all_proxy"])
def test_a_connect_proxy_from_the_environment_tunnels_the_request(serve, tls_server, pki, make_client, monkeypatch,
                                                                  variable):
    proxy = serve(connect_proxy)
    monkeypatch.setenv(variable, proxy.url)
    client = make_client(api_url=tls_server.url, ca_path=pki.ca_file, timeout=WAIT, retries=0)

    assert client.get(SESSION).data == {"id": "ts_1"}

    assert [(r.method, r.target) for r in proxy.requests] == [("CONNECT", "127.0.0.1:%d" % tls_server.port)]
    # the API key goes to the API inside the tunnel, never to the proxy
    assert API_KEY.encode() not in proxy.requests[0].head
    assert [(r.method, r.headers["authorization"]) for r in tls_server.requests] == [("GET", "Bearer " + API_KEY)]


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "example.com, 127.0.0.1"])
@pytest.mark.parametrize("variable", ["no_proxy", "NO_PROXY"])
def test_no_proxy_bypasses_the_proxy(serve, tls_server, pki, make_client, monkeypatch, variable, no_proxy):
    proxy = serve(connect_proxy)
    monkeypatch.setenv("https_proxy", proxy.url)
    monkeypatch.setenv(variable, no_proxy)
    client = make_client(api_url=tls_server.url, ca_path=pki.ca_file, timeout=WAIT, retries=0)
    assert client.get(SESSION).data == {"id": "ts_1"}
    assert proxy.connections == 0
    assert len(tls_server.requests) == 1


# -- the API key: netrc, redirects, header values ----------------------------------------------------------

@pytest.mark.parametrize("variable", ["NETRC", "HOME"])
def test_a_netrc_entry_for_the_api_host_does_not_replace_the_key(serve, make_client, tmp_path, monkeypatch, variable):
    server = serve(answer(JSON_OK))
    netrc = tmp_path / (".netrc" if variable == "HOME" else "netrc")
    netrc.write_text("machine 127.0.0.1 login x password y\n")
    netrc.chmod(0o600)
    monkeypatch.setenv(variable, str(netrc) if variable == "NETRC" else str(tmp_path))
    # requests itself would send these credentials for a request without an auth of its own
    assert requests.utils.get_netrc_auth(server.url + SESSION) == ("x", "y")

    make_client(api_url=server.url, timeout=WAIT, retries=0).get(SESSION)

    assert [r.headers["authorization"] for r in server.requests] == ["Bearer " + API_KEY]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("status", [301, 307])
def test_a_redirect_is_not_followed(serve, make_client, method, status):
    elsewhere = serve(answer(JSON_OK))
    server = serve(answer(http_answer(status, headers=["Location: %s%s" % (elsewhere.url, SESSION)])))
    client = make_client(api_url=server.url, timeout=WAIT, retries=3)
    with pytest.raises(NgrokError) as info:
        _post_or_get(client, method)
    path = RESTART if method == "POST" else SESSION
    assert info.value.message.startswith("ngrok answered %s %s with a redirect (HTTP %d to %s%s)" % (
        method, path, status, elsewhere.url, SESSION))
    assert (info.value.status_code, info.value.outcome, info.value.attempts) == (status, "failed", 1)
    assert len(server.requests) == 1
    assert elsewhere.connections == 0


def test_a_key_that_cannot_be_a_header_value_fails_before_anything_is_sent(serve, make_client):
    server = serve(answer(NO_CONTENT))
    key = API_KEY + "\u2019"  # a typographic quote pasted with the key: not Latin-1
    client = make_client(api_key=key, api_url=server.url, timeout=WAIT, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert info.value.message == ("Cannot send POST %s: the URL or a header value is not valid HTTP (UnicodeEncodeError)"
                                  % RESTART)
    assert API_KEY[:8] not in repr(info.value)
    assert server.requests == []


def test_a_key_with_a_line_break_fails_before_anything_is_sent(serve, make_client):
    server = serve(answer(NO_CONTENT))
    client = make_client(api_key=API_KEY + "\r\nX-Injected: 1", api_url=server.url, timeout=WAIT, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post(RESTART)
    assert API_KEY[:8] not in repr(info.value)
    assert server.requests == []
