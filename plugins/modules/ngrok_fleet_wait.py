#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ngrok_fleet_wait
short_description: Wait until many restarted ngrok agents have reconnected, every poll serving all of them
version_added: "1.0.0"
description:
  - Follows the agents of the tunnel sessions in O(tunnel_sessions), restarted beforehand (for example by
    M(community.ngrok.ngrok_tunnel_session_restart) on each host, without its own C(wait)), until each has
    reconnected with a new session, or until O(timeout).
  - Each poll is one listing for all the agents not back yet (up to 100 agents a page), of the sessions with their
    metadata that started since O(since); not a request per agent.
  - An agent is known by its credential, its IP address and its metadata, as with the C(wait) of
    M(community.ngrok.ngrok_tunnel_session_restart). An agent that comes back from another IP address (a new DHCP
    lease, another NAT) is reported as not reconnected.
  - Answers per name, so that each host of a play can use its own new session and fail on its own (see
    O(fail_on_timeout)).
author:
  - community.ngrok developers (@ansible-collections)
extends_documentation_fragment:
  - community.ngrok.api
  - community.ngrok.attributes
  - community.ngrok.attributes.actiongroup_all
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing was restarted, so nothing is waited for and no request is sent.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
options:
  tunnel_sessions:
    description:
      - The restarted sessions, by name (for example by host name), each a tunnel session as
        M(community.ngrok.ngrok_fleet_info) or M(community.ngrok.ngrok_tunnel_session_info) returns it, with its
        C(id), C(credential), C(ip) and C(metadata).
    type: dict
    required: true
  names:
    description:
      - Wait only for these names of O(tunnel_sessions), for example C(ansible_play_hosts), the hosts still in the
        play (a host whose restart failed is not). Names not in O(tunnel_sessions) are ignored.
      - Unset means every name of O(tunnel_sessions).
    type: list
    elements: str
  since:
    description:
      - Only sessions that started at or after this time (RFC 3339, by ngrok's clock) are looked at. A time before
        the first restart, such as RV(community.ngrok.ngrok_fleet_info#module:listed_at) of the listing the
        sessions came from.
      - Unset means every session of the agents' metadata, which costs more requests while they are many.
    type: str
  timeout:
    description: How long to wait for all the agents, in seconds, between V(1) and V(3600).
    type: int
    default: 120
  interval:
    description: Seconds between polls, between V(1) and V(300). The first poll comes one second after the start.
    type: int
    default: 5
  fail_on_timeout:
    description:
      - Fail when any agent has not reconnected by O(timeout).
      - V(false) returns them in RV(not_reconnected) instead, so that each host can fail on its own.
    type: bool
    default: true
notes:
  - A poll is one request per page per group of up to 100 metadata values, for the agents not back yet; the
    wait ends as soon as all are back.
seealso:
  - module: community.ngrok.ngrok_fleet_info
  - module: community.ngrok.ngrok_tunnel_session_restart
"""

EXAMPLES = r"""
# After ngrok_fleet_info (registered as fleet) and a restart per host without wait:
- name: Wait until the restarted agents are back
  community.ngrok.ngrok_fleet_wait:
    tunnel_sessions: "{{ fleet.tunnel_sessions }}"
    names: "{{ ansible_play_hosts }}"
    since: "{{ fleet.listed_at }}"
    fail_on_timeout: false
  run_once: true
  delegate_to: localhost
  register: back

- name: Fail a host whose agent did not come back
  ansible.builtin.fail:
    msg: "{{ back.not_reconnected[inventory_hostname] }}"
  when: inventory_hostname in back.not_reconnected

- name: Show this host's new session
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} is back as {{ back.tunnel_sessions[inventory_hostname].id }}"
  when: inventory_hostname in back.tunnel_sessions
"""

RETURN = r"""
tunnel_sessions:
  description: The new session of each agent that reconnected, by name, as ngrok returns it.
  returned: success, and on failure with O(fail_on_timeout)
  type: dict
  sample:
    web-01:
      id: ts_2hSHz0Oc3k3Kwv8HPZTjx4TDNmy
      metadata: web-01
      ip: 203.0.113.10
      credential: {"id": "cr_2hSHyTSIzoxrVOR0vRgfnBDNs4w"}
      started_at: "2025-10-31T09:24:02Z"
not_reconnected:
  description: The names whose agent did not reconnect by O(timeout), each with a message naming what was looked for.
  returned: success, and on failure with O(fail_on_timeout)
  type: dict
  sample: {"web-02": "The restart of tunnel session ts_... WAS sent and accepted by ngrok, but the agent did not ..."}
polls:
  description: How many polls were made (each one listing per group of up to 100 agents).
  returned: always
  type: int
  sample: 1
api_error:
  description: What ngrok (or the network) answered, when a poll failed.
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
      description: Always V(failed) here (a poll only reads).
      type: str
      sample: failed
    attempts:
      description: How many attempts were made (retries included), counting those whose connection could not be opened.
      type: int
      sample: 1
"""

from ansible_collections.community.ngrok.plugins.module_utils._fleet import FleetWait
from ansible_collections.community.ngrok.plugins.module_utils._module import NgrokModule


def main():
    module = NgrokModule(
        argument_spec=dict(
            tunnel_sessions=dict(type="dict", required=True),
            names=dict(type="list", elements="str"),
            since=dict(type="str"),
            timeout=dict(type="int", default=120),
            interval=dict(type="int", default=5),
            fail_on_timeout=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    FleetWait(module).run()


if __name__ == "__main__":
    main()
