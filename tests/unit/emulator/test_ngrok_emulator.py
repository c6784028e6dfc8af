# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the ngrok TunnelSessions emulator (tests/emulator/ngrok_emulator.py), stdlib clients only."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest

EMULATOR_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "emulator"))
EMULATOR_SCRIPT = os.path.join(EMULATOR_DIR, "ngrok_emulator.py")
if EMULATOR_DIR not in sys.path:
    sys.path.insert(0, EMULATOR_DIR)

import ngrok_emulator  # noqa: E402 pylint: disable=wrong-import-position,import-error

KEY = "test-api-key"
ID_RE = re.compile(r"^ts_[0-9A-Za-z]{27}$")
OP_RE = re.compile(r"^op_[0-9A-Za-z]{27}$")
CR_RE = re.compile(r"^cr_[0-9A-Za-z]{27}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SESSION_KEYS = {"agent_version", "credential", "id", "ip", "metadata", "os", "region", "started_at", "transport", "uri"}
_DEFAULT = object()


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode()) if raw else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())


def request(emu, method, path, body=_DEFAULT, headers=None, auth=_DEFAULT, version="2", ctype=_DEFAULT, timeout=10):
    """One request on a fresh connection. body: bytes/str/obj; default {} for POST."""
    hdrs = {}
    if auth is _DEFAULT:
        auth = "Bearer " + KEY
    if auth is not None:
        hdrs["Authorization"] = auth
    if version is not None:
        hdrs["Ngrok-Version"] = version
    if body is _DEFAULT:
        body = {} if method == "POST" else None
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if ctype is _DEFAULT:
        ctype = "application/json" if body is not None else None
    if ctype is not None:
        hdrs["Content-Type"] = ctype
    hdrs.update(headers or {})
    split = urlsplit(path)
    if split.scheme:
        path = split.path + ("?" + split.query if split.query else "")
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
    finally:
        conn.close()


def control(emu, method, path, body=None):
    return request(emu, method, "/_emulator/" + path, body=body if body is not None else (b"" if method == "POST" else None),
                   auth=None, version=None)


def add(emu, *specs):
    resp = control(emu, "POST", "sessions", list(specs))
    assert resp.status == 200, resp.json
    return resp.json["tunnel_sessions"]


def list_all(emu, query=""):
    resp = request(emu, "GET", "/tunnel_sessions" + query)
    assert resp.status == 200, resp.json
    return resp.json["tunnel_sessions"]


def by_metadata(emu, metadata):
    return [s for s in list_all(emu) if s.get("metadata") == metadata]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met within %ss" % timeout)
        time.sleep(0.01)


def assert_error(resp, status, code):
    assert resp.status == status, (resp.status, resp.json)
    body = resp.json
    assert body["status_code"] == status
    assert body["error_code"] == code
    assert isinstance(body["msg"], str) and body["msg"]
    assert OP_RE.match(body["details"]["operation_id"])
    assert resp.header("ngrok-operation-id") == body["details"]["operation_id"]
    assert resp.header("content-type") == "application/json"


def flist(emu, expr):
    resp = request(emu, "GET", "/tunnel_sessions?" + urlencode({"filter": expr}))
    return resp


@pytest.fixture
def emu():
    emulator = ngrok_emulator.Emulator(reconnect_delay=0, rate_limit=0, idle_timeout=120, max_lifetime=600).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def fleet(emu):
    add(emu,
        {"metadata": "web-01", "os": "linux", "region": "us", "started_at": "2025-10-01T08:00:00Z", "agent_version": "3.20.0"},
        {"metadata": "web-02", "os": "linux", "region": "eu", "started_at": "2025-10-02T08:00:00Z", "agent_version": "3.19.1"},
        {"metadata": "db-01", "os": "darwin", "region": "eu", "started_at": "2025-10-03T08:00:00Z", "credential_id": "cr_2dbCREDENTIAL0000000000000A"},
        {"metadata": "win-01", "os": "windows", "region": "ap", "started_at": "2025-10-04T08:00:00Z", "restart_on_stop": True},
        {"os": "linux", "region": "us", "started_at": "2025-10-05T08:00:00Z"},
        {"metadata": "ssh-01", "transport": "ssh", "started_at": "2025-10-06T08:00:00Z"})
    return emu


# --------------------------------------------------------------------------- unit-level


