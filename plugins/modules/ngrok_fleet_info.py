#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ngrok_fleet_info
short_description: Find the ngrok agent of many hosts at once, by their agents' metadata
version_added: "1.0.0"
description:
  - Finds the connected tunnel session of each agent in O(agents) (typically one per host of the play, named by the
    host's name), by the agent's C(metadata), with one paged listing for all of them instead of one request per host.
  - Asks ngrok only for the agents it needs (C(obj.metadata in [...]), server-side), in as few requests as the
    number of agents allows (up to 100 agents a page).
  - Answers per name, so that each host of a play can use its own result and fail on its own. A name whose
    metadata is not usable, is shared with another name, or matches several connected agents is listed in
    RV(problems); a name whose agent is not connected is listed in RV(missing). The module itself fails only when
    the listing fails.
  - Run it once for the play (C(run_once)), on the controller. The role C(community.ngrok.restart_agents) uses it.
author:
  - community.ngrok developers (@ansible-collections)
extends_documentation_fragment:
  - community.ngrok.api
  - community.ngrok.attributes
  - community.ngrok.attributes.actiongroup_all
  - community.ngrok.attributes.info_module
options:
  agents:
    description:
      - The agents to find, each with a O(agents[].name) of its own and the O(agents[].metadata) its agent was
        started with.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The name the results are keyed by, for example the host's C(inventory_hostname).
        type: str
        required: true
      metadata:
        description:
          - The agent's metadata (C(agent.metadata) in its C(ngrok.yml), or C(--metadata)). A number is looked up as
            its text.
          - Unset, null or C(omit) means that the agent's metadata is O(agents[].name).
          - An empty string, a boolean, a list or a dict is not usable, and is reported in RV(problems) for that name.
        type: raw
  skip_missing:
    description:
      - V(false) reports a name whose agent is not connected in RV(problems), as something to fix.
      - V(true) reports it in RV(missing) instead, as a host to skip.
    type: bool
    default: false
notes:
  - Each page of up to 100 sessions is one API request. The agents are asked for in groups of at most 100 metadata
    values (fewer when they are long, so that the filter stays short enough for a URL), so finding N agents costs
    about N / 100 requests, and never one per agent.
  - The module changes nothing, and reads in check mode too.
seealso:
  - module: community.ngrok.ngrok_fleet_wait
  - module: community.ngrok.ngrok_tunnel_session_restart
  - module: community.ngrok.ngrok_tunnel_session_info
  - ref: ansible_collections.community.ngrok.docsite.guide_retries_and_faults
    description: What the modules retry, and how they wait out rate limiting.
"""

EXAMPLES = r"""
# Each host's agent was started with its inventory name as metadata, or with the host variable agent_metadata.
- name: Note this host's agent
  ansible.builtin.set_fact:
    fleet_agent:
      name: "{{ inventory_hostname }}"
      metadata: "{{ agent_metadata | default(omit) }}"

- name: Find the agents of all hosts of the play, in one listing
  community.ngrok.ngrok_fleet_info:
    agents: "{{ ansible_play_hosts | map('extract', hostvars, 'fleet_agent') }}"
  run_once: true
  delegate_to: localhost
  register: fleet

- name: Stop for a host whose agent cannot be found, or cannot be told apart from another
  ansible.builtin.fail:
    msg: "{{ fleet.problems[inventory_hostname] }}"
  when: inventory_hostname in fleet.problems

- name: Restart this host's agent (one request)
  community.ngrok.ngrok_tunnel_session_restart:
    id: "{{ fleet.tunnel_sessions[inventory_hostname].id }}"
  when: inventory_hostname in fleet.tunnel_sessions
  delegate_to: localhost
"""

RETURN = r"""
tunnel_sessions:
  description:
    - The connected session of each name whose agent was found, exactly one, by name. Each is a tunnel session as
      M(community.ngrok.ngrok_tunnel_session_info) returns it.
  returned: success
  type: dict
  sample:
    web-01:
      id: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
      metadata: web-01
      ip: 203.0.113.10
      credential: {"id": "cr_2hSHyTSIzoxrVOR0vRgfnBDNs4w"}
      started_at: "2025-09-04T10:11:27Z"
missing:
  description:
    - With O(skip_missing=true), the names whose agent is not connected (no session has its metadata), each with a
      message. Without it, they are in RV(problems).
  returned: success
  type: dict
  sample: {"web-02": "No connected agent has metadata 'web-02': the agent is not running or not connected, ..."}
problems:
  description:
    - The names that cannot be resolved to one agent, each with a message that says what to fix. Nothing should be
      sent for them.
    - A metadata that is not usable; several names with the same metadata (each would act on the same agent);
      several connected agents with the name's metadata (their IDs are listed); no connected agent with it, unless
      O(skip_missing=true).
  returned: success
  type: dict
  sample: {"web-03": "2 connected agents have metadata 'web-03' (ts_..., ts_...): give each agent its own metadata."}
listed_at:
  description:
    - The time of the listing by ngrok's clock (its C(Date) header), RFC 3339 in UTC; null when ngrok sent none.
    - Any session that starts after a restart sent later is newer than this, which is what
      O(community.ngrok.ngrok_fleet_wait#module:since) needs.
  returned: success
  type: str
  sample: "2025-10-31T09:23:45Z"
filters:
  description: The CEL filters sent, one listing each.
  returned: success
  type: list
  elements: str
  sample: ['obj.metadata in ["web-01", "web-02", "web-03"]']
api_error:
  description: What ngrok (or the network) answered, when the listing failed.
  returned: failure
  type: dict
  contains:
    status_code:
      description: HTTP status of the answer; null when no answer arrived.
      type: int
      sample: 401
    error_code:
      description: ngrok's error code; null when the answer had none.
      type: str
      sample: ERR_NGROK_202
    msg:
      description: ngrok's message, or what went wrong on the network.
      type: str
      sample: The API key is not valid
    operation_id:
      description: ngrok's operation ID of the failed request, for ngrok support.
      type: str
      sample: op_32ELGiMyruN4J6Yn0fduKjIT6ug
    outcome:
      description: Always V(failed) for this read-only module.
      type: str
      sample: failed
    attempts:
      description: How many attempts were made (retries included), counting those whose connection could not be opened.
      type: int
      sample: 1
"""

from ansible_collections.community.ngrok.plugins.module_utils._fleet import FleetLookup
from ansible_collections.community.ngrok.plugins.module_utils._module import NgrokModule


def main():
    module = NgrokModule(
        argument_spec=dict(
            agents=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                metadata=dict(type="raw"),
            )),
            skip_missing=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    FleetLookup(module).run()


if __name__ == "__main__":
    main()
