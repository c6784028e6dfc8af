# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: ngrok
short_description: The connected ngrok agents as an inventory, reached over SSH through their ngrok TCP endpoint
version_added: "1.0.0"
description:
  - Lists the connected ngrok agents (tunnel sessions) and their endpoints from the ngrok API, and makes each agent
    a host in the group C(ngrok).
  - A host is named by the agent's metadata when it looks like a host name, else by its tunnel session ID; see
    O(hostname_metadata_key) for JSON metadata. Two agents with the same name are both kept, each named
    C(<name>_<session ID>), with a warning.
  - When the agent has a public TCP endpoint that forwards to the local port O(ssh_port), C(ansible_host) and
    C(ansible_port) are that endpoint's public address, so that Ansible reaches the device over SSH through ngrok,
    behind NAT too.
  - Host variables are prefixed C(ngrok_). Every value that comes from the API or from the device is marked unsafe,
    so that a template in an agent's metadata is never run.
  - The configuration file name must end with C(ngrok.yml) or C(ngrok.yaml).
  - Each run costs one request per 100 agents and one per 100 endpoints, and none when the cache is used; requests
    share the pacing of the modules (O(rate_limit)).
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
  - community.ngrok.api.plugin
options:
  plugin:
    description:
      - The name of this plugin. It must be V(community.ngrok.ngrok) for the file to be read by it.
    type: str
    required: true
    choices: [community.ngrok.ngrok]
  filter:
    description:
      - A CEL expression on tunnel sessions, sent to the ngrok API, which only returns the agents that match. The
        fields are C(id), C(metadata), C(agent_version), C(ip), C(os), C(region), C(started_at) and
        C(credential.id), for example V(obj.os == "linux" && obj.region == "eu").
      - An expression that ngrok rejects is an error (HTTP 400, C(ERR_NGROK_250)).
    type: str
  hostname_metadata_key:
    description:
      - 'Name hosts by this key of the agent''s metadata when the metadata is a JSON object, for example V(host)
        for the metadata C({"host": "kiosk-7", "site": "lyon"}).'
      - An agent whose metadata is not a JSON object is named by its metadata as it is; an agent without a usable
        name is named by its tunnel session ID.
      - A name is usable when it looks like a host name, up to 255 letters, digits, C(.), C(-), C(_) and C(@)
        starting with a letter or a digit; anything else (spaces, braces, a template) falls back to the session ID.
    type: str
  ssh_port:
    description:
      - The local port, on the device, that the TCP endpoint used for SSH forwards to (its upstream, written
        C(tcp://localhost:22), C(localhost:22) or C(22) by the API).
      - The newest public TCP endpoint of the agent with that upstream port gives C(ansible_host) and
        C(ansible_port). An HTTP endpoint, or a TCP endpoint to another port, is never used.
      - V(0) turns this off; C(ansible_host) and C(ansible_port) are then left unset.
    type: int
    default: 22
notes:
  - Hosts are in the group C(ngrok); more groups come from O(groups) and O(keyed_groups).
  - "Host variables: C(ngrok_id) (the tunnel session ID, new at every agent restart), C(ngrok_metadata),
    C(ngrok_metadata_json) (when the metadata is a JSON object), C(ngrok_region), C(ngrok_os), C(ngrok_agent_version),
    C(ngrok_ip), C(ngrok_started_at), C(ngrok_credential_id), C(ngrok_transport), C(ngrok_endpoints) (the agent's
    endpoints from C(GET /endpoints): C(id), C(name), C(type), C(proto), C(url), C(hostport), C(upstream_url),
    C(bindings)) and C(ngrok_ssh_url) (the endpoint used for SSH, when there is one)."
  - An unreserved TCP address changes at every agent restart; the inventory follows it on each run (or when the cache
    expires).
  - The inventory cache holds the API's answers, never the API key.
seealso:
  - module: community.ngrok.ngrok_tunnel_session_info
  - ref: ansible_collections.community.ngrok.docsite.guide_inventory
    description: How to use the inventory, in AWX too.
"""

EXAMPLES = r"""
# demo.ngrok.yml, the smallest configuration: every connected agent; SSH through its TCP endpoint to port 22.
# The API key comes from the NGROK_API_KEY environment variable. The file holds one line:
#
#   plugin: community.ngrok.ngrok

# kiosks.ngrok.yml: only Linux agents in Europe, named by the "host" key of their JSON metadata,
# grouped by OS and by the "site" key of their metadata, with a cache of 10 minutes.
plugin: community.ngrok.ngrok
api_key: "{{ lookup('ansible.builtin.unvault', 'ngrok_api_key.vault') | trim }}"
filter: obj.os == "linux" && obj.region == "eu"
hostname_metadata_key: host
keyed_groups:
  - key: ngrok_os
    prefix: os
  - key: ngrok_metadata_json.site | default('none')
    prefix: site
compose:
  ansible_user: "'pi'"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-ngrok-inventory
cache_timeout: 600
"""

import json
import re

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.community.ngrok.plugins.module_utils._client import (
    HAS_REQUESTS,
    NgrokError,
    scrub,
)
from ansible_collections.community.ngrok.plugins.module_utils._endpoints import (
    endpoints_by_session,
    list_endpoints,
    ssh_endpoint,
    summary,
)
from ansible_collections.community.ngrok.plugins.module_utils._module import check_connection, new_client
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import list_sessions

#: Every host is in this group.
GROUP = "ngrok"
#: Host variables' prefix.
PREFIX = "ngrok_"
#: Names taken from metadata look like host names: nothing that a pattern, a template or a shell would read.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,254}")
#: The connection options, checked by the same code as the modules'.
CONNECTION_OPTIONS = ("api_key", "api_url", "validate_certs", "ca_path", "timeout", "retries", "rate_limit_timeout",
                      "rate_limit", "rate_limit_window")
#: Session fields copied to host variables (ngrok_<field>).
SESSION_FIELDS = ("id", "region", "os", "agent_version", "ip", "started_at", "transport")


def plain_name(value) -> str | None:
    """``value`` when it is usable as a host name (see NAME_RE), else None."""
    if isinstance(value, str) and NAME_RE.fullmatch(value):
        return value
    return None


def metadata_json(metadata) -> dict | None:
    """The metadata parsed, when it is a JSON object; else None."""
    if not isinstance(metadata, str) or not metadata.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(metadata)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def host_name(session: dict, metadata_key: str | None = None) -> str:
    """The name of an agent's host: the value at ``metadata_key`` of JSON metadata, else the metadata, when
    usable as a host name; else the tunnel session ID."""
    metadata = session.get("metadata")
    if metadata_key:
        parsed = metadata_json(metadata)
        if parsed is not None:
            name = plain_name(parsed.get(metadata_key))
            return name if name is not None else session["id"]
    name = plain_name(metadata)
    return name if name is not None else session["id"]


def host_names(sessions: list, metadata_key: str | None = None) -> tuple[list[str], dict[str, list[str]]]:
    """The host name of each session, in order, and the names shared by several agents.

    Agents that share a name are all named ``<name>_<session ID>``: both are kept, neither hides the other,
    and none of them answers to the shared name (which would reach one device at random).
    """
    wanted = [host_name(session, metadata_key) for session in sessions]
    counts: dict[str, int] = {}
    for name in wanted:
        counts[name] = counts.get(name, 0) + 1
    shared: dict[str, list[str]] = {}
    names = []
    for session, name in zip(sessions, wanted):
        if counts[name] > 1:
            unique = "%s_%s" % (name, session["id"])
            shared.setdefault(name, []).append(unique)
            name = unique
        names.append(name)
    return names, shared


def host_vars(session: dict, endpoints: list, ssh_port: int) -> dict:
    """The variables of an agent's host (not yet marked unsafe): ngrok_*, and ansible_host/ansible_port when
    an endpoint forwards to ``ssh_port``."""
    variables = {PREFIX + field: session.get(field) for field in SESSION_FIELDS}
    variables[PREFIX + "metadata"] = session.get("metadata", "")
    parsed = metadata_json(session.get("metadata"))
    if parsed is not None:
        variables[PREFIX + "metadata_json"] = parsed
    credential = session.get("credential")
    variables[PREFIX + "credential_id"] = credential.get("id") if isinstance(credential, dict) else None
    variables[PREFIX + "endpoints"] = [summary(endpoint) for endpoint in endpoints]
    if ssh_port:
        chosen = ssh_endpoint(endpoints, ssh_port)
        if chosen is not None:
            endpoint, host, port = chosen
            variables[PREFIX + "ssh_url"] = endpoint.get("url")
            variables["ansible_host"] = host
            variables["ansible_port"] = port
    return variables


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):  # pylint: disable=too-many-ancestors
    """The connected ngrok agents as hosts (see DOCUMENTATION)."""

    NAME = "community.ngrok.ngrok"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("ngrok.yml", "ngrok.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path)
        self._read_config_data(path)
        params = self._connection_params()
        ssh_port = self._ssh_port()
        metadata_key = self.get_option("hostname_metadata_key")
        if metadata_key is not None and (not isinstance(metadata_key, str) or not metadata_key):
            raise AnsibleParserError("hostname_metadata_key must be a non-empty key of the agents' JSON metadata")
        cel_filter = self.get_option("filter")

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        listing = None
        if use_cache:
            try:
                listing = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if listing is None:
            listing = self._fetch(params, cel_filter)
        if update_cache:
            self._cache[cache_key] = listing
        self._populate(listing, metadata_key, ssh_port)

    def _connection_params(self) -> dict:
        """The connection options, the API key templated (it may come from a vault or a lookup), checked
        as the modules check them, before any request."""
        params = {name: self.get_option(name) for name in CONNECTION_OPTIONS}
        api_key = params["api_key"]
        if isinstance(api_key, str) and self.templar.is_template(api_key):
            try:
                api_key = self.templar.template(api_key)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # The template's error may quote what it produced: never shown.
                raise AnsibleParserError("api_key is a template that failed (%s): the message is not shown, as it "
                                         "may hold the key" % type(exc).__name__) from None
        params["api_key"] = None if api_key is None else str(api_key)
        if not HAS_REQUESTS:
            raise AnsibleError("The community.ngrok.ngrok inventory plugin needs the Python library requests "
                               "on the controller: pip install requests")
        try:
            check_connection(params)
        except ValueError as exc:
            raise AnsibleParserError(str(exc)) from None
        return params

    def _ssh_port(self) -> int:
        port = self.get_option("ssh_port")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise AnsibleParserError("ssh_port must be a port between 1 and 65535, or 0 to leave ansible_host and "
                                     "ansible_port unset; got %r" % (port,))
        return port

    def _fetch(self, params: dict, cel_filter: str | None) -> dict:
        """The tunnel sessions and the endpoints, as the API gives them: one request per page of 100."""
        client = new_client(params, warn=self.display.warning)
        what = "tunnel sessions"
        try:
            sessions = list_sessions(client, cel_filter or None)
            what = "endpoints"
            endpoints = list_endpoints(client)
        except NgrokError as exc:
            raise AnsibleError("community.ngrok.ngrok could not list the %s: %s%s"
                               % (what, scrub(exc.message, params["api_key"]), _hint(exc))) from None
        return {"tunnel_sessions": sessions, "endpoints": endpoints}

    def _populate(self, listing: dict, metadata_key: str | None, ssh_port: int) -> None:
        sessions = [session for session in listing.get("tunnel_sessions") or []
                    if isinstance(session, dict) and isinstance(session.get("id"), str) and session["id"]]
        by_session = endpoints_by_session(listing.get("endpoints") or [])
        names, shared = host_names(sessions, metadata_key)
        for name, hosts in sorted(shared.items()):
            self.display.warning("community.ngrok.ngrok: %d agents are named %r; they are all kept, as %s"
                                 % (len(hosts), name, ", ".join(hosts)))
        strict = self.get_option("strict")
        self.inventory.add_group(GROUP)
        for session, name in zip(sessions, names):
            variables = {key: wrap_var(value)
                         for key, value in host_vars(session, by_session.get(session["id"], []), ssh_port).items()}
            self.inventory.add_host(name, group=GROUP)
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            self._set_composite_vars(self.get_option("compose"), variables, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), variables, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), variables, name, strict=strict)


def _hint(exc: NgrokError) -> str:
    """What to check, for the failures an inventory source meets most."""
    if exc.status_code == 401:
        return " (check api_key or NGROK_API_KEY: an API key, not an agent authtoken)"
    if exc.error_code == "ERR_NGROK_250":
        return " (check the filter option: a CEL expression over the tunnel sessions' fields)"
    if exc.status_code is None:
        return " (check api_url or NGROK_API_URL, and the network)"
    return ""
