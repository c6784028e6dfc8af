#!/usr/bin/env bash
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The live test (see aliases and README "Testing against the real ngrok API"): play.yml runs the modules, a paging
# helper and ansible-inventory against the ngrok API, read-only unless the restart is allowed.
#
# Settings, each from the environment or else from the integration_config.yml that ansible-test copies next to the
# targets (../../integration_config.yml; ansible-test passes no environment variables to a target, so
# `scripts/test live` writes them there):
#   NGROK_API_KEY                 ngrok_live_api_key_file: a named pipe (or a file) that gives the key; never the key
#   NGROK_API_URL                 ngrok_live_api_url (unset or empty: the real API, https://api.ngrok.com)
#   NGROK_LIVE_METADATA           ngrok_live_metadata: the metadata of the disposable agent
#   NGROK_LIVE_TUNNEL_SESSION_ID  ngrok_live_tunnel_session_id: or its tunnel session ID (at least one of the two)
#   NGROK_LIVE_ALLOW_RESTART      ngrok_live_allow_restart: yes restarts that agent (with wait); unset or no: read-only
# Without a key or an agent, or with any other NGROK_LIVE_ALLOW_RESTART, it fails before sending any request.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
CONFIG=$HERE/../../integration_config.yml
WORK=

cleanup() { if [[ -n "$WORK" ]]; then rm -rf "$WORK"; fi; }
trap cleanup EXIT

fail() { echo "live_ngrok_api: FAIL: $* Nothing was sent to the ngrok API." >&2; exit 1; }

# config_value KEY: the value of KEY in integration_config.yml, empty when the file or the key is missing.
config_value() {
    [[ -f "$CONFIG" ]] || return 0
    "$PYTHON" - "$CONFIG" "$1" <<'PY'
import sys
import yaml
with open(sys.argv[1], encoding="utf-8") as handle:
    value = (yaml.safe_load(handle) or {}).get(sys.argv[2])
print("" if value is None else value)
PY
}

# setting VARIABLE KEY: the environment variable when set and not empty, else the config file's KEY.
setting() {
    local value=${!1:-}
    if [[ -z "$value" ]]; then value=$(config_value "$2"); fi
    printf '%s' "$value"
}

NGROK_LIVE_METADATA=$(setting NGROK_LIVE_METADATA ngrok_live_metadata)
NGROK_LIVE_TUNNEL_SESSION_ID=$(setting NGROK_LIVE_TUNNEL_SESSION_ID ngrok_live_tunnel_session_id)
NGROK_LIVE_ALLOW_RESTART=$(setting NGROK_LIVE_ALLOW_RESTART ngrok_live_allow_restart)
NGROK_API_URL=$(setting NGROK_API_URL ngrok_live_api_url)
if [[ -z "${NGROK_API_KEY:-}" ]]; then
    key_file=$(config_value ngrok_live_api_key_file)
    if [[ -n "$key_file" ]]; then
        [[ -r "$key_file" ]] || fail "the API key file named by ngrok_live_api_key_file cannot be read."
        NGROK_API_KEY=$(<"$key_file")
    fi
fi

[[ -n "${NGROK_API_KEY:-}" ]] || fail "no API key: set NGROK_API_KEY (a key of an ngrok account with a disposable agent)."
[[ -n "$NGROK_LIVE_METADATA$NGROK_LIVE_TUNNEL_SESSION_ID" ]] ||
    fail "no agent named: set NGROK_LIVE_METADATA (the metadata of a disposable agent) or NGROK_LIVE_TUNNEL_SESSION_ID."
case "$NGROK_LIVE_ALLOW_RESTART" in
    "" | no) NGROK_LIVE_ALLOW_RESTART=no ;;
    yes) ;;
    *) fail "NGROK_LIVE_ALLOW_RESTART must be yes (restart the agent) or no (read-only), not '$NGROK_LIVE_ALLOW_RESTART'." ;;
esac

export NGROK_API_KEY NGROK_LIVE_METADATA NGROK_LIVE_TUNNEL_SESSION_ID NGROK_LIVE_ALLOW_RESTART
if [[ -n "$NGROK_API_URL" ]]; then export NGROK_API_URL; else unset NGROK_API_URL; fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/live-ngrok-api.XXXXXX")
export NGROK_LIVE_WORK_DIR=$WORK ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

echo "live_ngrok_api: API ${NGROK_API_URL:-https://api.ngrok.com (default)}," \
     "agent ${NGROK_LIVE_METADATA:+metadata '$NGROK_LIVE_METADATA'}${NGROK_LIVE_METADATA:+${NGROK_LIVE_TUNNEL_SESSION_ID:+, }}${NGROK_LIVE_TUNNEL_SESSION_ID:+session $NGROK_LIVE_TUNNEL_SESSION_ID}," \
     "restart allowed: $NGROK_LIVE_ALLOW_RESTART"
# "$@": the verbosity ansible-test asks for (-v...).
ansible-playbook -i localhost, "$HERE/play.yml" "$@"
echo "live_ngrok_api: OK"
