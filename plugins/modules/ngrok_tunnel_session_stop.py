#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: ngrok_tunnel_session_stop
short_description: Stop the ngrok agent of a tunnel session
version_added: "1.0.0"
description:
  - Asks the ngrok agent that started a tunnel session to exit, through the ngrok API
    (C(POST /tunnel_sessions/{id}/stop)). The session disappears; the agent does not come back by itself.
  - A normal run sends one request (two with O(metadata), the lookup and the stop) and reports
    RV(ignore:changed=true) when ngrok accepts it.
  - B(Windows agents), which ngrok cannot restart remotely, are restarted with this module. Run the agent as a
    service whose manager starts it again when it exits (for a Windows service, a recovery action
    C(Restart the Service)), stop its session, and the agent reconnects with a new session ID.
  - A stop whose outcome is unknown (its answer was lost) is never sent again blindly; the module reads the
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
        C(GET /tunnel_sessions) that finds the session) and never a stop. It predicts
        RV(ignore:changed=true) when the session exists and fails when it does not, as the stop would.
  diff_mode:
    support: none
options:
  id:
    description:
      - The ID of the tunnel session whose agent to stop, C(ts_) followed by 27 letters and digits.
      - Find the current one with M(community.ngrok.ngrok_tunnel_session_info).
      - Exactly one of O(id) and O(metadata) is required.
    type: str
    aliases:
      - session_id
      - tunnel_session_id
seealso:
  - module: community.ngrok.ngrok_tunnel_session_info
  - module: community.ngrok.ngrok_tunnel_session_restart
  - module: community.ngrok.ngrok_tunnel_session_update
  - ref: ansible_collections.community.ngrok.docsite.guide_retries_and_faults
    description: What the modules retry, how they wait out rate limiting and resolve lost answers.
  - name: ngrok agent as a service
    description: Installing the ngrok agent as a service that its service manager restarts.
    link: https://ngrok.com/docs/agent/
"""

EXAMPLES = r"""
- name: Stop the ngrok agent of this host
  community.ngrok.ngrok_tunnel_session_stop:
    id: "{{ ngrok_tunnel_session_id }}"
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost

- name: Restart this host's Windows agent, run as a service (its service manager starts it again)
  community.ngrok.ngrok_tunnel_session_stop:
    metadata: "{{ inventory_hostname }}"  # the agent's metadata (agent.metadata in ngrok.yml, or --metadata)
    api_key: "{{ vault_ngrok_api_key }}"
  delegate_to: localhost
"""

RETURN = r"""
msg:
  description: Why nothing was done.
  returned: when O(skip_missing=true) and no connected agent has O(metadata)
  type: str
  sample: "No connected agent has metadata 'web-01': skipped, the stop request was not sent (skip_missing)."
tunnel_session_id:
  description:
    - The ID of the tunnel session that was stopped (or would be, in check mode); with O(metadata), the one
      that has it.
    - V(null) when O(skip_missing=true) and no connected agent has O(metadata).
  returned: always, except when the module fails on its options (before any request) or on the lookup by O(metadata)
  type: str
  sample: ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
tunnel_session:
  description:
    - The tunnel session, as ngrok returns it, before the stop.
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
outcome_resolved:
  description:
    - V(true) when the answer to the stop was lost and the module concluded from the session's disappearance that
      it took effect (a warning says so).
  returned: when the answer was lost and the session was gone afterwards
  type: bool
  sample: true
unknown_outcome_checks:
  description:
    - What the reads after a lost answer found, and what each re-send got, in order, when they could not show
      that the stop took effect.
  returned: failure, when the outcome is unknown
  type: list
  elements: str
  sample: ["still connected after 1 seconds", "still connected after 3 seconds", "still connected after 7 seconds",
           "sent again (request 2): HTTP 500: Internal Server Error (operation ID op_32ELGiMyruN4J6Yn0fduKjIT6ug)",
           "still connected after 1 seconds", "still connected after 3 seconds", "still connected after 7 seconds"]
posts_sent:
  description:
    - How many times the module sent the stop request (C(POST)), that is V(1) plus one for each re-send after a lost answer
      while the session was still connected (at most O(retries) re-sends).
    - The client's own repeats of a request that ngrok certainly did not act on (rate limiting, C(ERR_NGROK_225), a
      connection that could not be opened) are not counted here, see RV(api_error.attempts).
  returned: when the stop request was sent (not in check mode, nor when the module fails before sending it)
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
      sample: ERR_NGROK_805
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
        - V(failed) when ngrok certainly did not act; V(unknown) when the stop may or may not have happened.
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
    TunnelSessionAction(module, "stop").run()


if __name__ == "__main__":
    main()
