# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Assertions of the inventory_ngrok target on ``ansible-inventory --list`` output and on the emulator.

    python check.py CHECK ARG...

Each check prints what it verified, or exits 1 saying what differs.
"""

from __future__ import annotations

import json
import sys
import urllib.request


def fail(message: str) -> None:
    sys.stderr.write("FAIL: %s\n" % message)
    sys.exit(1)


def expect(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def unsafe_text(value):
    """The text of a value that ansible-inventory --list printed as unsafe ({"__ansible_unsafe": ...}); None if
    it was printed as a plain value (not marked unsafe)."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:
        return value["__ansible_unsafe"]
    return None


def members(listing: dict, group: str) -> set:
    return set(listing.get(group, {}).get("hosts", []))


def emulator(url: str, method: str, path: str) -> dict:
    request = urllib.request.Request(url + path, method=method, data=b"" if method != "GET" else None)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read().decode("utf-8"))


def check_full(path: str, ssh_port: str, expected_hosts: str) -> None:
    """The listing of all.ngrok.yml: every agent, names, variables, groups, SSH endpoint choice."""
    listing = load(path)
    hostvars = listing["_meta"]["hostvars"]
    expect(len(hostvars) == int(expected_hosts), "%d hosts, expected %s" % (len(hostvars), expected_hosts))
    expect(members(listing, "ngrok") == set(hostvars), "not every host is in the group ngrok")
    for index in (1, 100, 224):
        expect("host-%03d" % index in hostvars, "host-%03d is missing" % index)
    # the seeded agents of --agents: a TCP endpoint to tcp://localhost:22 (a random address) and an HTTPS one
    seeded = hostvars["host-001"]
    host = unsafe_text(seeded.get("ansible_host"))
    expect(host is not None and host.endswith(".tcp.ngrok.io"), "host-001: ansible_host %r" % seeded.get("ansible_host"))
    expect(isinstance(seeded.get("ansible_port"), int), "host-001: ansible_port %r" % seeded.get("ansible_port"))
    protos = sorted(unsafe_text(e["proto"]) for e in seeded["ngrok_endpoints"])
    expect(protos == ["https", "tcp"], "host-001: endpoints %r" % protos)
    for name in ("ngrok_id", "ngrok_metadata", "ngrok_region", "ngrok_os", "ngrok_agent_version", "ngrok_ip",
                 "ngrok_started_at", "ngrok_credential_id"):
        expect(unsafe_text(seeded.get(name)) is not None, "host-001: %s is %r, not an unsafe value" % (name, seeded.get(name)))
    # the SSH box: only the TCP endpoint to port 22 is taken (not TCP to 5432, not HTTPS to port 22)
    box = hostvars["ssh-box"]
    expect(unsafe_text(box.get("ansible_host")) == "127.0.0.1" and box.get("ansible_port") == int(ssh_port),
           "ssh-box: ansible_host %r, ansible_port %r, expected 127.0.0.1 and %s"
           % (box.get("ansible_host"), box.get("ansible_port"), ssh_port))
    expect(len(box["ngrok_endpoints"]) == 3, "ssh-box has %d endpoints, expected 3" % len(box["ngrok_endpoints"]))
    # JSON metadata named by its "host" key; the upstream forms "22" and "localhost:22"
    expect("kiosk-7" in hostvars, "the agent with JSON metadata is not named kiosk-7 (hostname_metadata_key)")
    expect(hostvars["kiosk-7"].get("ansible_port") == 20022, "kiosk-7 (upstream '22'): %r" % hostvars["kiosk-7"].get("ansible_port"))
    expect(members(listing, "site_lyon") == {"kiosk-7"}, "keyed_groups: site_lyon is %r" % members(listing, "site_lyon"))
    # duplicates: both kept, distinguishable, neither under the shared name
    duplicates = sorted(name for name in hostvars if name.startswith("dup-box"))
    expect(len(duplicates) == 2 and "dup-box" not in duplicates and all(d.startswith("dup-box_ts_") for d in duplicates),
           "duplicates: %r" % duplicates)
    for name in duplicates:
        expect(hostvars[name].get("ansible_port") == 20023, "%s (upstream 'localhost:22'): %r"
               % (name, hostvars[name].get("ansible_port")))
    # an endpoint that is not public is never used
    internal = hostvars["internal-box"]
    expect("ansible_host" not in internal, "internal-box (an internal binding) got ansible_host %r" % internal.get("ansible_host"))
    # the agent whose metadata is a template: named by its session ID, the metadata kept as unsafe text
    suspicious = [name for name, hv in hostvars.items() if (unsafe_text(hv.get("ngrok_metadata")) or "").startswith("{{")]
    expect(len(suspicious) == 1 and suspicious[0].startswith("ts_"), "the template-metadata agent is named %r" % suspicious)
    # constructed: groups, keyed_groups, compose
    expect(len(members(listing, "os_linux")) == len(hostvars) - 1 and members(listing, "os_windows") == {"kiosk-7"},
           "keyed_groups on ngrok_os")
    reachable = members(listing, "ssh_reachable")
    expect("internal-box" not in reachable and "ssh-box" in reachable and "host-050" in reachable,
           "groups: ssh_reachable")
    prefix = hostvars["ssh-box"].get("ngrok_session_prefix")
    expect(prefix == "ts_" or unsafe_text(prefix) == "ts_", "compose: ngrok_session_prefix %r"
           % hostvars["ssh-box"].get("ngrok_session_prefix"))
    print("listing: %d hosts, ansible_host/ansible_port from the TCP endpoint to port 22 only, names, duplicates, "
          "groups and unsafe values as expected" % len(hostvars))


