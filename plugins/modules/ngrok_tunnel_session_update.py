#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ngrok_tunnel_session_update
short_description: Update the ngrok agent of a tunnel session
version_added: "1.0.0"
description:
  - Asks the ngrok agent that started a tunnel session to update itself to the latest version of its major
    version, through the ngrok API (C(POST /tunnel_sessions/{id}/update)).
  - After the update the agent is in the update process; it runs the new version only once it restarts. Wait
    at least 10 seconds, then restart it with M(community.ngrok.ngrok_tunnel_session_restart) (or, on Windows,
    M(community.ngrok.ngrok_tunnel_session_stop) and its service manager), after which it reconnects with a new
    session ID.
  - ngrok refuses the update when no update is available, when update checks are disabled, or while the agent is
    updating or waiting for its restart; the module then fails with ngrok's reason.
  - A normal run sends one request (two with O(metadata), the lookup and the update) and reports
    RV(ignore:changed=true) when ngrok accepts it.
  - An update whose outcome is unknown (its answer was lost) is never sent again, and the module fails, as reading
    the session cannot tell. See the
    R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
author:
  - community.ngrok developers (@ansible-collections)
extends_documentation_fragment:
  - community.ngrok.api
  - community.ngrok.attributes
  - community.ngrok.attributes.actiongroup_all
  - community.ngrok.tunnel_session_target
attributes:
  check_mode:
    support: full
    details:
      - In check mode the module sends one C(GET /tunnel_sessions/{id}) (with O(metadata), the one
        C(GET /tunnel_sessions) that finds the session) and never an update. It predicts
        RV(ignore:changed=true) when the session exists, and fails when it does not exist or is an SSH session, as
        the update would. It cannot know whether an update is available.
  diff_mode:
    support: none
options:
  id:
    description:
      - The ID of the tunnel session whose agent to update, C(ts_) followed by 27 letters and digits.
      - Find the current one with M(community.ngrok.ngrok_tunnel_session_info).
      - Exactly one of O(id) and O(metadata) is required.
    type: str
    aliases:
      - session_id
      - tunnel_session_id
notes:
  - With O(metadata), the session is known before the update is sent, so an SSH session fails
    before anything is sent, as in check mode.
seealso:
  - module: community.ngrok.ngrok_tunnel_session_info
  - module: community.ngrok.ngrok_tunnel_session_restart
  - module: community.ngrok.ngrok_tunnel_session_stop
  - ref: ansible_collections.community.ngrok.docsite.guide_retries_and_faults
    description: What the modules retry, how they wait out rate limiting, and why a lost update is not resolved.
"""

EXAMPLES = r"""
- name: Update the ngrok agent of this host, then restart it to run the new version
  delegate_to: localhost
  module_defaults:
    group/community.ngrok.all:
      api_key: "{{ vault_ngrok_api_key }}"
  block:
    - name: Update the agent (found by its metadata, here the host's inventory name)
      community.ngrok.ngrok_tunnel_session_update:
        metadata: "{{ inventory_hostname }}"

    - name: Give the agent time to update
      ansible.builtin.pause:
        seconds: 15

    - name: Restart it and wait for its new session
      community.ngrok.ngrok_tunnel_session_restart:
        metadata: "{{ inventory_hostname }}"
        wait: true

- name: Update one agent by its session ID
  community.ngrok.ngrok_tunnel_session_update:
    id: "{{ ngrok_tunnel_session_id }}"
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: Why nothing was done.
  returned: when O(skip_missing=true) and no connected agent has O(metadata)
  type: str
  sample: "No connected agent has metadata 'web-01': skipped, the update request was not sent (skip_missing)."
tunnel_session_id:
  description:
    - The ID of the tunnel session that was updated (or would be, in check mode); with O(metadata), the one
      that has it.
    - V(null) when O(skip_missing=true) and no connected agent has O(metadata).
  returned: always, except when the module fails on its options (before any request) or on the lookup by O(metadata)
  type: str
  sample: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
tunnel_session:
  description:
    - The tunnel session, as ngrok returns it, before the update.
    - C(metadata) is absent when the agent has none.
    - V(null) when O(skip_missing=true) and no connected agent has O(metadata).
  returned: in check mode, and with O(metadata)
  type: dict
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
api_error:
  description: What ngrok (or the network) answered, when the module failed on an API request.
  returned: failure
  type: dict
  contains:
    status_code:
      description: HTTP status of the answer; null when no answer arrived.
      type: int
      sample: 404
    error_code:
      description: ngrok's error code; null when the answer had none (a plain 404 has none).
      type: str
      sample: ERR_NGROK_806
    msg:
      description: ngrok's message, or what went wrong on the network.
      type: str
      sample: Resource not found
    operation_id:
      description: ngrok's operation ID of the failed request, for ngrok support.
      type: str
      sample: op_32ELGiMyruN4J6Yn0fduKjIT6ug
    outcome:
      description:
        - V(failed) when ngrok certainly did not act; V(unknown) when the update may or may not have happened.
      type: str
      sample: failed
    attempts:
      description: How many attempts were made (retries included), counting those whose connection could not be opened.
      type: int
      sample: 1
"""

from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    tunnel_session_target_argument_spec,
)
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_session_actions import TunnelSessionAction


def main():
    module = NgrokModule(
        argument_spec=tunnel_session_target_argument_spec(),
        mutually_exclusive=[("id", "metadata")],
        required_one_of=[("id", "metadata")],
        supports_check_mode=True,
    )
    TunnelSessionAction(module, "update").run()


if __name__ == "__main__":
    main()
