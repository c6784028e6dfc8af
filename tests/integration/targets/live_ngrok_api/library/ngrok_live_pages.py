#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test module of the live_ngrok_api target (not part of the collection): pages through ``GET /tunnel_sessions``
with a small page size, through the collection's own client (the ``paginate()`` every module and the inventory use,
which follows ``next_page_uri``), and returns what each page held.

The modules always ask for pages of 100, so an account with fewer agents never shows them a second page; this
module makes ngrok page with ``limit`` (default 1). Options: ``limit`` and ``max_items`` (default 3), and the
collection's connection options (``api_key`` from ``NGROK_API_KEY``, ``api_url`` from ``NGROK_API_URL``). Costs one
request per page: ``max_items`` pages of 1 when the account has that many agents.

Returns ``ids`` (the sessions' IDs in the order ngrok paged them), ``pages`` (per page: ``ids``, ``next_page_uri``
present or not, and its ``before_id``) and ``requests_sent``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._module import NgrokModule
from ansible_collections.community.ngrok.plugins.module_utils._tunnel_sessions import LIST_KEY, LIST_PATH


def page_summary(response) -> dict:
    data = response.data if isinstance(response.data, dict) else {}
    items = data.get(LIST_KEY) if isinstance(data.get(LIST_KEY), list) else []
    next_uri = data.get("next_page_uri")
    before_id = None
    if next_uri:
        values = parse_qs(urlsplit(next_uri).query).get("before_id")
        before_id = values[0] if values else None
    return {
        "ids": [item.get("id") if isinstance(item, dict) else None for item in items],
        "has_next_page_uri": bool(next_uri),
        "next_before_id": before_id,
    }


def main():
    module = NgrokModule(
        argument_spec=dict(
            limit=dict(type="int", default=1),
            max_items=dict(type="int", default=3),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 1 <= params["limit"] <= 100 or params["max_items"] < 1:
        module.fail("limit must be 1..100 and max_items at least 1")
    client = module.client
    pages = []
    try:
        items = list(client.paginate(LIST_PATH, LIST_KEY, params={"limit": str(params["limit"])},
                                     max_items=params["max_items"], on_page=lambda r: pages.append(page_summary(r))))
    except NgrokError as exc:
        module.fail("Paging through %s failed: %s" % (LIST_PATH, exc.describe()), exc, pages=pages)
    module.exit(changed=False, ids=[item.get("id") if isinstance(item, dict) else None for item in items],
                pages=pages, requests_sent=client.requests_sent)


if __name__ == "__main__":
    main()
