# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader
from ansible.template import Templar
from ansible.utils.display import Display

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core before 2.19 templates every string it is given

    def trust_as_template(value):
        return value


from ansible_collections.community.ngrok.plugins.inventory.ngrok import host_name, host_names, host_vars
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import API_KEY

API = "http://127.0.0.1:4040"
SSH = {"proto": "tcp", "upstream_url": "tcp://localhost:22", "url": "tcp://0.tcp.ngrok.io:12345",
       "hostport": "0.tcp.ngrok.io:12345", "bindings": ["public"], "type": "agent"}
POSTGRES = {"proto": "tcp", "upstream_url": "localhost:5432", "url": "tcp://1.tcp.ngrok.io:5432",
            "hostport": "1.tcp.ngrok.io:5432", "bindings": ["public"], "type": "agent"}
WEB = {"proto": "https", "upstream_url": "http://localhost:22", "url": "https://abc.ngrok.app",
       "hostport": "abc.ngrok.app:443", "bindings": ["public"], "type": "agent"}


def session(number, metadata=None, **extra):
    data = {"id": "ts_%027d" % number, "agent_version": "3.20.0", "ip": "10.0.0.%d" % (number % 250),
            "os": "linux", "region": "eu", "started_at": "2026-01-01T00:00:00Z", "transport": "ngrok/2",
            "credential": {"id": "cr_%027d" % number, "uri": ""}, "uri": ""}
    if metadata is not None:
        data["metadata"] = metadata
    data.update(extra)
    return data


def endpoint(number, owner, template):
    data = dict(template, id="ep_%027d" % number)
    if owner is not None:
        data["tunnel_session"] = {"id": owner["id"], "uri": ""}
    return data


def serve(rsps, sessions, endpoints, page=100):
    """Answer the two lists, newest first, ``page`` items a page, as ngrok does."""
    def lister(key, items):
        def answer(request):
            query = parse_qs(urlsplit(request.url).query)
            assert query["limit"] == ["100"]
            before = query.get("before_id", [None])[0]
            start = 0 if before is None else [item["id"] for item in items].index(before) + 1
            chunk = items[start:start + page]
            more = start + page < len(items)
            next_uri = "%s/%s?before_id=%s&limit=100" % (API, key, chunk[-1]["id"]) if more else None
            return 200, {}, json.dumps({key: chunk, "uri": API + "/" + key, "next_page_uri": next_uri})
        return answer

    rsps.add_callback(responses.GET, API + "/tunnel_sessions", callback=lister("tunnel_sessions", sessions))
    rsps.add_callback(responses.GET, API + "/endpoints", callback=lister("endpoints", endpoints))


def load(tmp_path, config, name="test.ngrok.yml"):
    """Run the plugin on a config file as ansible-inventory does; return the inventory."""
    path = tmp_path / name
    base = {"plugin": "community.ngrok.ngrok", "api_url": API, "api_key": API_KEY}
    base.update(config)
    path.write_text(json.dumps({k: v for k, v in base.items() if v is not None}))
    plugin = inventory_loader.get("community.ngrok.ngrok")
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=True)
    if config.get("cache"):
        plugin.update_cache_if_changed()  # as ansible's InventoryManager does after parse
    return inventory


def hostvars(inventory, name):
    return inventory.get_host(name).get_vars()


# -- naming ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("metadata, key, expected", [
    ("kiosk-7", None, "kiosk-7"),
    ("web01.example.com", None, "web01.example.com"),
    ("", None, "ts_%027d" % 1),
    (None, None, "ts_%027d" % 1),
    ("two words", None, "ts_%027d" % 1),
    ("{{ lookup('pipe', 'id') }}", None, "ts_%027d" % 1),
    ('{"host": "kiosk-7", "site": "lyon"}', None, "ts_%027d" % 1),
    ('{"host": "kiosk-7", "site": "lyon"}', "host", "kiosk-7"),
    ('{"host": "kiosk 7"}', "host", "ts_%027d" % 1),
    ('{"host": 7}', "host", "ts_%027d" % 1),
    ('{"name": "kiosk-7"}', "host", "ts_%027d" % 1),
    ("kiosk-7", "host", "kiosk-7"),  # plain metadata still names the host
    ("x" * 256, None, "ts_%027d" % 1),
    ("-leading-dash", None, "ts_%027d" % 1),
])
def test_host_name(metadata, key, expected):
    assert host_name(session(1, metadata), key) == expected


