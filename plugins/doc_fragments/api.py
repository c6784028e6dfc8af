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
      - An ngrok API key (created on the API page of the ngrok dashboard). Not an agent authtoken and not an API key ID.
      - Required. If not set, the value of the E(NGROK_API_KEY) environment variable is used; if neither is set the
        module fails before sending anything.
      - Sent only as a bearer token to O(api_url), never logged, never part of any result or message.
      - Pass it with this option (from Ansible Vault, or once for all tasks through C(module_defaults) and
        C(group/community.ngrok.all)), export E(NGROK_API_KEY) before running C(ansible-playbook), or use an AWX
        credential. Do not set E(NGROK_API_KEY) with a task's C(environment) keyword; ansible-core itself prints
        those values at C(-vvv), in the command line of the module it runs.
    type: str
  api_url:
    description:
      - Base URL of the ngrok API.
      - If not set, the value of the E(NGROK_API_URL) environment variable is used, then V(https://api.ngrok.com).
      - Must be C(https://). C(http://) is accepted only for a loopback host (V(127.0.0.0/8), V(::1), V(localhost)),
        for example a local emulator, because the API key would otherwise travel in clear text.
    type: str
    default: https://api.ngrok.com
  validate_certs:
    description:
      - Whether to verify the TLS certificate of O(api_url). Only set V(false) for a trusted test endpoint.
      - Certificates are verified against the system trust store of the machine that runs the module. Point the
        standard E(SSL_CERT_FILE) (a CA bundle file) or E(SSL_CERT_DIR) environment variables elsewhere, for example
        to trust the CA of a TLS-inspecting proxy.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for each API request to connect and for its whole answer to arrive, between V(0.1) and
        V(3600).
    type: float
    default: 30
  retries:
    description:
      - How many times a request is retried, between V(0) and V(20), when that is safe. Rate limiting does not count
        here; see O(rate_limit_timeout).
      - Retried for every request, with exponential backoff (1, 2, 4... seconds, at most 30) and random jitter, after
        ERR_NGROK_225 (too many concurrent requests; a C(Retry-After) header on it replaces the backoff, up to 60
        seconds) and connections that could not be opened (refused, DNS failure, connect timeout), because ngrok did not
        act on those.
      - Retried for reads (GET) only, the same way, after any other HTTP 5xx answer except 501 and 505, read timeouts and
        dropped connections. A C(Retry-After) header on such an answer replaces the backoff, up to 60 seconds.
      - A POST (restart, stop, update) whose outcome is unknown is B(never) sent again; the module fails and says that
        the outcome is unknown (restart and stop first read the session to find out). That is any HTTP 5xx answer
        except 501 and 505 (a 503 too, and the 520 to 524 of a CDN), unless its error code says what happened;
        ERR_NGROK_810; a read timeout; or a connection dropped after the request may have been sent. ngrok does not
        document any 5xx as "not acted upon", and a proxy or a load balancer may answer 5xx after it has passed the
        request on.
    type: int
    default: 5
  rate_limit_timeout:
    description:
      - The longest time, in seconds between V(0) and V(3600), that one request waits out ngrok's rate limit (HTTP 429,
        ERR_NGROK_226) in total before the module fails.
      - ngrok allows 120 requests per rolling 60 seconds per account by default. A rate-limited request is sent again
        after C(Retry-After) seconds (at most 60) when ngrok sends that header, otherwise after a random wait of up to 1, 2, then at
        most 4 seconds, so that the forks of a play spread out instead of retrying in lockstep and a slot that frees
        is taken soon. Rate-limited requests were not acted on, so POSTs are retried too.
      - The default, two of ngrok's windows, lets a fleet-wide play finish under the limit; V(0) fails at the first
        429.
    type: float
    default: 120
requirements:
  - Nothing but ansible-core; the modules use Python's standard library only.
notes:
  - An C(https://) O(api_url) is reached through the proxy in the E(https_proxy) (or E(HTTPS_PROXY), then
    E(all_proxy), E(ALL_PROXY)) environment variable unless E(no_proxy) (or E(NO_PROXY)) excludes its host (entries
    V(*), a host name, a domain suffix such as V(.example.com), optionally with V(:port)). Only C(http://) proxies are
    supported, through a CONNECT tunnel; C(user:password) in the proxy URL is sent as proxy credentials and never
    shown. An C(http://) (loopback) O(api_url) is never proxied.
  - The module calls the ngrok API from wherever it runs. Delegate it to the controller (C(delegate_to) set to
    V(localhost)), or run the play on the controller, so that managed hosts need neither the API key nor network
    access to the ngrok API.
"""
