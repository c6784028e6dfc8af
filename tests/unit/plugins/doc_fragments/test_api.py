# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection options are written for the modules (DOCUMENTATION) and repeated for plugins (PLUGIN),
because a doc fragment must be a literal string. This test keeps the two in step."""

from __future__ import annotations

import yaml

from ansible_collections.community.ngrok.plugins.doc_fragments.api import ModuleDocFragment
from ansible_collections.community.ngrok.plugins.module_utils._module import connection_argument_spec

#: The environment variables of the connection options (the modules' argument spec falls back to the same).
PLUGIN_ENV = {
    "api_key": ["NGROK_API_KEY"],
    "api_url": ["NGROK_API_URL"],
    "rate_limit": ["NGROK_RATE_LIMIT"],
    "rate_limit_window": ["NGROK_RATE_LIMIT_WINDOW"],
}


def test_plugin_options_are_the_module_options_with_env_entries():
    modules = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    plugins = yaml.safe_load(ModuleDocFragment.PLUGIN)
    expected = {name: dict(option) for name, option in modules["options"].items()}
    for name, variables in PLUGIN_ENV.items():
        expected[name]["env"] = [{"name": variable} for variable in variables]
    del expected["api_key"]["required"]  # the plugin checks it itself, with the modules' message
    assert plugins["options"] == expected
    assert plugins["requirements"] == modules["requirements"]


def test_env_entries_match_the_modules_fallbacks():
    spec = connection_argument_spec()
    fallbacks = {name: option["fallback"][1] for name, option in spec.items() if "fallback" in option}
    assert fallbacks == PLUGIN_ENV
    assert set(yaml.safe_load(ModuleDocFragment.PLUGIN)["options"]) == set(spec)


def test_plugin_notes_do_not_tell_to_delegate():
    notes = " ".join(yaml.safe_load(ModuleDocFragment.PLUGIN)["notes"])
    assert "delegate" not in notes.lower()