def test_ids_are_time_sortable_and_well_formed():
    older = ngrok_emulator.new_id("ts", 1700000000.0)
    newer = ngrok_emulator.new_id("ts", 1700000001.0)
    assert ID_RE.match(older) and ID_RE.match(newer)
    assert older < newer
    gen = ngrok_emulator._MonotonicIds()  # pylint: disable=protected-access
    now = time.time()
    ids = [gen.new("ts", now) for dummy in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200
    assert CR_RE.match(ngrok_emulator.new_id("cr"))


@pytest.mark.parametrize("literal, value", [
    (r'"a\u0001b"', "a\x01b"),
    (r'"\x41\101"', "AA"),
    (r'"\U0001F600"', "\U0001F600"),
    (r'"\a\b\f\v\?\`"', "\a\b\f\v?`"),
    (r"'it\'s'", "it's"),
])
def test_cel_string_escapes(literal, value):
    view = {"metadata": value}
    assert ngrok_emulator.compile_filter("obj.metadata == " + literal)(view)


@pytest.mark.parametrize("literal", [r'"\u12"', r'"\uD800"', r'"\q"', r'"\x4"', r'"\8"'])
def test_cel_bad_escapes_are_invalid(literal):
    with pytest.raises(ngrok_emulator.CelError):
        ngrok_emulator.compile_filter("obj.metadata == " + literal)


def test_a_filter_for_the_longest_metadata_is_accepted():
    # Metadata may have 4096 characters; escaped in a CEL literal it grows far past 4096.
    metadata = '"\\\x01m' * 1024
    literal = '"' + metadata.replace("\\", "\\\\").replace('"', '\\"').replace("\x01", "\\u0001") + '"'
    assert len(metadata) == 4096 and len(literal) > 11000
    expression = 'obj.os == "linux" && obj.metadata == ' + literal
    assert ngrok_emulator.compile_filter(expression)({"metadata": metadata, "os": "linux"})
    assert not ngrok_emulator.compile_filter(expression)({"metadata": metadata[:-1], "os": "linux"})


def test_compile_filter_directly():
    view = {"id": "ts_x", "metadata": "a", "agent_version": "3", "ip": "1", "os": "linux", "region": "us",
            "started_at": ngrok_emulator.parse_rfc3339("2025-01-01T00:00:00Z"),
            "credential": ngrok_emulator._Credential("cr_1", "/credentials/cr_1")}  # pylint: disable=protected-access
    assert ngrok_emulator.compile_filter('obj.os == "linux" && size(obj.metadata) == 1')(view)
    assert ngrok_emulator.compile_filter('obj.metadata.size() < 2 && -1 < 0')(view)
    assert not ngrok_emulator.compile_filter('obj.started_at > timestamp("2025-01-01T00:00:00+00:00")')(view)
    assert ngrok_emulator.compile_filter('obj.started_at == timestamp("2025-01-01T00:00:00Z")')(view)
    assert ngrok_emulator.compile_filter('obj.credential == obj.credential && obj.credential.id in ["cr_1"]')(view)
    assert ngrok_emulator.compile_filter('obj.metadata in ["b", 1, "a"] && [1, "a"] != [1, "b"]')(view)
    with pytest.raises(ngrok_emulator.CelError):
        ngrok_emulator.compile_filter("(" * 200 + "true" + ")" * 200)


# --------------------------------------------------------------------------- auth, version, body


def test_auth_and_version_errors(fleet):
    assert_error(request(fleet, "GET", "/tunnel_sessions", auth=None), 401, "ERR_NGROK_200")
    assert_error(request(fleet, "GET", "/tunnel_sessions", auth="Basic dGVzdDp0ZXN0"), 401, "ERR_NGROK_201")
    assert_error(request(fleet, "GET", "/tunnel_sessions", auth=KEY), 401, "ERR_NGROK_201")
    assert_error(request(fleet, "GET", "/tunnel_sessions", auth="Bearer nope"), 401, "ERR_NGROK_203")
    # auth is checked before the version header, and on unknown paths too
    assert_error(request(fleet, "GET", "/nowhere", auth="Bearer nope", version=None), 401, "ERR_NGROK_203")
    assert_error(request(fleet, "GET", "/tunnel_sessions", version=None), 400, "ERR_NGROK_218")
    assert_error(request(fleet, "GET", "/tunnel_sessions", version=" "), 400, "ERR_NGROK_218")
    assert_error(request(fleet, "GET", "/tunnel_sessions", version="1"), 400, "ERR_NGROK_217")
    assert request(fleet, "GET", "/tunnel_sessions", auth="bearer " + KEY).status == 200


def test_extra_api_keys_and_config_hides_keys(emu):
    resp = control(emu, "POST", "config", {"api_keys": ["k1", "k2"]})
    assert resp.status == 200 and "api_keys" not in resp.json and resp.json["api_key_count"] == 2
    assert request(emu, "GET", "/tunnel_sessions", auth="Bearer k2").status == 200
    assert_error(request(emu, "GET", "/tunnel_sessions"), 401, "ERR_NGROK_203")
    cfg = control(emu, "GET", "config").json
    assert "k1" not in json.dumps(cfg)
    assert control(emu, "POST", "config", {"rate_limit": "x"}).status == 400
    assert control(emu, "POST", "config", {"bogus": 1}).status == 400
    control(emu, "POST", "reset")
    assert request(emu, "GET", "/tunnel_sessions").status == 200


def test_content_type_and_body_errors(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    path = "/tunnel_sessions/%s/update" % sid
    assert_error(request(fleet, "POST", path, body=None, ctype=None), 400, "ERR_NGROK_216")
    assert_error(request(fleet, "POST", path, body="{}", ctype="text/plain"), 400, "ERR_NGROK_216")
    assert_error(request(fleet, "POST", path, body="{not json"), 400, "ERR_NGROK_213")
    assert_error(request(fleet, "POST", path, body=b""), 400, "ERR_NGROK_213")
    assert_error(request(fleet, "POST", path, body="[]"), 400, "ERR_NGROK_213")
    # errors are answered before the session is looked up
    assert_error(request(fleet, "POST", "/tunnel_sessions/ts_nope/stop", body=None, ctype=None), 400, "ERR_NGROK_216")
    assert request(fleet, "POST", path, body='{"id": "%s"}' % sid, ctype="application/json; charset=utf-8").status == 204


def test_not_found_and_method_not_allowed(fleet):
    for path in ("/nowhere", "/tunnel_sessions/ts_0000000000000000000000000000", "/tunnel_sessions/x/y/z",
                 "/tunnel_sessions/ts_0000000000000000000000000000/restart"):
        method = "POST" if path.endswith("restart") else "GET"
        resp = request(fleet, method, path)
        assert resp.status == 404
        assert set(resp.json) == {"details", "msg", "status_code"}
        assert resp.json["msg"] == "Resource not found" and resp.json["status_code"] == 404
        assert OP_RE.match(resp.json["details"]["operation_id"])
    resp = request(fleet, "DELETE", "/tunnel_sessions")
    assert resp.status == 405 and resp.json["status_code"] == 405 and resp.header("allow") == "GET"
    sid = list_all(fleet)[0]["id"]
    assert request(fleet, "GET", "/tunnel_sessions/%s/restart" % sid).status == 405
    assert request(fleet, "POST", "/tunnel_sessions/%s" % sid).status == 405
    # a method http.server has no handler for is answered the same way (not its HTML 501), and logged
    resp = request(fleet, "TRACE", "/tunnel_sessions/%s" % sid, body=None)
    assert resp.status == 405 and resp.json["status_code"] == 405 and resp.header("allow") == "GET"
    assert OP_RE.match(resp.header("ngrok-operation-id"))
    assert control(fleet, "GET", "requests").json["requests"][-1]["method"] == "TRACE"


# --------------------------------------------------------------------------- resource shape, list, paging


def test_session_shape_and_uris(fleet):
    sessions = list_all(fleet)
    assert len(sessions) == 6
    for sess in sessions:
        assert set(sess) <= SESSION_KEYS and set(sess) >= SESSION_KEYS - {"metadata"}
        assert ID_RE.match(sess["id"]), sess["id"]
        assert CR_RE.match(sess["credential"]["id"]) or sess["credential"]["id"] == "cr_2dbCREDENTIAL0000000000000A"
        assert TIME_RE.match(sess["started_at"])
        assert sess["uri"] == "http://127.0.0.1:%d/tunnel_sessions/%s" % (fleet.port, sess["id"])
        assert sess["credential"]["uri"].endswith("/credentials/" + sess["credential"]["id"])
    no_meta = [s for s in sessions if "metadata" not in s]
    assert len(no_meta) == 1 and no_meta[0]["started_at"] == "2025-10-05T08:00:00Z"
    one = request(fleet, "GET", "/tunnel_sessions/" + sessions[0]["id"], headers={"Host": "api.example.test"})
    assert one.status == 200 and one.json["uri"] == "http://api.example.test/tunnel_sessions/" + sessions[0]["id"]
    assert one.json["transport"] == "ssh" and one.json["agent_version"] == "3.20.0"
    # newest first
    assert [s["started_at"] for s in sessions] == sorted((s["started_at"] for s in sessions), reverse=True)
    assert [s["id"] for s in sessions] == sorted((s["id"] for s in sessions), reverse=True)


def test_paging_across_three_pages(emu):
    add(emu, *[{"metadata": "m-%d" % i} for i in range(7)])
    seen = []
    resp = request(emu, "GET", "/tunnel_sessions?limit=3")
    pages = 0
    while True:
        pages += 1
        assert resp.status == 200
        assert resp.json["uri"] == "http://127.0.0.1:%d/tunnel_sessions" % emu.port
        seen.extend(s["metadata"] for s in resp.json["tunnel_sessions"])
        nxt = resp.json["next_page_uri"]
        if nxt is None:
            break
        assert nxt.startswith("http://127.0.0.1:%d/tunnel_sessions?before_id=ts_" % emu.port) and "limit=3" in nxt
        resp = request(emu, "GET", nxt)
    assert pages == 3
    assert seen == ["m-%d" % i for i in range(6, -1, -1)]
    # exact page boundary: 6 items, limit 3 -> the second page is the last
    resp = request(emu, "GET", "/tunnel_sessions?limit=3&before_id=" + list_all(emu)[-1]["id"])
    assert resp.json["tunnel_sessions"] == [] and resp.json["next_page_uri"] is None
    assert request(emu, "GET", "/tunnel_sessions?limit=7").json["next_page_uri"] is None
    assert len(request(emu, "GET", "/tunnel_sessions?limit=100").json["tunnel_sessions"]) == 7


def test_default_limit_is_100(emu):
    add(emu, *[{} for dummy in range(105)])
    resp = request(emu, "GET", "/tunnel_sessions")
    assert len(resp.json["tunnel_sessions"]) == 100
    assert "limit" not in resp.json["next_page_uri"]
    assert len(request(emu, "GET", resp.json["next_page_uri"]).json["tunnel_sessions"]) == 5


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "%2B5", "1e2", "x1"])
def test_limit_errors(emu, limit):
    assert_error(request(emu, "GET", "/tunnel_sessions?limit=" + limit), 400, "ERR_NGROK_233")


