#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ngrok_tunnel_session_restart
short_description: Restart the ngrok agent of a tunnel session
version_added: "1.0.0"
description:
  - Asks the ngrok agent that started a tunnel session to restart itself, through the ngrok API
    (C(POST /tunnel_sessions/{id}/restart)). The agent re-executes itself, reads its configuration again, and
    reconnects with a B(new) tunnel session ID.
  - A normal run sends one request (two with O(metadata), the lookup and the restart) and reports
    RV(ignore:changed=true) when ngrok accepts it; use C(changed_when) if a restart should not count as a change.
  - ngrok cannot restart agents on Windows remotely; use M(community.ngrok.ngrok_tunnel_session_stop) and let the
    service manager start the agent again.
  - A restart whose outcome is unknown (its answer was lost) is never sent again blindly; the module reads the
    session to find out whether it took effect, and sends it again (at most O(retries) times) only when the
    session is still connected after the reads. See the
    R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults.resend).
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
        C(GET /tunnel_sessions) that finds the session) and never a restart. It predicts
        RV(ignore:changed=true) when the session exists, and fails when it does not exist, when its agent runs on
        Windows, or when it is an SSH session, as the restart would.
  diff_mode:
    support: none
options:
  id:
    description:
      - The ID of the tunnel session whose agent to restart, C(ts_) followed by 27 letters and digits.
      - It changes on every restart; find the current one with M(community.ngrok.ngrok_tunnel_session_info).
      - Exactly one of O(id) and O(metadata) is required.
    type: str
    aliases:
      - session_id
      - tunnel_session_id
  wait:
    description:
      - Wait until the agent has reconnected and return its new session as RV(new_tunnel_session). The agent is
        recognised by its credential, IP address and metadata; give each agent distinct metadata.
      - With the defaults it sends 3 to 27 requests, not counting retries; how the agent is matched and what
        O(wait) costs is in the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults.wait).
      - If the agent does not come back in time, the module fails and keeps RV(ignore:changed=true).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait for the agent to reconnect when O(wait=true), between V(1) and V(3600).
    type: int
    default: 120
  wait_interval:
    description:
      - Seconds between two polls when O(wait=true), between V(1) and V(300).
    type: int
    default: 5
notes:
  - With O(metadata), the session is known before the restart is sent, so a Windows agent or an SSH session fails
    before anything is sent, as in check mode.
seealso:
  - module: community.ngrok.ngrok_tunnel_session_info
  - module: community.ngrok.ngrok_tunnel_session_stop
  - module: community.ngrok.ngrok_tunnel_session_update
  - ref: ansible_collections.community.ngrok.docsite.guide_retries_and_faults
    description: What the modules retry, how they wait out rate limiting, resolve lost answers and wait for a restarted agent.
  - name: ngrok API, Tunnel Sessions, Restart
    description: The API call this module makes.
    link: https://ngrok.com/docs/api-reference/tunnelsessions/restart
"""

EXAMPLES = r"""
- name: Restart the ngrok agent of this host
  community.ngrok.ngrok_tunnel_session_restart:
    id: "{{ ngrok_tunnel_session_id }}"
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost

- name: Restart and wait until the agent is back
  community.ngrok.ngrok_tunnel_session_restart:
    id: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
    api_key: "{{ vault_ngrok_api_key }}"
    wait: true
    wait_timeout: 60
  delegate_to: localhost
  register: restarted

- name: Show the new session ID (check mode restarts nothing, so there is none)
  ansible.builtin.debug:
    msg: "{{ restarted.tunnel_session.id }} -> {{ restarted.new_tunnel_session.id }}"
  when: not ansible_check_mode

# The handler that restarts a host's agent when its configuration changes: one task. The agent runs with its
# host's inventory name as metadata (agent.metadata in ngrok.yml, or --metadata).
- name: Restart the ngrok agent
  community.ngrok.ngrok_tunnel_session_restart:
    metadata: "{{ inventory_hostname }}"
    api_key: "{{ vault_ngrok_api_key }}"
    wait: true
  delegate_to: localhost

