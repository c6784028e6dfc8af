# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The connection options of every community.ngrok module.
    DOCUMENTATION = r"""
options:
  api_key:
    description:
      - An ngrok API key, from the API page of the ngrok dashboard (not an agent authtoken, not an API key ID).
      - You can also set this option by using the E(NGROK_API_KEY) environment variable.
      - Sent only to O(api_url); never logged, never part of a result or a message.
    type: str
    required: true
  api_url:
    description:
      - Base URL of the ngrok API. C(http://) is accepted only for a loopback host, such as a local emulator.
      - You can also set this option by using the E(NGROK_API_URL) environment variable.
    type: str
    default: https://api.ngrok.com
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url). Only set V(false) for a trusted test endpoint.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates used to verify O(api_url)'s TLS certificate, the same as
        O(ansible.builtin.uri#module:ca_path).
      - If not set, the E(REQUESTS_CA_BUNDLE) or E(CURL_CA_BUNDLE) environment variable is used, then the default
        bundle of requests. Ignored when O(validate_certs=false).
    type: path
  timeout:
    description:
      - Seconds, between V(0.1) and V(3600), to wait for each API request to connect, for each read of its answer,
        and for its whole body. See the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
    type: float
    default: 30
  retries:
    description:
      - How many times, between V(0) and V(20), a request is sent again after a failure where that is safe. Rate
        limiting does not count here, see O(rate_limit_timeout).
      - A restart or stop whose outcome is unknown is sent again, within O(retries), only once reading the session
        shows that it did not happen; an update, never. What is retried, and when, is in
        the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
    type: int
    default: 5
  rate_limit_timeout:
    description:
      - The longest time, in seconds between V(0) and V(3600), that one request waits out ngrok's rate limit (HTTP
        429) in total before the module fails. V(0) fails at the first 429.
    type: float
    default: 120
  rate_limit:
    description:
      - The most API requests, between V(0) and V(10000), that community.ngrok's modules and inventory plugin on
        this machine send to the same O(api_url) with the same O(api_key) per O(rate_limit_window) seconds. Set it
        to the rate limit of the ngrok account. All forks and runs share this budget, so a fleet sends at the limit and never above it.
        V(0) turns this pacing off. See the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
      - You can also set this option by using the E(NGROK_RATE_LIMIT) environment variable.
    type: int
    default: 120
  rate_limit_window:
    description:
      - The rolling window of O(rate_limit), in seconds between V(0.1) and V(3600).
      - You can also set this option by using the E(NGROK_RATE_LIMIT_WINDOW) environment variable.
    type: float
    default: 60
requirements:
  - python >= 3.9
  - requests
notes:
  - The module calls the ngrok API from wherever it runs. Delegate it to the controller (C(delegate_to) set to
    V(localhost)), so that managed hosts need neither the API key nor access to the ngrok API.
  - Proxies are taken from the E(https_proxy), E(http_proxy), E(all_proxy) and E(no_proxy) environment variables,
    as requests does.
  - Retries, rate limiting, lost answers, TLS and proxies are explained in the
    R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults)
    (C(docs/docsite/rst/guide_retries_and_faults.rst) in the collection).
"""

    # The same options for an inventory plugin (community.ngrok.api.plugin): DOCUMENTATION with the env
    # entries that a plugin's options need (a module takes its fallbacks from its argument spec, and module
    # docs have no env entries), api_key not required (the plugin checks it, with the modules' message),
    # and the notes that apply to a plugin. A doc fragment must be a literal string, so the text is
    # repeated: tests/unit/plugins/doc_fragments/test_api.py fails when the two disagree.
    PLUGIN = r"""
options:
  api_key:
    description:
      - An ngrok API key, from the API page of the ngrok dashboard (not an agent authtoken, not an API key ID).
      - You can also set this option by using the E(NGROK_API_KEY) environment variable.
      - Sent only to O(api_url); never logged, never part of a result or a message.
    type: str
    env:
      - name: NGROK_API_KEY
  api_url:
    description:
      - Base URL of the ngrok API. C(http://) is accepted only for a loopback host, such as a local emulator.
      - You can also set this option by using the E(NGROK_API_URL) environment variable.
    type: str
    env:
      - name: NGROK_API_URL
    default: https://api.ngrok.com
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url). Only set V(false) for a trusted test endpoint.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates used to verify O(api_url)'s TLS certificate, the same as
        O(ansible.builtin.uri#module:ca_path).
      - If not set, the E(REQUESTS_CA_BUNDLE) or E(CURL_CA_BUNDLE) environment variable is used, then the default
        bundle of requests. Ignored when O(validate_certs=false).
    type: path
  timeout:
    description:
      - Seconds, between V(0.1) and V(3600), to wait for each API request to connect, for each read of its answer,
        and for its whole body. See the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
    type: float
    default: 30
  retries:
    description:
      - How many times, between V(0) and V(20), a request is sent again after a failure where that is safe. Rate
        limiting does not count here, see O(rate_limit_timeout).
      - A restart or stop whose outcome is unknown is sent again, within O(retries), only once reading the session
        shows that it did not happen; an update, never. What is retried, and when, is in
        the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
    type: int
    default: 5
  rate_limit_timeout:
    description:
      - The longest time, in seconds between V(0) and V(3600), that one request waits out ngrok's rate limit (HTTP
        429) in total before the module fails. V(0) fails at the first 429.
    type: float
    default: 120
  rate_limit:
    description:
      - The most API requests, between V(0) and V(10000), that community.ngrok's modules and inventory plugin on
        this machine send to the same O(api_url) with the same O(api_key) per O(rate_limit_window) seconds. Set it
        to the rate limit of the ngrok account. All forks and runs share this budget, so a fleet sends at the limit and never above it.
        V(0) turns this pacing off. See the R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
      - You can also set this option by using the E(NGROK_RATE_LIMIT) environment variable.
    type: int
    env:
      - name: NGROK_RATE_LIMIT
    default: 120
  rate_limit_window:
    description:
      - The rolling window of O(rate_limit), in seconds between V(0.1) and V(3600).
      - You can also set this option by using the E(NGROK_RATE_LIMIT_WINDOW) environment variable.
    type: float
    env:
      - name: NGROK_RATE_LIMIT_WINDOW
    default: 60
requirements:
  - python >= 3.9
  - requests
notes:
  - Proxies are taken from the E(https_proxy), E(http_proxy), E(all_proxy) and E(no_proxy) environment variables,
    as requests does.
  - Retries, rate limiting, TLS and proxies are explained in the
    R(retries and faults guide,ansible_collections.community.ngrok.docsite.guide_retries_and_faults).
"""