# --------------------------------------------------------------------------- CEL filter


@pytest.mark.parametrize("expr, expected", [
    ('obj.metadata == "web-01"', {"web-01"}),
    ("obj.metadata == 'web-02'", {"web-02"}),
    ('obj.os == "linux" && obj.region == "eu"', {"web-02"}),
    ('obj.os == "darwin" || obj.os == "windows"', {"db-01", "win-01"}),
    ('!(obj.os == "linux")', {"db-01", "win-01"}),
    ('obj.metadata in ["web-01", "db-01", "nope"]', {"web-01", "db-01"}),
    ('obj.started_at < timestamp("2025-10-02T12:00:00Z")', {"web-01", "web-02"}),
    ('obj.started_at >= timestamp("2025-10-04T10:00:00+02:00") && obj.metadata != ""', {"win-01", "ssh-01"}),
    ('obj.started_at <= timestamp("2025-10-01T08:00:00Z")', {"web-01"}),
    ('obj.credential.id == "cr_2dbCREDENTIAL0000000000000A"', {"db-01"}),
    ('obj.credential.uri.size() > 0 && obj.credential.id in ["cr_2dbCREDENTIAL0000000000000A"]', {"db-01"}),
    ('obj.metadata == ""', {""}),
    ('size(obj.metadata) == 6 && obj.agent_version < "3.20"', {"web-02"}),
    ('obj.metadata.size() > 5 && (obj.region == "us" || obj.region == "ap")', {"web-01", "win-01", "ssh-01"}),
    ('true', {"web-01", "web-02", "db-01", "win-01", "", "ssh-01"}),
    ('obj.metadata == "x\\" || obj.os == \\"linux"', set()),
    ("obj.metadata == 'x\\' || obj.os == \\'linux'", set()),
])
def test_filter(fleet, expr, expected):
    resp = flist(fleet, expr)
    assert resp.status == 200, resp.json
    assert {s.get("metadata", "") for s in resp.json["tunnel_sessions"]} == expected


def test_filter_by_id_and_paging_keeps_filter(fleet):
    target = by_metadata(fleet, "db-01")[0]["id"]
    assert [s["id"] for s in flist(fleet, 'obj.id == "%s"' % target).json["tunnel_sessions"]] == [target]
    expr = 'obj.os == "linux"'
    resp = request(fleet, "GET", "/tunnel_sessions?" + urlencode({"filter": expr, "limit": 1}))
    names = []
    while True:
        names.extend(s.get("metadata", "") for s in resp.json["tunnel_sessions"])
        if resp.json["next_page_uri"] is None:
            break
        assert "filter=" in resp.json["next_page_uri"]
        resp = request(fleet, "GET", resp.json["next_page_uri"])
    assert names == ["ssh-01", "", "web-02", "web-01"]


@pytest.mark.parametrize("expr", [
    'obj.metadata = "x"', 'obj.metadata ==', 'obj.hostname == "x"', 'metadata == "x"', 'obj.metadata == "x',
    'matches(obj.metadata, "x")', 'obj.metadata.matches("x")', 'obj.metadata[0] == "x"', 'obj.metadata == 1',
    'obj.started_at < timestamp("yesterday")', 'obj.started_at < 5', 'obj.os', '"a" < "b" < "c"', 'obj.os in "linux"',
    '!obj.os', 'obj.os == "a" && 1', 'size(1) == 1', 'timestamp(1) < obj.started_at', 'obj.credential.secret == ""',
    'obj.credential < "x"', 'obj.metadata == "\\q"', '1.5 == 1', 'obj.os == "linux" )', 'null == obj.os',
    # type errors, as CEL's type checker reports them (no overload), never a silent false or a string compare
    'obj.started_at < "2099"', 'obj.started_at == "2025-10-01T08:00:00Z"', 'obj.credential == "cr_x"',
    'obj.metadata in [1, 2]', 'obj.started_at in ["2025-10-01T08:00:00Z"]', 'size(obj.started_at) > 0',
    '"cr_x" == obj.credential', 'obj.credential in ["cr_x"]',
])
def test_filter_invalid(fleet, expr):
    resp = flist(fleet, expr)
    assert_error(resp, 400, "ERR_NGROK_250")
    assert resp.json["msg"].startswith("Invalid CEL query")


