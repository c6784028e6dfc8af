# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Find tunnel sessions: the body of ngrok_tunnel_session_info (by ID, by
metadata, by a CEL filter, or all of them).

INTERNAL: private to the collection; may change without notice.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_number,
    check_tunnel_session_id,
    metadata_text,
)
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import (
    and_filters,
    explain,
    get_session,
    list_sessions,
    metadata_filter,
)

#: The most sessions one lookup returns (max_results).
MAX_RESULTS = 1000000


class TunnelSessionInfo:
    """Look tunnel sessions up; read-only."""

    def __init__(self, module: NgrokModule) -> None:
        self.module = module
        self.params = module.params

    def run(self) -> NoReturn:
        params = self.params
        try:
            session_id = None if params["id"] is None else check_tunnel_session_id(params["id"])
            metadata = None if params["metadata"] is None else metadata_text(params["metadata"])
            if metadata == "":
                raise ValueError("metadata must not be empty; to find agents without metadata use "
                                 "filter: obj.metadata == \"\"")
            if params["filter"] is not None and not params["filter"].strip():
                raise ValueError("filter must not be empty: leave it unset to list every session")
            check_number("max_results", params["max_results"], 1, MAX_RESULTS)
        except ValueError as exc:
            self.module.fail(str(exc))
        client = self.module.client
        result: dict[str, Any] = {"changed": False}
        try:
            if session_id is not None:
                session = get_session(client, session_id)
                result["tunnel_sessions"] = [session] if session is not None else []
            else:
                cel = and_filters(metadata_filter(metadata) if metadata is not None else None, params["filter"])
                if cel:
                    result["filter"] = cel
                result["tunnel_sessions"] = list_sessions(client, cel, params["max_results"])
        except NgrokError as exc:
            self.module.fail(explain("get" if session_id else "list", session_id, exc), exc, **result)
        self.module.exit(**result)
