# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helper of the live_ngrok_api target: the output of ``ansible-inventory --list`` on stdin, the agent's session ID as
argument; prints, as plain JSON, the hosts whose ``ngrok_id`` is that ID (``name``, ``in_group_ngrok`` and ``vars``)
and ``group_size``, the number of hosts in the group ``ngrok``.

ansible-inventory prints the values that the plugin marks unsafe as ``{"__ansible_unsafe": value}``, which the
``from_json`` filter of ansible-core 2.19 refuses to read; this unwraps them, on every ansible-core version.
"""

from __future__ import annotations

import json
import sys


def plain(value):
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return plain(value["__ansible_unsafe"])
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def main() -> None:
    session_id = sys.argv[1]
    listing = plain(json.load(sys.stdin))
    group = (listing.get("ngrok") or {}).get("hosts") or []
    hosts = [{"name": name, "in_group_ngrok": name in group, "vars": host_vars}
             for name, host_vars in sorted(((listing.get("_meta") or {}).get("hostvars") or {}).items())
             if host_vars.get("ngrok_id") == session_id]
    json.dump({"hosts": hosts, "group_size": len(group)}, sys.stdout)


if __name__ == "__main__":
    main()