# --------------------------------------------------------------------------- restart / stop / update


def test_restart_reconnects_with_new_id(fleet):
    before = by_metadata(fleet, "web-01")[0]
    resp = request(fleet, "POST", "/tunnel_sessions/%s/restart" % before["id"])
    assert resp.status == 204 and resp.raw == b"" and OP_RE.match(resp.header("ngrok-operation-id"))
    assert request(fleet, "GET", "/tunnel_sessions/" + before["id"]).status == 404
    after = wait_for(lambda: by_metadata(fleet, "web-01"))[0]
    assert after["id"] != before["id"] and after["id"] > before["id"]
    assert after["started_at"] > before["started_at"]
    for field in ("credential", "metadata", "ip", "os", "region", "agent_version", "transport"):
        assert after[field] == before[field]
    assert list_all(fleet)[0]["id"] == after["id"]  # newest first
    history = control(fleet, "GET", "sessions").json["history"]
    assert [before["id"], after["id"]] in history.values()


def test_restart_with_reconnect_delay_is_pending_then_back(emu):
    sess = add(emu, {"metadata": "slow", "reconnect_delay": 1.5})[0]
    assert request(emu, "POST", "/tunnel_sessions/%s/restart" % sess["id"]).status == 204
    assert by_metadata(emu, "slow") == []
    state = control(emu, "GET", "sessions").json
    assert [p["metadata"] for p in state["pending"]] == ["slow"] and state["pending"][0]["previous_id"] == sess["id"]
    back = wait_for(lambda: by_metadata(emu, "slow"))[0]
    assert back["id"] != sess["id"]
    assert control(emu, "GET", "sessions").json["pending"] == []


def test_restart_windows_and_ssh_refused(fleet):
    win = by_metadata(fleet, "win-01")[0]
    resp = request(fleet, "POST", "/tunnel_sessions/%s/restart" % win["id"])
    assert_error(resp, 400, "ERR_NGROK_804")
    assert "Windows" in resp.json["msg"]
    ssh = by_metadata(fleet, "ssh-01")[0]
    assert_error(request(fleet, "POST", "/tunnel_sessions/%s/restart" % ssh["id"]), 400, "ERR_NGROK_1122")
    assert_error(request(fleet, "POST", "/tunnel_sessions/%s/update" % ssh["id"]), 400, "ERR_NGROK_1121")
    assert request(fleet, "GET", "/tunnel_sessions/" + win["id"]).status == 200
    assert request(fleet, "GET", "/tunnel_sessions/" + ssh["id"]).status == 200


def test_restart_without_reconnect_never_returns(emu):
    sess = add(emu, {"metadata": "lost", "reconnect": False})[0]
    assert request(emu, "POST", "/tunnel_sessions/%s/restart" % sess["id"]).status == 204
    assert by_metadata(emu, "lost") == []
    assert control(emu, "GET", "sessions").json["pending"] == []


def test_stop_and_windows_service_restart(fleet):
    web = by_metadata(fleet, "web-02")[0]
    assert request(fleet, "POST", "/tunnel_sessions/%s/stop" % web["id"]).status == 204
    assert by_metadata(fleet, "web-02") == []
    win = by_metadata(fleet, "win-01")[0]
    assert request(fleet, "POST", "/tunnel_sessions/%s/stop" % win["id"]).status == 204
    back = wait_for(lambda: by_metadata(fleet, "win-01"))[0]
    assert back["id"] != win["id"] and back["credential"] == win["credential"]
    assert by_metadata(fleet, "web-02") == []


def agent_info(emu, session_id):
    return next(a for a in control(emu, "GET", "sessions").json["agents"] if a["session_id"] == session_id)


def test_update_keeps_session_and_version_until_a_restart(fleet, monkeypatch):
    web = by_metadata(fleet, "web-01")[0]
    assert web["agent_version"] == "3.20.0"
    assert request(fleet, "POST", "/tunnel_sessions/%s/update" % web["id"]).status == 204
    # the spec: the agent is "in the update process"; it runs the new code only once restarted
    assert request(fleet, "GET", "/tunnel_sessions/" + web["id"]).json == web
    assert agent_info(fleet, web["id"])["updated_to"] == "3.21.0"
    resp = request(fleet, "POST", "/tunnel_sessions/%s/update" % web["id"])
    assert_error(resp, 400, "ERR_NGROK_809")
    assert "in process of updating" in resp.json["msg"]
    monkeypatch.setattr(ngrok_emulator, "UPDATE_SECONDS", 0.0)
    resp = request(fleet, "POST", "/tunnel_sessions/%s/update" % web["id"])
    assert_error(resp, 400, "ERR_NGROK_809")
    assert "has already updated to 3.21.0 but has not been restarted" in resp.json["msg"]
    sess = add(fleet, {"metadata": "custom", "update_to": "3.30.1"})[0]
    assert request(fleet, "POST", "/tunnel_sessions/%s/update" % sess["id"]).status == 204
    assert request(fleet, "GET", "/tunnel_sessions/" + sess["id"]).json["agent_version"] == "3.20.0"
    # the restarted agent runs the new version, and has nothing left to update
    assert request(fleet, "POST", "/tunnel_sessions/%s/restart" % web["id"]).status == 204
    back = wait_for(lambda: by_metadata(fleet, "web-01"))[0]
    assert back["agent_version"] == "3.21.0" and back["id"] != web["id"]
    assert "updated_to" not in agent_info(fleet, back["id"])
    resp = request(fleet, "POST", "/tunnel_sessions/%s/update" % back["id"])
    assert_error(resp, 400, "ERR_NGROK_809")
    assert "no update available" in resp.json["msg"]


def test_update_applied_by_a_failure_runs_after_the_restart(emu):
    sess = add(emu, {"metadata": "flaky", "fail_update": {"error_code": "ERR_NGROK_810", "count": 1, "apply": True}})[0]
    assert_error(request(emu, "POST", "/tunnel_sessions/%s/update" % sess["id"]), 502, "ERR_NGROK_810")
    assert request(emu, "GET", "/tunnel_sessions/" + sess["id"]).json["agent_version"] == "3.20.0"
    assert "in process of updating" in request(emu, "POST", "/tunnel_sessions/%s/update" % sess["id"]).json["msg"]
    assert request(emu, "POST", "/tunnel_sessions/%s/restart" % sess["id"]).status == 204
    assert wait_for(lambda: by_metadata(emu, "flaky"))[0]["agent_version"] == "3.21.0"


