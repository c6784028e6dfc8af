# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The version of community.ngrok, which its API requests name in their User-Agent.

INTERNAL: this module_util is private to the collection (its name starts with
an underscore). It may change without notice; do not import it from other
collections.

galaxy.yml is the source of the version. ``scripts/release`` sets this copy
with it, and tests/unit/test_version.py checks that the two agree.
"""

from __future__ import annotations

COLLECTION_VERSION = "1.0.0"
