# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How restart, stop and update name their session by its agent's metadata (besides id), documented once.
    DOCUMENTATION = r"""
options:
  metadata:
    description:
      - The metadata of the agent to act on, exactly (its C(agent.metadata) or C(--metadata), for example its host
        name). Exactly one connected session must have it; the module then acts on that session.
      - No matching session, or several, fail before anything is sent (but see O(skip_missing)).
      - Give O(metadata) or O(id), not both.
      - A string; a number is looked up as its text. A boolean, a list or a dict is refused before anything is sent.
    type: raw
  skip_missing:
    description:
      - With O(metadata), when no connected agent has that metadata, succeed with RV(ignore:changed=false) and
        RV(tunnel_session=null) instead of failing. Nothing is sent. Setting it with O(id) is an error.
    type: bool
    default: false
"""