def test_per_agent_failures(emu):
    bad = add(emu, {"metadata": "bad", "fail_restart": "ERR_NGROK_808", "fail_stop": "ERR_NGROK_807",
                    "fail_update": {"error_code": "ERR_NGROK_810", "count": 1}})[0]
    assert_error(request(emu, "POST", "/tunnel_sessions/%s/restart" % bad["id"]), 500, "ERR_NGROK_808")
    assert_error(request(emu, "POST", "/tunnel_sessions/%s/stop" % bad["id"]), 500, "ERR_NGROK_807")
    assert_error(request(emu, "POST", "/tunnel_sessions/%s/update" % bad["id"]), 502, "ERR_NGROK_810")
    assert request(emu, "POST", "/tunnel_sessions/%s/update" % bad["id"]).status == 204
    assert by_metadata(emu, "bad")[0]["id"] == bad["id"]
    once = add(emu, {"metadata": "once", "fail_restart": {"error_code": "ERR_NGROK_804", "count": 1, "msg": "nope"}})[0]
    resp = request(emu, "POST", "/tunnel_sessions/%s/restart" % once["id"])
    assert_error(resp, 400, "ERR_NGROK_804")
    assert resp.json["msg"] == "nope"
    assert request(emu, "POST", "/tunnel_sessions/%s/restart" % once["id"]).status == 204


# --------------------------------------------------------------------------- rate limit


def test_rate_limit(emu):
    control(emu, "POST", "config", {"rate_limit": 3, "rate_window": 60, "retry_after": True, "api_keys": [KEY, "other"]})
    for dummy in range(3):
        assert request(emu, "GET", "/tunnel_sessions").status == 200
    resp = request(emu, "GET", "/tunnel_sessions", auth="Bearer other")  # one account: keys share the bucket
    assert_error(resp, 429, "ERR_NGROK_226")
    assert 55 <= int(resp.header("retry-after")) <= 60
    assert control(emu, "GET", "health").status == 200  # control paths are not limited
    control(emu, "POST", "config", {"retry_after": False})
    resp = request(emu, "GET", "/tunnel_sessions")
    assert resp.status == 429 and resp.header("retry-after") is None
    # bad credentials are answered before the limiter
    assert_error(request(emu, "GET", "/tunnel_sessions", auth="Bearer bad"), 401, "ERR_NGROK_203")
    control(emu, "POST", "config", {"rate_scope": "key"})
    assert request(emu, "GET", "/tunnel_sessions", auth="Bearer other").status == 200


def test_rate_limit_window_rolls_and_429_does_not_count(emu):
    control(emu, "POST", "config", {"rate_limit": 2, "rate_window": 60, "retry_after": True})
    assert request(emu, "GET", "/tunnel_sessions").status == 200
    assert request(emu, "GET", "/tunnel_sessions").status == 200
    for dummy in range(5):  # rejected requests do not count
        assert request(emu, "GET", "/tunnel_sessions").status == 429
    # a shorter window applies to the requests already counted: the two accepted ones roll out
    control(emu, "POST", "config", {"rate_window": 0.3})
    wait_for(lambda: request(emu, "GET", "/tunnel_sessions").status == 200)


def test_rate_count_rejected_keeps_a_probed_window_full():
    """With rate_count_rejected a 429 counts: a request after the first accepted one expired is still refused."""
    times = (100.0, 101.0, 105.0, 110.5)
    lenient = ngrok_emulator.Emulator(rate_limit=2, rate_window=10).state
    strict = ngrok_emulator.Emulator(rate_limit=2, rate_window=10, rate_count_rejected=True).state
    assert [lenient.check_rate(KEY, now) for now in times] == [None, None, pytest.approx(5.0), None]
    # 105 is refused and counted, so at 110.5 (100 has expired) the window still holds 101 and 105
    assert [strict.check_rate(KEY, now) for now in times] == [None, None, pytest.approx(6.0), pytest.approx(4.5)]
    assert list(strict.rate[""]) == [101.0, 105.0, 110.5]
    # the wait it gives counts the rejected request itself: the window then has room again
    strict2 = ngrok_emulator.Emulator(rate_limit=1, rate_window=10, rate_count_rejected=True).state
    assert strict2.check_rate(KEY, 0.0) is None
    assert strict2.check_rate(KEY, 5.0) == pytest.approx(10.0)  # room at 15, once 5 has left the window
    assert strict2.check_rate(KEY, 14.5) == pytest.approx(10.0)  # 0 has left, 5 has not; 14.5 counts too
    assert strict2.check_rate(KEY, 24.5) is None


def test_rate_count_rejected_over_http_config_and_retry_after(emu):
    assert control(emu, "GET", "config").json["rate_count_rejected"] is False
    assert control(emu, "POST", "config", {"rate_count_rejected": "yes"}).status == 400
    resp = control(emu, "POST", "config", {"rate_limit": 1, "rate_window": 60, "retry_after": True,
                                           "rate_count_rejected": True})
    assert resp.status == 200 and resp.json["rate_count_rejected"] is True
    assert request(emu, "GET", "/tunnel_sessions").status == 200
    resp = request(emu, "GET", "/tunnel_sessions")
    assert_error(resp, 429, "ERR_NGROK_226")
    assert 59 <= int(resp.header("retry-after")) <= 60
    assert len(emu.state.rate[""]) == 2  # the accepted request and the rejected one
    control(emu, "POST", "reset")  # back to the CLI config: rejected requests do not count
    assert control(emu, "GET", "config").json["rate_count_rejected"] is False


# --------------------------------------------------------------------------- faults


def fault(emu, **spec):
    resp = control(emu, "POST", "faults", spec)
    assert resp.status == 200, resp.json
    return resp.json["faults"][0]


