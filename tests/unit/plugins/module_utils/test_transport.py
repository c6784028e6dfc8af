# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client's real transport (its HTTP/1.1 over socket, ssl, a CONNECT proxy) against servers on 127.0.0.1.

Every other unit test fakes the connection (fakehttp.py); these open real
sockets, on loopback only, to servers started in threads: Python's own
http.server, a raw server that answers with canned bytes (to check the wire
format and the parsing of odd or broken answers), HTTPS with a self-signed
certificate made by ``openssl`` (skipped without it), and a minimal CONNECT
proxy.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from ansible_collections.community.ngrok.plugins.module_utils import _client, _client_extras
from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokClient, NgrokError
from ansible_collections.community.ngrok.tests.unit.plugins.fakehttp import StepClock

#: conftest.py lets this module open real connections (to the servers below, on 127.0.0.1).
REAL_SOCKETS = True
KEY = "transport-test-key"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                 "body": body})
        if self.path.startswith("/drop"):
            # the request arrived; the answer never leaves
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.path.startswith("/restart"):
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"tunnel_sessions": [', b'{"id": "ts_1"}', b'], "next_page_uri": null}'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path.startswith("/missing"):
            data = json.dumps({"status_code": 404, "msg": "Resource not found",
                               "details": {"operation_id": "op_1"}}).encode()
            self.send_response(404)
        else:
            data = json.dumps({"id": "ts_1", "path": self.path}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls_context=None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen = []
        if tls_context is not None:
            self.socket = tls_context.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.stop()


def _client_for(url, **kwargs):
    kwargs.setdefault("retries", 0)
    kwargs.setdefault("timeout", 10)
    return NgrokClient(api_key=KEY, api_url=url, sleep=lambda seconds: None, **kwargs)


# -- plain HTTP ------------------------------------------------------------------------------------------

def test_get_and_post_over_a_real_socket(server):
    client = _client_for("http://127.0.0.1:%d" % server.port)
    assert client.get("/tunnel_sessions/ts_1", params={"a": "b c"}).data == {"id": "ts_1",
                                                                             "path": "/tunnel_sessions/ts_1?a=b+c"}
    response = client.post("/restart")
    assert response.status_code == 204 and response.data is None
    get, post = server.seen
    assert get["method"] == "GET" and get["body"] == b""
    assert get["headers"]["Authorization"] == "Bearer " + KEY
    assert get["headers"]["Ngrok-Version"] == "2"
    assert get["headers"]["Accept"] == "application/json"
    assert get["headers"]["Host"] == "127.0.0.1:%d" % server.port
    assert get["headers"]["User-Agent"].startswith("community.ngrok/")
    assert "Content-Type" not in get["headers"]
    assert post["method"] == "POST" and post["body"] == b"{}"
    assert post["headers"]["Content-Type"] == "application/json"
    assert post["headers"]["Content-Length"] == "2"


def test_a_chunked_answer_is_read_whole(server):
    client = _client_for("http://127.0.0.1:%d" % server.port)
    assert list(client.paginate("/chunked", "tunnel_sessions")) == [{"id": "ts_1"}]


def test_an_ngrok_error_is_decoded(server):
    with pytest.raises(NgrokError) as info:
        _client_for("http://127.0.0.1:%d" % server.port).get("/missing")
    assert (info.value.status_code, info.value.api_msg, info.value.operation_id) == (404, "Resource not found", "op_1")


def test_a_refused_connection_is_retried_then_fails_as_not_sent():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    client = _client_for("http://127.0.0.1:%d" % port, retries=2)
    with pytest.raises(NgrokError) as info:
        client.post("/restart")
    assert info.value.outcome == "failed"
    assert info.value.attempts == 3
    assert info.value.message.startswith("Could not connect to http://127.0.0.1:%d: " % port)
    assert "refused" in info.value.message.lower()


def test_a_post_whose_answer_is_lost_is_sent_once(server):
    client = _client_for("http://127.0.0.1:%d" % server.port, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post("/drop")
    assert info.value.outcome == "unknown"
    assert info.value.message.startswith("No answer from ngrok for POST /drop: the connection was dropped (")
    assert len(server.seen) == 1


def test_a_get_whose_answer_is_lost_is_retried(server):
    with pytest.raises(NgrokError) as info:
        _client_for("http://127.0.0.1:%d" % server.port, retries=2).get("/drop")
    assert info.value.outcome == "failed"
    assert len(server.seen) == 3


# -- the wire format, and odd or broken answers (a raw server) ------------------------------------------

class _LoopbackServer:
    """A TCP server on 127.0.0.1; ``serve(conn)`` handles each connection, in the accepting thread."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            try:
                self.serve(conn)
            except OSError:
                pass  # the client went away: serve the next connection

    def serve(self, conn):
        raise NotImplementedError

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread, which then ends
        except OSError:
            pass
        self.sock.close()


def _recv_head(conn) -> bytes:
    """What ``conn`` sends up to the empty line after the headers (and whatever came with it); b"" if it closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


class _RawServer(_LoopbackServer):
    """Answers each connection with canned bytes (in order; the last repeats), then closes it.

    Connections are served one after the other, so once a request has been
    answered, every connection opened before it has been handled too.
    """

    def __init__(self, *answers):
        self.answers = list(answers)
        self.received = []
        super().__init__()
        self.url = "http://127.0.0.1:%d" % self.port

    def serve(self, conn):
        with conn:
            data = _recv_head(conn)
            if not data:
                return  # connected, sent nothing
            head, dummy, body = data.partition(b"\r\n\r\n")
            length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            while length and len(body) < length[0]:
                body += conn.recv(65536)
            self.received.append(head + b"\r\n\r\n" + body)
            conn.sendall(self.answers.pop(0) if len(self.answers) > 1 else self.answers[0])


@pytest.fixture
def raw_server():
    servers = []

    def start(*answers):
        servers.append(_RawServer(*answers))
        return servers[-1]

    yield start
    for srv in servers:
        srv.close()


def test_the_request_on_the_wire(raw_server):
    srv = raw_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert _client_for(srv.url).post("/tunnel_sessions/ts_1/restart").status_code == 204
    head, body = srv.received[0].split(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "POST /tunnel_sessions/ts_1/restart HTTP/1.1"
    assert sorted(lines[1:]) == sorted([
        "Host: 127.0.0.1:%d" % srv.port, "Accept-Encoding: identity", "Connection: close",
        "Authorization: Bearer " + KEY, "Ngrok-Version: 2", "Accept: application/json",
        "User-Agent: " + _client.default_user_agent(), "Content-Type: application/json", "Content-Length: 2"])
    assert body == b"{}"


@pytest.mark.parametrize("answer", [
    pytest.param(b"HTTP/1.1 204 No Content\r\nContent-Length: 17\r\n\r\n{\"not\": \"a body\"}", id="with-length"),
    pytest.param(b"HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n{\"not\": \"a body\"}",
                 id="until-close"),
    pytest.param(b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\nzz-not-a-chunk\r\n", id="chunked"),
])
def test_a_204_has_no_body_whatever_follows_it(raw_server, answer):
    # RFC 9110: a 204 ends with its header section; anything after it is not its body.
    srv = raw_server(answer)
    response = _client_for(srv.url).post("/tunnel_sessions/ts_1/restart")
    assert (response.status_code, response.data) == (204, None)
    assert len(srv.received) == 1


@pytest.mark.parametrize("answer", [
    pytest.param(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"id": "ts_1"}', id="body-until-close"),
    pytest.param(b'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{"id": "ts_1"}',
                 id="interim-100-first"),
    pytest.param(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"id"\r\n9\r\n: "ts_1"}\r\n'
                 b'0\r\nX-Trailer: yes\r\n\r\n', id="chunked-with-extension-and-trailer"),
    pytest.param(b'HTTP/1.0 200 OK\ncontent-length: 14\n\n{"id": "ts_1"}trailing junk', id="http-1.0-bare-lf"),
    pytest.param(b'HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length : 14\r\n\r\n{"id": "ts_1"}',
                 id="folded-header-and-space-before-colon"),
])
def test_well_formed_answers_are_read(raw_server, answer):
    srv = raw_server(answer)
    assert _client_for(srv.url).get("/tunnel_sessions/ts_1").data == {"id": "ts_1"}


@pytest.mark.parametrize("answer, reason", [
    pytest.param(b"", "the connection was dropped (the server closed the connection without an answer)",
                 id="closed-without-answer"),
    pytest.param(b"SSH-2.0-OpenSSH_9.6\r\n", "the connection was dropped (not an HTTP/1.x status line: ",
                 id="not-http"),
    pytest.param(b"HTTP/1.1 2000 OK\r\n\r\n", "not an HTTP/1.x status line", id="bad-status-code"),
    pytest.param(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line", id="header-without-colon"),
    pytest.param(b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", "more than 100 header lines",
                 id="too-many-headers"),
    pytest.param(b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"id"',
                 "the response body broke off (the body stopped 35 bytes before its end)", id="short-body"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size line",
                 id="bad-chunk-size"),
    pytest.param(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n{"id"', "the body stopped",
                 id="chunk-cut-short"),
    pytest.param(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"id"xx\r\n', "not followed by CRLF",
                 id="chunk-without-crlf"),
    pytest.param(b"HTTP/1.1 100 Continue\r\n\r\n" * 11 + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                 "more than 10 interim (1xx) answers", id="endless-interim-answers"),
    pytest.param(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"X: y\r\n" * 101 + b"\r\n",
                 "more than 100 trailer lines", id="endless-trailer"),
])
def test_broken_answers_are_lost_answers(raw_server, answer, reason):
    srv = raw_server(answer)
    with pytest.raises(NgrokError) as info:
        _client_for(srv.url, retries=1).get("/tunnel_sessions/ts_1")
    assert info.value.message.startswith("No answer from ngrok for GET /tunnel_sessions/ts_1: ")
    assert reason in info.value.message
    assert info.value.outcome == "failed"
    assert len(srv.received) == 2  # a GET is retried


class _ScriptedSocket:
    """A socket whose every recv_into returns the next piece; it records the timeouts it is given."""

    def __init__(self, pieces):
        self.pieces = list(pieces)
        self.timeouts = []

    def settimeout(self, value):
        self.timeouts.append(value)

    def recv_into(self, buffer):
        piece = self.pieces.pop(0) if self.pieces else b""
        buffer[:len(piece)] = piece
        return len(piece)

    def close(self):
        pass


def _connection_over(pieces):
    conn = _client._Connection("http", "127.0.0.1", 80, 10, True, None)
    conn.sock = _ScriptedSocket(pieces)
    conn._method = "GET"  # pylint: disable=protected-access
    return conn


def test_every_read_of_the_answer_waits_only_for_the_time_left():
    # deadline 9; the clock reads 0, 1, 2...: each read gets what is left of the 9 s, never a fresh timeout
    conn = _connection_over([b"HTTP/1.1 200 OK\r\n", b"Content-Length: 2\r\n", b"\r\n", b"{}"])
    response = conn.getresponse(9.0, StepClock(1.0))
    assert (response.status, response.read1(), response.read1()) == (200, b"{}", b"")
    assert conn.sock.timeouts == [9.0, 8.0, 7.0, 6.0]


@pytest.mark.parametrize("pieces, done", [
    pytest.param([b"HTTP/1.1 200 OK\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"Content-Length: 2\r\n", b"\r\n{}"],
                 "head", id="trickling-head"),
    pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", b"[", b"1", b"2", b"]"], "body",
                 id="trickling-body"),
])
def test_an_answer_that_trickles_past_the_deadline_times_out(pieces, done):
    # Each piece arrives at once, but the clock moves 4 s per read (0, 4, 8): the third read is past the 6 s deadline.
    conn = _connection_over(pieces)
    clock = StepClock(4.0)
    with pytest.raises(socket.timeout):
        response = conn.getresponse(6.0, clock)
        assert done == "body"  # the head came within the deadline
        while response.read1():
            pass
    assert conn.sock.timeouts == [6.0, 2.0]


def test_a_trickling_answer_fails_the_request_as_a_timeout(monkeypatch):
    conn = _connection_over([b"HTTP/1.1 200 OK\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n", b"\r\n"])
    monkeypatch.setattr(conn, "connect", lambda: None)
    monkeypatch.setattr(conn, "request", lambda *args, **kwargs: None)
    monkeypatch.setattr(_client, "_connection", lambda *args: conn)
    with pytest.raises(NgrokError) as info:
        _client_for("http://127.0.0.1:9", timeout=10, clock=StepClock(4.0)).get("/tunnel_sessions/ts_1")
    assert info.value.message == "No answer from ngrok for GET /tunnel_sessions/ts_1: no response within 10 seconds (timeout)"


def test_a_folded_header_is_joined_with_a_space():
    status, reason, headers = _client._read_head(io.BytesIO(b"HTTP/1.1 200 OK\r\nX-Long: a\r\n  b\r\n\tc\r\nX-Next: d\r\n\r\n"))
    assert (status, reason, headers.get("x-long"), headers.get("X-NEXT")) == (200, "OK", "a b c", "d")


class _SilentServer(_LoopbackServer):
    """Accepts connections and never sends a byte (a stalled TLS handshake, or a proxy that never answers)."""

    def __init__(self):
        self.held = []
        super().__init__()

    def serve(self, conn):
        self.held.append(conn)


def test_a_stalled_tls_handshake_times_out_as_not_connected():
    srv = _SilentServer()
    try:
        client = _client_for("https://127.0.0.1:%d" % srv.port, timeout=0.5)
        with pytest.raises(NgrokError) as info:
            client.post("/restart")
    finally:
        srv.close()
    assert info.value.message == "Could not connect to https://127.0.0.1:%d: no connection within 0.5 seconds (timeout)" \
        % srv.port
    assert info.value.outcome == "failed"


def test_a_proxy_that_never_answers_times_out_as_not_connected(monkeypatch):
    srv = _SilentServer()
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:%d" % srv.port)
    try:
        with pytest.raises(NgrokError) as info:
            _client_for("https://api.ngrok.com", timeout=0.5).post("/restart")
    finally:
        srv.close()
    assert info.value.message == "Could not connect to https://api.ngrok.com: no connection within 0.5 seconds (timeout)"
    assert info.value.outcome == "failed"


def test_a_post_whose_answer_is_garbled_is_sent_once(raw_server):
    srv = raw_server(b"garbage\r\n\r\n")
    with pytest.raises(NgrokError) as info:
        _client_for(srv.url, retries=3).post("/tunnel_sessions/ts_1/restart")
    assert info.value.outcome == "unknown"
    assert len(srv.received) == 1


def test_headers_are_read_case_insensitively(raw_server):
    body = b'{"status_code": 404, "msg": "gone"}'
    srv = raw_server(b"HTTP/1.1 404 Not Found\r\nNGROK-OPERATION-ID: op_9\r\nngrok-operation-id: op_other\r\n"
                     b"content-type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    with pytest.raises(NgrokError) as info:
        _client_for(srv.url).get("/tunnel_sessions/ts_1")
    assert (info.value.status_code, info.value.api_msg, info.value.operation_id) == (404, "gone", "op_9")


@pytest.mark.parametrize("path", ["/tunnel_sessions/ts 1", "/tunnel_sessions/t\u00e4", "/tunnel_sessions/ts\x00"])
def test_a_url_that_cannot_go_on_the_wire_fails_before_sending(raw_server, path):
    srv = raw_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    with pytest.raises(NgrokError) as info:
        _client_for(srv.url, retries=3).post(path)
    assert info.value.message == ("Invalid request URL for %s: the URL contains whitespace, control or non-ASCII "
                                  "characters" % srv.url)
    assert _sent_before_a_probe(srv) == []


def _sent_before_a_probe(srv):
    """The request lines that reached ``srv`` before a last, good request."""
    _client_for(srv.url).post("/probe")
    lines = [request.split(b"\r\n", 1)[0] for request in srv.received]
    assert lines[-1] == b"POST /probe HTTP/1.1"
    return lines[:-1]


def test_a_header_with_a_line_break_is_refused_without_showing_its_value(raw_server):
    srv = raw_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    client = NgrokClient(api_key="secret-key\r\nX-Injected: 1", api_url=srv.url, retries=0)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_1/restart")
    assert info.value.message == ("Cannot send the request to %s: the Authorization header contains a line break, "
                                  "a control or a non-ASCII character (not shown)" % srv.url)
    assert "secret" not in repr(info.value)
    assert _sent_before_a_probe(srv) == []


def test_host_names_and_authorities():
    assert _client._authority("api.ngrok.com", 443, 443) == "api.ngrok.com"
    assert _client._authority("127.0.0.1", 8080, 80) == "127.0.0.1:8080"
    assert _client._authority("::1", 8443, 443) == "[::1]:8443"
    assert _client._wire_host("b\u00fccher.example") == "xn--bcher-kva.example"
    with pytest.raises(_client._InvalidRequest):
        _client._wire_host("bad host")


def test_plain_http_does_not_import_ssl(raw_server):
    # ssl costs ~6 ms to import; only https needs it
    srv = raw_server(b"HTTP/1.1 204 No Content\r\n\r\n")
    code = ("import sys\n"
            "from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokClient\n"
            "assert NgrokClient(api_key='k', api_url=%r, retries=0).post('/x').status_code == 204\n"
            "print('ssl' in sys.modules)\n" % srv.url)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    assert len(srv.received) == 1


# -- TLS and the CONNECT proxy ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    proc = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                           str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip("openssl cannot make a certificate here: %s" % proc.stderr.decode(errors="replace")[-200:])
    return str(cert), str(key)


@pytest.fixture
def tls_server(certificate):
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    srv = _Server(context)
    yield srv
    srv.stop()


def test_an_untrusted_certificate_fails_at_once_and_sends_nothing(tls_server):
    client = _client_for("https://127.0.0.1:%d" % tls_server.port, retries=3)
    with pytest.raises(NgrokError) as info:
        client.post("/restart")
    assert info.value.message.startswith("TLS error talking to https://127.0.0.1:%d: " % tls_server.port)
    assert "CERTIFICATE_VERIFY_FAILED" in info.value.message
    assert info.value.outcome == "failed"
    assert client.requests_sent == 1
    assert tls_server.seen == []


def test_validate_certs_false_skips_verification(tls_server):
    client = _client_for("https://127.0.0.1:%d" % tls_server.port, validate_certs=False)
    assert client.post("/restart").status_code == 204
    assert tls_server.seen[0]["headers"]["Authorization"] == "Bearer " + KEY


def test_ssl_cert_file_trusts_another_ca(tls_server, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])
    assert _client_for("https://127.0.0.1:%d" % tls_server.port).post("/restart").status_code == 204


class _ConnectProxy(_LoopbackServer):
    """Answers one CONNECT per connection with 200 (or ``refuse``), then pipes bytes both ways."""

    def __init__(self, refuse=None):
        self.refuse = refuse
        self.connects = []
        super().__init__()

    def serve(self, conn):
        threading.Thread(target=self._tunnel, args=(conn,), daemon=True).start()

    def _tunnel(self, conn):
        with conn:
            head = _recv_head(conn)
            if not head:
                return
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            self.connects.append({"request": lines[0], "headers": headers})
            if self.refuse:
                conn.sendall(("HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % self.refuse).encode())
                return
            host, port = lines[0].split()[1].rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=_pipe, args=(upstream, conn), daemon=True)
                pump.start()
                _pipe(conn, upstream)
                pump.join(10)


def _pipe(source, target):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def test_https_goes_through_the_proxy_with_its_credentials(tls_server, certificate, monkeypatch):
    proxy = _ConnectProxy()
    try:
        monkeypatch.setenv("https_proxy", "http://user:p%%40ss@127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # the target's certificate is verified, through the tunnel
        client = _client_for("https://127.0.0.1:%d" % tls_server.port)
        assert client.get("/tunnel_sessions/ts_1").data["id"] == "ts_1"
    finally:
        proxy.close()
    assert [c["request"] for c in proxy.connects] == ["CONNECT 127.0.0.1:%d HTTP/1.1" % tls_server.port]
    assert proxy.connects[0]["headers"]["Host"] == "127.0.0.1:%d" % tls_server.port
    assert proxy.connects[0]["headers"]["Proxy-Authorization"] == "Basic dXNlcjpwQHNz"
    assert "Authorization" not in proxy.connects[0]["headers"]  # the API key only travels inside the tunnel
    assert tls_server.seen[0]["headers"]["Authorization"] == "Bearer " + KEY


def test_a_proxy_that_closes_without_answering_is_retried_like_a_refused_connection(raw_server, monkeypatch):
    proxy = raw_server(b"")  # reads the CONNECT, then closes
    monkeypatch.setenv("https_proxy", proxy.url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    client = _client_for("https://api.ngrok.example", retries=2)
    with pytest.raises(NgrokError) as info:
        client.post("/tunnel_sessions/ts_1/restart")
    assert info.value.message == ("Could not connect to https://api.ngrok.example: the proxy closed the connection "
                                  "without answering CONNECT")
    assert info.value.outcome == "failed"
    assert [r.split(b"\r\n", 1)[0] for r in proxy.received] == [b"CONNECT api.ngrok.example:443 HTTP/1.1"] * 3


def test_no_proxy_bypasses_the_proxy(tls_server, monkeypatch):
    proxy = _ConnectProxy()
    try:
        monkeypatch.setenv("https_proxy", "http://127.0.0.1:%d" % proxy.port)
        monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
        assert _client_for("https://127.0.0.1:%d" % tls_server.port, validate_certs=False).post("/restart").status_code \
            == 204
    finally:
        proxy.close()
    assert not proxy.connects


def test_a_proxy_refusal_fails_at_once(tls_server, monkeypatch):
    proxy = _ConnectProxy(refuse="407 Proxy Authentication Required")
    try:
        monkeypatch.setenv("https_proxy", "http://127.0.0.1:%d" % proxy.port)
        client = _client_for("https://127.0.0.1:%d" % tls_server.port, validate_certs=False, retries=3)
        with pytest.raises(NgrokError) as info:
            client.post("/restart")
    finally:
        proxy.close()
    assert info.value.message == ("The proxy refused to connect to https://127.0.0.1:%d: Tunnel connection failed: "
                                  "407 Proxy Authentication Required" % tls_server.port)
    assert len(proxy.connects) == 1
    assert tls_server.seen == []


def test_a_proxy_that_does_not_speak_http_is_a_refusal():
    ours, proxy_end = socket.socketpair()
    with ours, proxy_end:
        proxy_end.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
        with pytest.raises(OSError, match="^Tunnel connection failed: the proxy's answer is not HTTP "):
            _client_extras.open_tunnel(ours, "api.ngrok.com", 443, _client_extras.Proxy("proxy", 3128, {}))
        assert proxy_end.recv(4096) == b"CONNECT api.ngrok.com:443 HTTP/1.1\r\nHost: api.ngrok.com:443\r\n\r\n"


def test_the_connection_factory_is_the_real_one():
    # the other unit tests replace it; make sure these tests ran the real thing
    assert _client._connection.__module__ == _client.__name__
