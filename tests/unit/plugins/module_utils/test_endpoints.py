# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokClient
from ansible_collections.community.ngrok.plugins.module_utils._endpoints import (
    endpoints_by_session,
    list_endpoints,
    public_address,
    ssh_endpoint,
    summary,
    upstream_port,
)

API = "https://api.ngrok.test"


def tcp(upstream, url="tcp://0.tcp.ngrok.io:12345", session="ts_a", **extra):
    endpoint = {"id": "ep_%s" % abs(hash((upstream, url))), "type": "agent", "proto": "tcp", "url": url,
                "hostport": url[len("tcp://"):], "upstream_url": upstream, "bindings": ["public"],
                "tunnel_session": {"id": session, "uri": API + "/tunnel_sessions/" + session}}
    endpoint.update(extra)
    return endpoint


def https(upstream="http://localhost:80", session="ts_a"):
    return {"id": "ep_https", "type": "agent", "proto": "https", "url": "https://abc.ngrok.app",
            "hostport": "abc.ngrok.app:443", "upstream_url": upstream, "bindings": ["public"],
            "tunnel_session": {"id": session, "uri": ""}}


# -- upstream forms --------------------------------------------------------------------------------

@pytest.mark.parametrize("upstream, port", [
    ("tcp://localhost:22", 22),
    ("localhost:22", 22),
    ("22", 22),
    (" 22 ", 22),
    ("tcp://127.0.0.1:2222", 2222),
    ("tcp://[::1]:22", 22),
    ("[::1]:22", 22),
    ("TCP://localhost:22", 22),
    ("tcp://localhost:5432", 5432),
])
def test_upstream_port_reads_the_forms_the_api_uses(upstream, port):
    assert upstream_port(upstream) == port


@pytest.mark.parametrize("upstream", [
    "http://localhost:22",   # an HTTP upstream is not an SSH server, whatever its port
    "https://localhost:22",
    "tls://localhost:22",
    "localhost",             # no port
    "tcp://localhost",
    "0",
    "65536",
    "tcp://localhost:99999",
    "tcp://localhost:ssh",
    "",
    None,
    22,                      # not a string
])
def test_upstream_port_is_none_without_a_tcp_port(upstream):
    assert upstream_port(upstream) is None


# -- public address --------------------------------------------------------------------------------

def test_public_address_from_url_else_hostport():
    assert public_address({"url": "tcp://0.tcp.ngrok.io:12345"}) == ("0.tcp.ngrok.io", 12345)
    assert public_address({"hostport": "1.tcp.eu.ngrok.io:2000"}) == ("1.tcp.eu.ngrok.io", 2000)
    assert public_address({"url": "https://x.ngrok.app", "hostport": "x.ngrok.app:443"}) == ("x.ngrok.app", 443)
    assert public_address({"url": "tcp://no-port.example"}) is None
    assert public_address({}) is None


# -- the choice of the SSH endpoint ----------------------------------------------------------------

@pytest.mark.parametrize("upstream", ["tcp://localhost:22", "localhost:22", "22"])
def test_ssh_endpoint_takes_tcp_to_22_in_every_form(upstream):
    chosen = ssh_endpoint([https(), tcp(upstream)])
    assert chosen is not None
    assert chosen[1:] == ("0.tcp.ngrok.io", 12345)


def test_ssh_endpoint_never_takes_http_or_tcp_elsewhere():
    assert ssh_endpoint([https("http://localhost:22"), tcp("tcp://localhost:5432"), tcp("localhost:2222")]) is None


def test_ssh_endpoint_skips_endpoints_that_are_not_public():
    internal = tcp("tcp://localhost:22", bindings=["internal"])
    public = tcp("tcp://localhost:22", url="tcp://5.tcp.ngrok.io:5555")
    assert ssh_endpoint([internal]) is None
    assert ssh_endpoint([internal, public])[0] is public


def test_ssh_endpoint_takes_the_first_listed_the_newest():
    newer = tcp("tcp://localhost:22", url="tcp://1.tcp.ngrok.io:1111")
    older = tcp("tcp://localhost:22", url="tcp://2.tcp.ngrok.io:2222")
    assert ssh_endpoint([newer, older])[0] is newer


def test_ssh_endpoint_with_another_port():
    assert ssh_endpoint([tcp("tcp://localhost:22"), tcp("localhost:2222", url="tcp://9.tcp.ngrok.io:9")], 2222)[1:] == \
        ("9.tcp.ngrok.io", 9)


def test_ssh_endpoint_accepts_tcp_by_url_when_proto_is_absent():
    endpoint = tcp("22")
    del endpoint["proto"]
    assert ssh_endpoint([endpoint]) is not None


# -- joining on the session ------------------------------------------------------------------------

def test_endpoints_by_session_leaves_out_cloud_endpoints():
    cloud = {"id": "ep_cloud", "type": "cloud", "url": "https://c.ngrok.app"}
    broken = {"id": "ep_x", "tunnel_session": None}
    first, second, other = tcp("22"), https(), tcp("22", session="ts_b")
    assert endpoints_by_session([first, cloud, second, broken, other, "junk"]) == {
        "ts_a": [first, second], "ts_b": [other]}


def test_summary_keeps_the_documented_fields():
    endpoint = tcp("tcp://localhost:22", name="ssh")
    assert summary(endpoint) == {"id": endpoint["id"], "name": "ssh", "type": "agent", "proto": "tcp",
                                 "url": "tcp://0.tcp.ngrok.io:12345", "hostport": "0.tcp.ngrok.io:12345",
                                 "upstream_url": "tcp://localhost:22", "bindings": ["public"]}


# -- listing: one request per page of 100 ----------------------------------------------------------

def test_list_endpoints_follows_the_pages(rsps):
    pages = {
        None: ([{"id": "ep_3"}, {"id": "ep_2"}], API + "/endpoints?before_id=ep_2&limit=100"),
        "ep_2": ([{"id": "ep_1"}], None),
    }

    def answer(request):
        query = parse_qs(urlsplit(request.url).query)
        assert query["limit"] == ["100"]
        items, next_uri = pages[query.get("before_id", [None])[0]]
        return 200, {}, json.dumps({"endpoints": items, "uri": API + "/endpoints", "next_page_uri": next_uri})

    rsps.add_callback(responses.GET, API + "/endpoints", callback=answer)
    client = NgrokClient("key", api_url=API, retries=0)
    assert [e["id"] for e in list_endpoints(client)] == ["ep_3", "ep_2", "ep_1"]
    assert len(rsps.calls) == 2
