#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ngrok_tunnel_session_info
short_description: Find ngrok tunnel sessions, by ID, by agent metadata or by a CEL filter
version_added: "1.0.0"
description:
  - Lists the tunnel sessions (connected ngrok agents) of the account, or reads one by ID, through the ngrok API.
  - The usual way to find the agent of a host is O(metadata), the agent's C(metadata) setting (for example its host
    name); the match is done by ngrok, server-side.
  - Follows ngrok's paging (100 sessions a page) until the end or O(max_results).
author:
  - community.ngrok developers (@ansible-collections)
extends_documentation_fragment:
  - community.ngrok.api
  - community.ngrok.attributes
  - community.ngrok.attributes.actiongroup_all
  - community.ngrok.attributes.info_module
options:
  id:
    description:
      - Read this one tunnel session (C(ts_) followed by 27 letters and digits). Mutually exclusive with
        O(metadata) and O(filter).
      - An ID that ngrok does not know (the agent is gone, or restarted with a new ID) gives an empty
        RV(tunnel_sessions) list, not a failure.
    type: str
    aliases:
      - session_id
      - tunnel_session_id
  metadata:
    description:
      - Only sessions whose agent metadata is exactly this string. Sent as a CEL filter in which the value is
        escaped, so that it can never change the expression.
      - A string; a number is looked up as its text. A boolean, a list or a dict is refused before anything is sent.
    type: raw
  filter:
    description:
      - A CEL expression evaluated by ngrok over each session's C(id), C(metadata), C(agent_version), C(ip), C(os),
        C(region), C(started_at) and C(credential), for example C(obj.os == "linux" && obj.region == "eu").
      - ANDed with O(metadata) when both are given.
      - Strings compare letter by letter, so C(obj.agent_version < "3.20") is not a version comparison; filter
        versions on the controller with the C(version) test (see the examples).
      - C(started_at) is a timestamp, as in C(obj.started_at < timestamp("2025-10-31T09:23:45Z")); C(credential) is
        filtered on its ID, as in C(obj.credential.id == "cr_...").
    type: str
  max_results:
    description:
      - Stop after this many sessions (newest first), between V(1) and V(1000000). Unset means all of them. Not
        used with O(id).
    type: int
notes:
  - Each page of up to 100 sessions is one API request; reading one session by O(id) is one request. Reads are
    retried as the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults)
    describes.
seealso:
  - module: community.ngrok.ngrok_tunnel_session_restart
  - module: community.ngrok.ngrok_tunnel_session_stop
  - module: community.ngrok.ngrok_tunnel_session_update
  - ref: ansible_collections.community.ngrok.docsite.guide_retries_and_faults
    description: What the modules retry, and how they wait out rate limiting.
  - name: ngrok API filtering
    description: The CEL filter syntax of the ngrok API.
    link: https://ngrok.com/docs/api/api-filtering/
"""

EXAMPLES = r"""
- name: Find the agent of this host (started with metadata set to its inventory name)
  community.ngrok.ngrok_tunnel_session_info:
    metadata: "{{ inventory_hostname }}"
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost
  register: agent

- name: Restart it
  community.ngrok.ngrok_tunnel_session_restart:
    id: "{{ agent.tunnel_sessions[0].id }}"
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost
  when: agent.tunnel_sessions | length == 1

- name: All Linux agents in Europe
  community.ngrok.ngrok_tunnel_session_info:
    api_key: "{{ vault_ngrok_api_key }}"
    filter: obj.os == "linux" && obj.region == "eu"
  delegate_to: localhost
  register: eu_linux

# CEL compares strings letter by letter ("3.5.0" > "3.20"), so versions are compared here instead.
- name: Update those older than 3.20
  community.ngrok.ngrok_tunnel_session_update:
    id: "{{ item.id }}"
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost
  loop: "{{ eu_linux.tunnel_sessions | selectattr('agent_version', 'version', '3.20', '<') | list }}"
  loop_control:
    label: "{{ item.id }} ({{ item.agent_version }})"

- name: Is this session still connected?
  community.ngrok.ngrok_tunnel_session_info:
    api_key: "{{ vault_ngrok_api_key }}"
    id: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
  delegate_to: localhost
  register: one
  failed_when: one.tunnel_sessions | length == 0
"""

RETURN = r"""
tunnel_sessions:
  description:
    - The matching tunnel sessions, newest first, as ngrok returns them.
    - C(metadata) is absent from a session whose agent has none.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: The tunnel session ID.
      type: str
      sample: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
    agent_version:
      description: Version of the ngrok agent.
      type: str
      sample: 3.20.0
    credential:
      description: Reference (C(id), C(uri)) to the credential the agent connected with.
      type: dict
      sample: {"id": "cr_2hSHyTSIzoxrVOR0vRgfnBDNs4w", "uri": "https://api.ngrok.com/credentials/cr_2hSHyTSIzoxrVOR0vRgfnBDNs4w"}
    ip:
      description: Source IP address of the session.
      type: str
      sample: 203.0.113.10
    metadata:
      description: The agent's user-defined metadata; absent when empty.
      type: str
      sample: web-01
    os:
      description: Operating system of the agent's host.
      type: str
      sample: linux
    region:
      description: The ngrok region the session is connected to.
      type: str
      sample: us
    started_at:
      description: When the session connected, RFC 3339 in UTC.
      type: str
      sample: "2025-09-04T10:11:27Z"
    transport:
      description: The transport protocol of the session.
      type: str
      sample: ngrok/2
    uri:
      description: The API URI of the session.
      type: str
      sample: https://api.ngrok.com/tunnel_sessions/ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
filter:
  description: The CEL filter that was sent to ngrok, if any.
  returned: when O(metadata) or O(filter) is set
  type: str
  sample: obj.metadata == "web-01"
api_error:
  description: What ngrok (or the network) answered, when the module failed on an API request.
  returned: failure
  type: dict
  contains:
    status_code:
      description: HTTP status of the answer; null when no answer arrived.
      type: int
      sample: 400
    error_code:
      description: ngrok's error code; null when the answer had none.
      type: str
      sample: ERR_NGROK_250
    msg:
      description: ngrok's message, or what went wrong on the network.
      type: str
      sample: Invalid CEL query
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

from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    tunnel_session_id_argument_spec,
)
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_session_info import TunnelSessionInfo


def main():
    module = NgrokModule(
        argument_spec=dict(
            id=tunnel_session_id_argument_spec(required=False),
            # raw: a list or a dict is refused as such (metadata_text), not looked up as its Python text
            metadata=dict(type="raw"),
            filter=dict(type="str"),
            max_results=dict(type="int"),
        ),
        mutually_exclusive=[("id", "metadata"), ("id", "filter")],
        supports_check_mode=True,
    )
    TunnelSessionInfo(module).run()


if __name__ == "__main__":
    main()