def check_filtered(path: str) -> None:
    hostvars = load(path)["_meta"]["hostvars"]
    expect(sorted(hostvars) == ["host-001", "host-002"], "filter: hosts %r" % sorted(hostvars))
    print("filter: hosts %s" % ", ".join(sorted(hostvars)))


def check_requests(url: str, sessions_pages: str, endpoints_pages: str) -> None:
    """The API requests since the last clear: the pages of both lists, nothing per host."""
    paths = [entry["path"] for entry in emulator(url, "GET", "/_emulator/requests")["requests"]]
    sessions = paths.count("/tunnel_sessions")
    endpoints = paths.count("/endpoints")
    expect(len(paths) == sessions + endpoints, "requests other than the two lists: %r" % sorted(set(paths)))
    expect(sessions == int(sessions_pages) and endpoints == int(endpoints_pages),
           "%d requests for tunnel sessions and %d for endpoints, expected %s and %s"
           % (sessions, endpoints, sessions_pages, endpoints_pages))
    emulator(url, "DELETE", "/_emulator/requests")
    print("requests: %d pages of tunnel sessions, %d pages of endpoints, %d in all" % (sessions, endpoints, len(paths)))


def check_no_requests(url: str) -> None:
    paths = [entry["path"] for entry in emulator(url, "GET", "/_emulator/requests")["requests"]]
    expect(not paths, "the cached listing sent %d requests: %r" % (len(paths), paths))
    print("cache: no request")


def check_same_hosts(first: str, second: str) -> None:
    one = load(first)["_meta"]["hostvars"]
    two = load(second)["_meta"]["hostvars"]
    expect(one == two, "the cached listing differs from the listing it was made from")
    print("cache: the same %d hosts" % len(two))


def clear(url: str) -> None:
    """Forget the requests logged so far."""
    emulator(url, "DELETE", "/_emulator/requests")


CHECKS = {"clear": clear, "full": check_full, "filtered": check_filtered, "requests": check_requests, "no-requests": check_no_requests,
          "same-hosts": check_same_hosts}

if __name__ == "__main__":
    CHECKS[sys.argv[1]](*sys.argv[2:])
