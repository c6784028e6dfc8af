# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The client's real transport (http.client, ssl, a CONNECT proxy) against servers on 127.0.0.1.

Every other unit test fakes the connection (fakehttp.py); these open real
sockets, on loopback only, to servers started in threads: plain HTTP, HTTPS
with a self-signed certificate made by ``openssl`` (skipped without it), and a
minimal CONNECT proxy.
"""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import threading

import pytest

from ansible_collections.community.ngrok.plugins.module_utils import _client
from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokClient, NgrokError

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


class _ConnectProxy:
    """Answers one CONNECT per connection with 200 (or ``refuse``), then pipes bytes both ways."""

    def __init__(self, refuse=None):
        self.refuse = refuse
        self.connects = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
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

    def close(self):
        self.sock.close()


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


def test_https_goes_through_the_proxy_with_its_credentials(tls_server, monkeypatch):
    proxy = _ConnectProxy()
    try:
        monkeypatch.setenv("https_proxy", "http://user:p%%40ss@127.0.0.1:%d" % proxy.port)
        client = _client_for("https://127.0.0.1:%d" % tls_server.port, validate_certs=False)
        assert client.get("/tunnel_sessions/ts_1").data["id"] == "ts_1"
    finally:
        proxy.close()
    # http.client sends CONNECT as HTTP/1.0 up to Python 3.11, as HTTP/1.1 from 3.12 on
    assert [c["request"].rsplit(".", 1)[0] for c in proxy.connects] == ["CONNECT 127.0.0.1:%d HTTP/1" % tls_server.port]
    assert proxy.connects[0]["headers"]["Proxy-Authorization"] == "Basic dXNlcjpwQHNz"
    assert "Authorization" not in proxy.connects[0]["headers"]  # the API key only travels inside the tunnel
    assert tls_server.seen[0]["headers"]["Authorization"] == "Bearer " + KEY


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


def test_the_connection_factory_is_the_real_one():
    # the other unit tests replace it; make sure these tests ran the real thing
    assert _client._connection.__module__ == _client.__name__