def test_duplicates_are_all_kept_and_distinguishable():
    sessions = [session(1, "kiosk"), session(2, "other"), session(3, "kiosk")]
    names, shared = host_names(sessions)
    assert names == ["kiosk_ts_%027d" % 1, "other", "kiosk_ts_%027d" % 3]
    assert shared == {"kiosk": names[::2]}


# -- variables and the endpoint choice -------------------------------------------------------------

def test_host_vars_take_ssh_from_the_tcp_endpoint_to_22_only():
    owner = session(1, "box")
    endpoints = [endpoint(3, owner, WEB), endpoint(2, owner, POSTGRES), endpoint(1, owner, SSH)]
    variables = host_vars(owner, endpoints, 22)
    assert (variables["ansible_host"], variables["ansible_port"]) == ("0.tcp.ngrok.io", 12345)
    assert variables["ngrok_ssh_url"] == "tcp://0.tcp.ngrok.io:12345"
    assert [e["proto"] for e in variables["ngrok_endpoints"]] == ["https", "tcp", "tcp"]
    assert set(variables["ngrok_endpoints"][0]) == {
        "id", "type", "proto", "url", "hostport", "upstream_url", "bindings"}
    assert variables["ngrok_credential_id"] == "cr_%027d" % 1
    assert variables["ngrok_metadata"] == "box"


def test_host_vars_without_an_ssh_endpoint_or_with_ssh_off():
    owner = session(1, "box")
    assert "ansible_host" not in host_vars(owner, [endpoint(1, owner, WEB), endpoint(2, owner, POSTGRES)], 22)
    assert "ansible_host" not in host_vars(owner, [endpoint(1, owner, SSH)], 0)
    assert host_vars(owner, [endpoint(2, owner, POSTGRES)], 5432)["ansible_port"] == 5432


# -- parse: paging, groups, unsafe -----------------------------------------------------------------

def test_parse_lists_every_page_and_nothing_per_host(rsps, tmp_path):
    sessions = [session(n, "host-%03d" % n) for n in range(230, 0, -1)]
    endpoints = [endpoint(n, sessions[230 - n], SSH) for n in range(230, 0, -1)]
    endpoints.insert(5, endpoint(999, None, {"type": "cloud", "proto": "https", "url": "https://c.ngrok.app"}))
    serve(rsps, sessions, endpoints)
    inventory = load(tmp_path, {"keyed_groups": [{"key": "ngrok_region", "prefix": "region"}]})
    assert len(inventory.hosts) == 230
    assert len(inventory.groups["ngrok"].hosts) == 230
    assert len(inventory.groups["region_eu"].hosts) == 230
    paths = [urlsplit(call.request.url).path for call in rsps.calls]
    assert paths == ["/tunnel_sessions"] * 3 + ["/endpoints"] * 3
    assert hostvars(inventory, "host-017")["ansible_port"] == 12345


def test_values_from_the_api_are_unsafe_and_never_templated(rsps, tmp_path):
    marker = tmp_path / "pwned"
    template = "{{ lookup('pipe', 'touch %s') }}" % marker
    owner = session(1, json.dumps({"host": "box", "site": template}), os=template)
    serve(rsps, [owner], [endpoint(1, owner, dict(SSH, name=template))])
    inventory = load(tmp_path, {"hostname_metadata_key": "host", "compose": {"copied": "ngrok_os"}})
    variables = hostvars(inventory, "box")
    templar = Templar(loader=DataLoader(), variables=variables)
    for expression in ("{{ ngrok_os }}", "{{ ngrok_metadata_json.site }}", "{{ ngrok_endpoints[0].name }}",
                       "{{ copied }}", "{{ ngrok_metadata }}"):
        assert "lookup('pipe'" in str(templar.template(trust_as_template(expression)))
    assert not marker.exists()


