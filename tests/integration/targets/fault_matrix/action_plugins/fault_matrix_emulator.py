# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One JSON call of the ngrok emulator's control API, made by the controller itself.

Used by the fault_matrix target instead of ansible.builtin.uri: the matrix makes three control
calls per case for a hundred cases, and a uri task runs a module each time (about ten times
slower). Options: url, method (GET), body (JSON-encoded when given). Returns status and json;
fails on a connection error or an HTTP status >= 400.
"""

from __future__ import annotations

import json
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        url = args["url"]
        method = str(args.get("method", "GET")).upper()
        body = args.get("body")
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            with urlopen(Request(url, data=data, method=method, headers=headers), timeout=30) as response:
                status, raw = response.status, response.read()
        except HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (URLError, OSError) as exc:
            result.update(failed=True, msg="%s %s: %s" % (method, url, exc))
            return result
        try:
            decoded = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except ValueError:
            decoded = None
        result.update(changed=False, status=status, json=decoded)
        if status >= 400:
            result.update(failed=True, msg="%s %s: HTTP %d %s" % (method, url, status, raw[:500].decode("utf-8", "replace")))
        return result
