# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Standard attributes of every community.ngrok module.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
"""

    # Membership of the action group, for module_defaults.
    ACTIONGROUP_ALL = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/community.ngrok.all) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - community.ngrok.all
"""

    # For read-only (_info) modules.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state, and runs (and reads) in check mode too.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""