- name: Restart the agent of a kiosk that may be offline (no connected agent is not a failure)
  community.ngrok.ngrok_tunnel_session_restart:
    metadata: kiosk-17
    api_key: "{{ vault_ngrok_api_key }}"
    skip_missing: true
  delegate_to: localhost
  register: kiosk

- name: Say when it was not connected
  ansible.builtin.debug:
    msg: "{{ kiosk.msg }}"
  when: kiosk.tunnel_session is none

- name: Set the API key once for every community.ngrok task of a block (or a play)
  module_defaults:
    group/community.ngrok.all:
      api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost
  block:
    - name: Restart without counting it as a change
      community.ngrok.ngrok_tunnel_session_restart:
        id: "{{ ngrok_tunnel_session_id }}"
      changed_when: false
"""

RETURN = r"""
msg:
  description: Why nothing was done.
  returned: when O(skip_missing=true) and no connected agent has O(metadata)
  type: str
  sample: "No connected agent has metadata 'web-01': skipped, the restart request was not sent (skip_missing)."
tunnel_session_id:
  description:
    - The ID of the tunnel session that was restarted (or would be, in check mode); with O(metadata), the one
      that has it.
    - V(null) when O(skip_missing=true) and no connected agent has O(metadata).
  returned: always, except when the module fails on its options (before any request) or on the lookup by O(metadata)
  type: str
  sample: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
tunnel_session:
  description:
    - The tunnel session before the restart, as ngrok returns it.
    - C(metadata) is absent when the agent has none.
    - V(null) when O(skip_missing=true) and no connected agent has O(metadata).
  returned: in check mode, when O(wait=true), and with O(metadata)
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
new_tunnel_session:
  description:
    - The session of the same agent after the restart, with its new ID; same fields as RV(tunnel_session).
  returned: when O(wait=true) and the agent reconnected
  type: dict
  sample: {"id": "ts_2hSHz5kq0a6ZbS6hmUuJpJ9mTtI", "metadata": "web-01", "os": "linux", "started_at": "2025-09-04T10:12:02Z"}
searched_filter:
  description: The CEL filter used to look for the reconnected agent.
  returned: when O(wait=true) and the agent did not reconnect in time
  type: str
  sample: obj.credential.id == "cr_2hSHyTSIzoxrVOR0vRgfnBDNs4w" && obj.ip == "203.0.113.10"
outcome_resolved:
  description:
    - V(true) when the answer to the restart was lost and the module concluded from the session's disappearance that
      it took effect (a warning says so).
  returned: when the answer was lost and the session was gone afterwards
  type: bool
  sample: true
unknown_outcome_checks:
  description:
    - What the reads after a lost answer found, and what each re-send got, in order, when they could not show
      that the restart took effect.
  returned: failure, when the outcome is unknown
  type: list
  elements: str
  sample: ["still connected after 1 seconds", "still connected after 3 seconds", "still connected after 7 seconds",
           "sent again (request 2): HTTP 500: Internal Server Error (operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)",
           "still connected after 1 seconds", "still connected after 3 seconds", "still connected after 7 seconds"]
posts_sent:
  description:
    - How many times the module sent the restart request (C(POST)), that is V(1) plus one for each re-send after a lost answer
      while the session was still connected (at most O(retries) re-sends).
    - The client's own repeats of a request that ngrok certainly did not act on (rate limiting, C(ERR_NGROK_225), a
      connection that could not be opened) are not counted here, see RV(api_error.attempts).
  returned: when the restart request was sent (not in check mode, nor when the module fails before sending it)
  type: int
  sample: 1
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
      sample: ERR_NGROK_804
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
        - V(failed) when ngrok certainly did not act; V(unknown) when the restart may or may not have happened.
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
        argument_spec=dict(
            tunnel_session_target_argument_spec(),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=120),
            wait_interval=dict(type="int", default=5),
        ),
        mutually_exclusive=[("id", "metadata")],
        required_one_of=[("id", "metadata")],
        supports_check_mode=True,
    )
    TunnelSessionAction(module, "restart").run()


if __name__ == "__main__":
    main()
