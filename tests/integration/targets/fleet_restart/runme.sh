#!/usr/bin/env bash
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fleet test of community.ngrok.restart_host_agents (see aliases): 300 hosts, forks 20, restart
# with wait, ngrok's rate limit (120 requests per rolling 60 s), rejected requests counted too (as
# strict as ngrok may be); the modules pace to that limit. Override with FLEET_HOSTS,
# FLEET_FORKS, FLEET_RATE_LIMIT, FLEET_RATE_WINDOW, FLEET_ARGS (e.g. "--retry-after").
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
script="${here}/../../../../benchmarks/fleet.py"
python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}"

# shellcheck disable=SC2086
exec "${python}" "${script}" \
    --hosts "${FLEET_HOSTS:-300}" --forks "${FLEET_FORKS:-20}" --wait \
    --rate-limit "${FLEET_RATE_LIMIT:-120}" --rate-window "${FLEET_RATE_WINDOW:-60}" --rate-count-rejected \
    --ansible-playbook "$(command -v ansible-playbook)" --python "${python}" \
    ${FLEET_ARGS:-}