def test_duplicates_are_warned(rsps, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(Display, "warning", lambda self, msg, *args, **kwargs: warnings.append(msg))
    first, second = session(2, "kiosk"), session(1, "kiosk")
    serve(rsps, [first, second], [])
    inventory = load(tmp_path, {})
    assert sorted(inventory.hosts) == ["kiosk_" + second["id"], "kiosk_" + first["id"]]
    assert any("2 agents are named 'kiosk'" in text for text in warnings)


def test_filter_is_sent_to_the_api(rsps, tmp_path):
    serve(rsps, [session(1, "a")], [])
    load(tmp_path, {"filter": 'obj.os == "linux"'})
    query = parse_qs(urlsplit(rsps.calls[0].request.url).query)
    assert query["filter"] == ['obj.os == "linux"']


# -- the cache -------------------------------------------------------------------------------------

def test_a_cached_listing_sends_no_request_and_holds_no_key(rsps, tmp_path):
    serve(rsps, [session(1, "a")], [endpoint(1, session(1), SSH)])
    cache_dir = tmp_path / "cache"
    config = {"cache": True, "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(cache_dir)}
    first = load(tmp_path, config)
    sent = len(rsps.calls)
    assert sent == 2
    second = load(tmp_path, config)
    assert len(rsps.calls) == sent
    assert hostvars(second, "a")["ansible_port"] == hostvars(first, "a")["ansible_port"] == 12345
    files = list(cache_dir.iterdir())
    assert files and all(API_KEY not in path.read_text() for path in files)


# -- errors ----------------------------------------------------------------------------------------

def test_a_wrong_key_is_a_clear_error_without_the_key(rsps, tmp_path):
    rsps.add(responses.GET, API + "/tunnel_sessions", status=401, json={
        "error_code": "ERR_NGROK_203", "status_code": 401, "msg": "The API key %s does not exist." % API_KEY,
        "details": {"operation_id": "op_x"}})
    with pytest.raises(AnsibleError) as caught:
        load(tmp_path, {})
    message = str(caught.value)
    assert "HTTP 401 ERR_NGROK_203" in message and "operation ID op_x" in message
    assert API_KEY not in message


def test_a_bad_filter_names_the_option(rsps, tmp_path):
    rsps.add(responses.GET, API + "/tunnel_sessions", status=400, json={
        "error_code": "ERR_NGROK_250", "status_code": 400, "msg": "Invalid CEL query", "details": {}})
    with pytest.raises(AnsibleError, match="HTTP 400 ERR_NGROK_250.*check the filter option"):
        load(tmp_path, {"filter": "obj.nope"})


def test_an_unreachable_api_is_a_clear_error(rsps, tmp_path):
    rsps.add(responses.GET, API + "/tunnel_sessions", body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(AnsibleError, match="could not list the tunnel sessions"):
        load(tmp_path, {"retries": 0})


@pytest.mark.parametrize("config, message", [
    ({"api_key": None}, "No ngrok API key"),
    ({"api_key": "two words"}, "api_key contains spaces"),
    ({"api_url": "http://example.com"}, "clear text"),
    ({"timeout": 0}, "timeout must be between"),
    ({"ssh_port": 70000}, "ssh_port must be a port"),
    ({"ssh_port": -1}, "ssh_port must be a port"),
    ({"hostname_metadata_key": ""}, "hostname_metadata_key must be"),
    ({"rate_limit": -1}, "rate_limit must be between"),
])
def test_bad_options_fail_before_any_request(rsps, tmp_path, config, message):
    with pytest.raises(AnsibleParserError, match=message):
        load(tmp_path, config)
    assert not rsps.calls


def test_api_key_from_the_environment_and_as_a_template(rsps, tmp_path, monkeypatch):
    serve(rsps, [session(1, "a")], [])
    monkeypatch.setenv("NGROK_API_KEY", API_KEY)
    load(tmp_path, {"api_key": None})
    monkeypatch.delenv("NGROK_API_KEY")
    monkeypatch.setenv("NGROK_TEST_KEY_SOURCE", API_KEY)
    load(tmp_path, {"api_key": "{{ lookup('ansible.builtin.env', 'NGROK_TEST_KEY_SOURCE') }}"})
    assert [call.request.headers["Authorization"] for call in rsps.calls] == ["Bearer %s" % API_KEY] * 4


def test_verify_file_wants_the_ngrok_suffix(tmp_path):
    plugin = inventory_loader.get("community.ngrok.ngrok")
    for name, wanted in (("demo.ngrok.yml", True), ("ngrok.yaml", True), ("demo.yml", False), ("ngrok.json", False)):
        path = tmp_path / name
        path.write_text("plugin: community.ngrok.ngrok\n")
        assert plugin.verify_file(str(path)) is wanted