def test_fault_respond_standard_and_custom(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    fault(fleet, method="POST", path=r"/tunnel_sessions/[^/]+/restart", status=503)
    assert_error_no_code = request(fleet, "POST", "/tunnel_sessions/%s/restart" % sid)
    assert assert_error_no_code.status == 503 and assert_error_no_code.json["status_code"] == 503
    assert by_metadata(fleet, "web-01")[0]["id"] == sid  # not applied
    fault(fleet, method="GET", path="/tunnel_sessions", status=429, headers={"Retry-After": "2"}, count=2)
    for dummy in range(2):
        resp = request(fleet, "GET", "/tunnel_sessions")
        assert_error(resp, 429, "ERR_NGROK_226")
        assert resp.header("retry-after") == "2"
    assert request(fleet, "GET", "/tunnel_sessions").status == 200
    fault(fleet, path="/tunnel_sessions", status=200, body={"tunnel_sessions": [], "uri": "x", "next_page_uri": None})
    assert request(fleet, "GET", "/tunnel_sessions", auth=None).json["tunnel_sessions"] == []  # before auth
    fault(fleet, path="/tunnel_sessions", status=500, body="<html>oops</html>")
    assert request(fleet, "GET", "/tunnel_sessions").raw == b"<html>oops</html>"


def test_fault_respond_after_applying(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    fault(fleet, method="POST", path=r"/tunnel_sessions/[^/]+/restart", status=502, apply=True, error_code="ERR_NGROK_810")
    assert_error(request(fleet, "POST", "/tunnel_sessions/%s/restart" % sid), 502, "ERR_NGROK_810")
    assert wait_for(lambda: by_metadata(fleet, "web-01"))[0]["id"] != sid


def test_fault_drop_before_and_after(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    fault(fleet, method="POST", path=r"/tunnel_sessions/[^/]+/stop", action="drop_before")
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        request(fleet, "POST", "/tunnel_sessions/%s/stop" % sid)
    assert by_metadata(fleet, "web-01")[0]["id"] == sid
    fault(fleet, method="POST", path=r"/tunnel_sessions/[^/]+/stop", action="drop_after")
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        request(fleet, "POST", "/tunnel_sessions/%s/stop" % sid)
    assert by_metadata(fleet, "web-01") == []
    log = [e for e in control(fleet, "GET", "requests").json["requests"] if e["path"].endswith("/stop")]
    assert [e["status"] for e in log] == ["dropped", "dropped"]
    assert log[-1]["fault"].startswith("drop_after")


def test_fault_delay_causes_read_timeout_then_applies(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    fault(fleet, method="POST", path=r"/tunnel_sessions/[^/]+/restart", action="delay", delay=0.5, name="slow-restart")
    with pytest.raises(socket.timeout):
        request(fleet, "POST", "/tunnel_sessions/%s/restart" % sid, timeout=0.1)
    wait_for(lambda: by_metadata(fleet, "web-01") and by_metadata(fleet, "web-01")[0]["id"] != sid)
    entry = wait_for(lambda: [e for e in control(fleet, "GET", "requests").json["requests"] if e["fault"] == "slow-restart"])[0]
    assert entry["path"].endswith("/restart")
    fault(fleet, method="GET", action="delay", delay=0.2)
    started = time.monotonic()
    assert request(fleet, "GET", "/tunnel_sessions").status == 200
    assert time.monotonic() - started >= 0.2


def test_fault_delay_without_apply_never_acts(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    fault(fleet, method="POST", path=r"/tunnel_sessions/[^/]+/restart", action="delay", delay=0.3, apply=False,
          name="slow-noop")
    with pytest.raises(socket.timeout):
        request(fleet, "POST", "/tunnel_sessions/%s/restart" % sid, timeout=0.1)
    wait_for(lambda: [e for e in control(fleet, "GET", "requests").json["requests"] if e["fault"] == "slow-noop"])
    assert by_metadata(fleet, "web-01")[0]["id"] == sid  # the delay passed, and nothing was done


def test_fault_matches_its_method_and_its_whole_path(fleet):
    sid = by_metadata(fleet, "web-01")[0]["id"]
    fault(fleet, method="POST", path="/tunnel_sessions/%s" % sid, status=500)  # a POST there: never sent below
    fault(fleet, method="GET", path="/tunnel_sessions", status=418)
    assert request(fleet, "GET", "/tunnel_sessions/%s" % sid).status == 200  # other method, and longer path
    assert request(fleet, "GET", "/tunnel_sessions/%s/restart" % sid).status == 405  # the path is matched whole
    assert request(fleet, "GET", "/tunnel_sessions").status == 418
    assert [f["name"] for f in control(fleet, "GET", "faults").json["faults"]][0].startswith("respond")


@pytest.mark.parametrize("action, status", [("restart", 500), ("stop", 500)])
def test_agent_failure_with_apply_acts_then_fails(emu, action, status):
    spec = {"error_code": "ERR_NGROK_808" if action == "restart" else "ERR_NGROK_807", "count": 1, "apply": True}
    sess = add(emu, {"metadata": "applied", "fail_" + action: spec})[0]
    assert_error(request(emu, "POST", "/tunnel_sessions/%s/%s" % (sess["id"], action)), status, spec["error_code"])
    assert request(emu, "GET", "/tunnel_sessions/" + sess["id"]).status == 404  # it happened anyway
    plain = add(emu, {"metadata": "not-applied", "fail_" + action: dict(spec, apply=False)})[0]
    assert_error(request(emu, "POST", "/tunnel_sessions/%s/%s" % (plain["id"], action)), status, spec["error_code"])
    assert request(emu, "GET", "/tunnel_sessions/" + plain["id"]).status == 200  # it did not


def test_fault_slow_body_and_big_body(fleet):
    fault(fleet, method="GET", path="/tunnel_sessions", action="slow_body", delay=0.4)
    started = time.monotonic()
    resp = request(fleet, "GET", "/tunnel_sessions")
    assert time.monotonic() - started >= 0.35
    assert resp.status == 200 and len(resp.json["tunnel_sessions"]) == 6
    fault(fleet, method="GET", path="/tunnel_sessions", action="big_body", size=2 * 1024 * 1024)
    resp = request(fleet, "GET", "/tunnel_sessions")
    assert resp.status == 200 and abs(len(resp.raw) - 2 * 1024 * 1024) < 10
    assert resp.json["tunnel_sessions"] == []


def test_fault_listing_and_validation(emu):
    fault(emu, path="/a", count=3)
    fault(emu, path="/b", count=None)
    listed = control(emu, "GET", "faults").json["faults"]
    assert [(f["path"], f["remaining"]) for f in listed] == [("/a", 3), ("/b", None)]
    for dummy in range(5):
        assert request(emu, "GET", "/b").status == 500
    assert control(emu, "DELETE", "faults").status == 200
    assert control(emu, "GET", "faults").json["faults"] == []
    assert control(emu, "POST", "faults", {"action": "explode"}).status == 400
    assert control(emu, "POST", "faults", {"path": "("}).status == 400
    assert control(emu, "POST", "faults", {"paht": "/x"}).status == 400


# --------------------------------------------------------------------------- request log, control API


def test_request_log_masks_key(emu):
    control(emu, "POST", "config", {"api_keys": [KEY, "s3cr3t-key-value"]})
    sess = add(emu, {"metadata": "m"})[0]
    request(emu, "GET", "/tunnel_sessions?limit=5&filter=" + "obj.os%20%3D%3D%20%22linux%22", auth="Bearer s3cr3t-key-value")
    request(emu, "GET", "/tunnel_sessions", auth="Bearer wrong-key")
    request(emu, "POST", "/tunnel_sessions/%s/update" % sess["id"], body={"note": "s3cr3t-key-value"}, auth="Bearer s3cr3t-key-value")
    raw = control(emu, "GET", "requests").raw.decode()
    assert "s3cr3t-key-value" not in raw
    log = json.loads(raw)["requests"]
    assert len(log) == 3  # control requests are not logged
    first, second, third = log
    assert first["headers"]["authorization"] == "Bearer <valid>"
    assert first["query"] == {"limit": ["5"], "filter": ['obj.os == "linux"']}
    assert first["method"] == "GET" and first["path"] == "/tunnel_sessions" and first["status"] == 200 and first["body"] is None
    assert second["headers"]["authorization"] == "Bearer <invalid>" and second["status"] == 401
    assert third["status"] == 204 and third["body"] == '{"note": "<redacted>"}' and third["fault"] is None
    assert third["headers"]["ngrok-version"] == "2"
    assert first["seq"] < second["seq"] < third["seq"] and isinstance(first["time"], float)
    assert control(emu, "GET", "requests?since=%d" % second["seq"]).json["requests"][0]["seq"] == third["seq"]
    control(emu, "DELETE", "requests")
    assert control(emu, "GET", "requests").json["requests"] == []


def test_control_sessions_validation_delete_and_reset(emu):
    assert control(emu, "POST", "sessions", [{"hostname": "x"}]).status == 400
    assert control(emu, "POST", "sessions", [{"started_at": "yesterday"}]).status == 400
    assert control(emu, "POST", "sessions", [{"id": "ts_bad"}]).status == 400
    created = add(emu, {"id": "ts_2000000000000000000000000AB", "metadata": "fixed", "ip": "192.0.2.7"})
    assert created[0]["id"] == "ts_2000000000000000000000000AB" and created[0]["ip"] == "192.0.2.7"
    assert control(emu, "POST", "sessions", {"sessions": [{"id": "ts_2000000000000000000000000AB"}]}).status == 409
    assert control(emu, "DELETE", "sessions/ts_2000000000000000000000000AB").status == 200
    assert list_all(emu) == [] and control(emu, "DELETE", "sessions/ts_2000000000000000000000000AB").status == 404
    add(emu, {}, {})
    assert control(emu, "POST", "reset").status == 200
    assert control(emu, "GET", "requests").json["requests"] == [] and list_all(emu) == []
    assert control(emu, "GET", "nope").status == 404
    assert control(emu, "DELETE", "health").status == 405


def test_seeded_agents():
    with ngrok_emulator.Emulator(agents=12, rate_limit=0) as emulator:
        sessions = list_all(emulator)
        assert [s["metadata"] for s in sessions] == ["host-%03d" % i for i in range(12, 0, -1)]
        assert len({s["ip"] for s in sessions}) == 12 and len({s["credential"]["id"] for s in sessions}) == 12
        assert {(s["os"], s["region"], s["agent_version"], s["transport"]) for s in sessions} == {("linux", "us", "3.20.0", "ngrok/2")}
        control(emulator, "POST", "reset", {"reseed": True})
        assert len(list_all(emulator)) == 12


def test_parallel_restarts_of_300_agents():
    with ngrok_emulator.Emulator(agents=300, rate_limit=0, reconnect_delay=0) as emulator:
        before = {s["metadata"]: s["id"] for s in request(emulator, "GET", "/tunnel_sessions").json["tunnel_sessions"]}
        page = request(emulator, "GET", "/tunnel_sessions?limit=100&before_id=" + min(before.values()))
        ids = list(before.values()) + [s["id"] for s in page.json["tunnel_sessions"]]
        ids = sorted(set(ids))
        todo = list(ids)
        lock = threading.Lock()
        errors = []

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    sid = todo.pop()
                resp = request(emulator, "POST", "/tunnel_sessions/%s/restart" % sid)
                if resp.status != 204:
                    errors.append(resp.status)

        threads = [threading.Thread(target=worker) for dummy in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        after = []
        nxt = "/tunnel_sessions"
        while nxt:
            resp = request(emulator, "GET", nxt)
            after.extend(s["id"] for s in resp.json["tunnel_sessions"])
            nxt = resp.json["next_page_uri"]
        assert len(after) == 300 and not set(after) & set(ids)


# --------------------------------------------------------------------------- lifetime & CLI


def test_idle_timeout_shuts_down():
    emulator = ngrok_emulator.Emulator(idle_timeout=0.3).start()
    assert emulator.wait(5)
    assert "idle" in emulator.exit_reason and not emulator.running
    assert emulator.server.socket.fileno() == -1  # the listening socket is closed


def test_max_lifetime_shuts_down_despite_traffic():
    emulator = ngrok_emulator.Emulator(idle_timeout=10, max_lifetime=0.4).start()
    deadline = time.monotonic() + 5
    while emulator.running and time.monotonic() < deadline:
        try:
            control(emulator, "GET", "health")
        except OSError:
            break
        time.sleep(0.02)
    assert emulator.wait(5) and "max-lifetime" in emulator.exit_reason


def test_shutdown_endpoint(emu):
    assert control(emu, "POST", "shutdown").json == {"ok": True}
    assert emu.wait(5)


def test_cli_foreground(tmp_path):
    port_file = tmp_path / "port.json"
    with subprocess.Popen([sys.executable, EMULATOR_SCRIPT, "--agents", "2", "--port-file", str(port_file), "--idle-timeout", "30"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            info = json.loads(proc.stdout.readline().decode())
            assert set(info) == {"url", "pid", "port"} and info["pid"] == proc.pid
            assert info["url"] == "http://127.0.0.1:%d" % info["port"]
            assert json.loads(port_file.read_text()) == info

            class _Target:
                port = info["port"]

            assert len(list_all(_Target)) == 2
            assert control(_Target, "POST", "shutdown").status == 200
            assert proc.wait(10) == 0
            assert not port_file.exists()
        finally:
            if proc.poll() is None:
                proc.kill()


def test_cli_background(tmp_path):
    log_file = tmp_path / "emu.log"
    port_file = tmp_path / "port.json"
    port_file.write_text("stale")
    result = subprocess.run([sys.executable, EMULATOR_SCRIPT, "--background", "--log-file", str(log_file), "--port-file", str(port_file),
                             "--idle-timeout", "30", "--api-key", "k1", "--api-key", "k2", "--rate-count-rejected"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.decode().strip())
    assert json.loads(port_file.read_text()) == info

    class _Target:
        port = info["port"]

    try:
        assert request(_Target, "GET", "/tunnel_sessions", auth="Bearer k2").status == 200
        assert request(_Target, "GET", "/tunnel_sessions").status == 401
        assert control(_Target, "GET", "config").json["rate_count_rejected"] is True
    finally:
        control(_Target, "POST", "shutdown")
    wait_for(lambda: not port_file.exists())


def test_cli_background_failure():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, EMULATOR_SCRIPT, "--background", "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert result.returncode != 0 and result.stdout == b""
    assert b"cannot start" in result.stderr


# --------------------------------------------------------------------------- GET /endpoints

EP_RE = re.compile(r"^ep_[0-9A-Za-z]{27}$")
SSH_SPEC = {"proto": "tcp", "upstream_url": "tcp://localhost:22"}


def list_all_endpoints(emu, query=""):
    """Every page of GET /endpoints; returns (items, number of pages)."""
    items, pages = [], 0
    path = "/endpoints" + query
    while path:
        resp = request(emu, "GET", path)
        assert resp.status == 200, resp.json
        pages += 1
        items.extend(resp.json["endpoints"])
        path = resp.json["next_page_uri"]
    return items, pages


def test_endpoints_agent_shape_and_link_to_its_session(emu):
    session = add(emu, {"metadata": "box", "region": "eu", "endpoints": [
        SSH_SPEC, {"proto": "https", "upstream_url": "http://localhost:80", "name": "web"}]})[0]
    items, pages = list_all_endpoints(emu)
    assert pages == 1 and len(items) == 2
    web, ssh = items[0], items[1]  # newest first
    assert web["proto"] == "https" and web["url"].startswith("https://") and web["name"] == "web"
    assert ssh["proto"] == "tcp" and re.match(r"^tcp://\d\.tcp\.ngrok\.io:\d+$", ssh["url"])
    assert ssh["hostport"] == ssh["url"][len("tcp://"):] and ssh["public_url"] == ssh["url"]
    for item in items:
        assert EP_RE.match(item["id"]) and item["type"] == "agent" and item["bindings"] == ["public"]
        assert item["tunnel_session"]["id"] == session["id"]
        assert item["tunnel_session"]["uri"].endswith("/tunnel_sessions/" + session["id"])
        assert TIME_RE.match(item["created_at"]) and item["region"] == "eu"
    assert ssh["upstream_url"] == "tcp://localhost:22"
    one = request(emu, "GET", "/endpoints/" + ssh["id"])
    assert one.status == 200 and one.json == ssh
    assert request(emu, "GET", "/endpoints/ep_nope").status == 404
    assert request(emu, "POST", "/endpoints").status == 405


def test_endpoints_restart_gives_a_new_random_address_unless_reserved(emu):
    reserved = {"proto": "tcp", "upstream_url": "22", "url": "tcp://127.0.0.1:2222"}
    session = add(emu, {"metadata": "box", "endpoints": [SSH_SPEC, reserved]})[0]
    before = {e["upstream_url"]: e for e in list_all_endpoints(emu)[0]}
    for dummy in range(5):  # five restarts: a random address could repeat once, not five times
        assert request(emu, "POST", "/tunnel_sessions/%s/restart" % session["id"]).status == 204
        session = request(emu, "GET", "/tunnel_sessions").json["tunnel_sessions"][0]
        after = {e["upstream_url"]: e for e in list_all_endpoints(emu)[0]}
        assert after["22"]["url"] == "tcp://127.0.0.1:2222"
        assert after["22"]["tunnel_session"]["id"] == session["id"]
        assert after["22"]["id"] != before["22"]["id"]
        if after["tcp://localhost:22"]["url"] != before["tcp://localhost:22"]["url"]:
            break
    else:
        pytest.fail("the unreserved TCP address never changed after a restart")


def test_endpoints_of_a_stopped_agent_disappear_and_cloud_endpoints_have_no_session(emu):
    session = add(emu, {"metadata": "box", "endpoints": [SSH_SPEC]})[0]
    resp = control(emu, "POST", "endpoints", [{"url": "https://cloud.example.ngrok.app", "name": "cloud"}])
    assert resp.status == 200, resp.json
    assert request(emu, "POST", "/tunnel_sessions/%s/stop" % session["id"]).status == 204
    items, _pages = list_all_endpoints(emu)
    assert len(items) == 1
    assert items[0]["type"] == "cloud" and "tunnel_session" not in items[0] and "upstream_url" not in items[0]
    assert control(emu, "POST", "endpoints", [{"name": "no url"}]).status == 400
    assert control(emu, "POST", "sessions", [{"endpoints": [{"proto": "tcp"}]}]).status == 400
    https_url_on_tcp = {"proto": "tcp", "upstream_url": "22", "url": "https://x"}
    assert control(emu, "POST", "sessions", [{"endpoints": [https_url_on_tcp]}]).status == 400


def test_endpoints_paging_limit_and_filter(emu):
    add(emu, *[{"metadata": "a%03d" % i, "endpoints": [SSH_SPEC]} for i in range(230)])
    items, pages = list_all_endpoints(emu, "?limit=100")
    assert pages == 3 and len(items) == 230
    ids = [e["id"] for e in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 230
    assert request(emu, "GET", "/endpoints?limit=101").json["error_code"] == "ERR_NGROK_233"
    tcp = list_all_endpoints(emu, "?" + urlencode({"filter": 'obj.type == "agent" && obj.url != ""'}))[0]
    assert len(tcp) == 230
    bad = request(emu, "GET", "/endpoints?" + urlencode({"filter": 'obj.tunnel_session == "ts_x"'}))
    assert bad.status == 400 and bad.json["error_code"] == "ERR_NGROK_250"
    wrong_list = request(emu, "GET", "/tunnel_sessions?" + urlencode({"filter": 'obj.url == "x"'}))
    assert wrong_list.status == 400 and wrong_list.json["error_code"] == "ERR_NGROK_250"


def test_cli_agent_endpoint_and_cloud_endpoints():
    emulator = ngrok_emulator.Emulator(agents=3, agent_endpoints=[ngrok_emulator.parse_agent_endpoint("tcp,localhost:22")],
                                       cloud_endpoints=2, rate_limit=0, idle_timeout=120, max_lifetime=600).start()
    try:
        items, _pages = list_all_endpoints(emulator)
        assert sorted(e["type"] for e in items) == ["agent"] * 3 + ["cloud"] * 2
        assert {e.get("upstream_url") for e in items if e["type"] == "agent"} == {"localhost:22"}
    finally:
        emulator.stop()
    with pytest.raises(ValueError):
        ngrok_emulator.parse_agent_endpoint("ssh,22")
