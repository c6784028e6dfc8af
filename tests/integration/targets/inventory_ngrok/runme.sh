#!/usr/bin/env bash
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The inventory plugin community.ngrok.ngrok against the emulator: ansible-inventory --list over 230
# agents (3 pages of tunnel sessions), the requests it costs, names, the SSH endpoint choice,
# keyed_groups, filter, the cache, a wrong key, unsafe metadata; then a real SSH run: ansible ... -m ping
# reaches an asyncssh server on loopback through the ansible_host and ansible_port the plugin set.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/inventory-ngrok.XXXXXX")
EMULATOR_URL=
SSH_PID=

cleanup() {
    if [[ -n "$EMULATOR_URL" ]]; then
        "$PYTHON" - "$EMULATOR_URL" <<'PY' || true
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_emulator/shutdown", data=b"{}", method="POST"), timeout=5).read()
PY
    fi
    if [[ -n "$SSH_PID" ]]; then
        kill "$SSH_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
check() { "$PYTHON" "$HERE/check.py" "$@"; }
# flat FILE: FILE on one line. ansible-core 2.16 wraps warnings at the terminal width (at spaces and after
# hyphens); this undoes that, so that a message is found whatever its width.
flat() { tr '\n' ' ' <"$1" | sed -e 's/  */ /g' -e 's/- /-/g'; }

# ---- the SSH server that stands for a device behind NAT
mkdir "$WORK/ssh"
"$PYTHON" "$HERE/ssh_server.py" "$WORK/ssh" "$(id -un)" --lifetime 300 &
SSH_PID=$!
for _ in $(seq 300); do
    [[ -s "$WORK/ssh/server.json" ]] && break
    kill -0 "$SSH_PID" 2>/dev/null || fail "the SSH server did not start"
    sleep 0.1
done
[[ -s "$WORK/ssh/server.json" ]] || fail "the SSH server did not listen within 30 seconds"
SSH_PORT=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$WORK/ssh/server.json")

# ---- the emulator: 224 agents with a TCP endpoint to tcp://localhost:22 (random addresses) and an HTTPS
# endpoint, 2 cloud endpoints, and 6 agents seeded below: 230 agents, 3 pages of tunnel sessions
EMULATOR=""
for candidate in "$HERE/../../../emulator/ngrok_emulator.py" \
    $(tr ':' '\n' <<<"${ANSIBLE_COLLECTIONS_PATH:-}" | sed -n 's|$|/ansible_collections/community/ngrok/tests/emulator/ngrok_emulator.py|p'); do
    if [[ -f "$candidate" ]]; then EMULATOR=$candidate; break; fi
done
[[ -n "$EMULATOR" ]] || fail "tests/emulator/ngrok_emulator.py not found"
KEY_RANDOM=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')
API_KEY="ngrok-inventory-KEY-$KEY_RANDOM"
printf '%s\n' "$API_KEY" >"$WORK/api.key"
"$PYTHON" "$EMULATOR" --background --port 0 --port-file "$WORK/emulator.json" --log-file "$WORK/emulator.log" \
    --api-key-file "$WORK/api.key" --agents 224 --agent-endpoint tcp,tcp://localhost:22 \
    --agent-endpoint https,http://localhost:80 --cloud-endpoints 2 --rate-limit 0 --idle-timeout 120 >/dev/null
EMULATOR_URL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/emulator.json")

# The special agents. ssh-box: its SSH endpoint is the oldest; newer ones forward elsewhere (TCP to 5432,
# HTTPS to port 22) and must not be taken.
"$PYTHON" - "$EMULATOR_URL" "$SSH_PORT" "$WORK" <<'PY'
import json, sys, urllib.request
url, ssh_port, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pipe = "{{ lookup('pipe', 'touch %s/pwned-%%s') }}" % work
specs = [
    {"metadata": "ssh-box", "endpoints": [
        {"proto": "tcp", "upstream_url": "tcp://localhost:22", "url": "tcp://127.0.0.1:%d" % ssh_port},
        {"proto": "tcp", "upstream_url": "tcp://localhost:5432", "url": "tcp://127.0.0.1:9"},
        {"proto": "https", "upstream_url": "http://localhost:22"}]},
    {"metadata": json.dumps({"host": "kiosk-7", "site": "lyon"}), "os": "windows",
     "endpoints": [{"proto": "tcp", "upstream_url": "22", "url": "tcp://2.tcp.ngrok.io:20022"}]},
    {"metadata": "dup-box", "endpoints": [{"proto": "tcp", "upstream_url": "localhost:22", "url": "tcp://3.tcp.ngrok.io:20023"}]},
    {"metadata": "dup-box", "endpoints": [{"proto": "tcp", "upstream_url": "localhost:22", "url": "tcp://3.tcp.ngrok.io:20023"}]},
    {"metadata": pipe % "metadata", "endpoints": [{"proto": "tcp", "upstream_url": "tcp://localhost:22"}]},
    {"metadata": json.dumps({"host": "internal-box", "site": pipe % "site"}),
     "endpoints": [{"proto": "tcp", "upstream_url": "tcp://localhost:22", "bindings": ["internal"]}]},
]
request = urllib.request.Request(url + "/_emulator/sessions", data=json.dumps(specs).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=10).read()
PY

export NGROK_API_URL=$EMULATOR_URL NGROK_API_KEY=$API_KEY ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_INVENTORY_UNPARSED_FAILED=1 ANSIBLE_INVENTORY_ENABLED=community.ngrok.ngrok
check clear "$EMULATOR_URL"

cat >"$WORK/all.ngrok.yml" <<YML
plugin: community.ngrok.ngrok
hostname_metadata_key: host
keyed_groups:
  - key: ngrok_os
    prefix: os
  - key: ngrok_metadata_json.site | default('none')
    prefix: site
groups:
  ssh_reachable: ansible_host is defined
  suspicious: "'lookup' in ngrok_metadata"
compose:
  ngrok_session_prefix: ngrok_id[:3]
YML

# ---- 1. the full listing: 230 hosts from 3 pages of sessions and 5 of endpoints (2 per agent, 2 cloud)
ansible-inventory -i "$WORK/all.ngrok.yml" --list >"$WORK/all.json" 2>"$WORK/all.err"
check full "$WORK/all.json" "$SSH_PORT" 230
flat "$WORK/all.err" | grep -q "2 agents are named 'dup-box'" || { cat "$WORK/all.err"; fail "no warning about the duplicates"; }
echo "duplicates: warned: $(flat "$WORK/all.err" | grep -o "2 agents are named 'dup-box'[^;]*")"
check requests "$EMULATOR_URL" 3 5

# ---- 2. filter: sent to the API, which only lists the matching sessions (1 page of each list)
cat >"$WORK/filter.ngrok.yml" <<'YML'
plugin: community.ngrok.ngrok
filter: obj.metadata in ["host-001", "host-002"]
YML
ansible-inventory -i "$WORK/filter.ngrok.yml" --list >"$WORK/filter.json"
check filtered "$WORK/filter.json"
check requests "$EMULATOR_URL" 1 5

# ---- 3. the cache: the second listing sends nothing; the cache never holds the API key (here a template)
cat >"$WORK/cache.ngrok.yml" <<YML
plugin: community.ngrok.ngrok
api_key: "{{ lookup('ansible.builtin.env', 'NGROK_TEST_KEY') }}"
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: $WORK/cache
cache_timeout: 300
YML
NGROK_TEST_KEY=$API_KEY env -u NGROK_API_KEY ansible-inventory -i "$WORK/cache.ngrok.yml" --list >"$WORK/cache1.json"
check requests "$EMULATOR_URL" 3 5
NGROK_TEST_KEY=$API_KEY env -u NGROK_API_KEY ansible-inventory -i "$WORK/cache.ngrok.yml" --list >"$WORK/cache2.json"
check no-requests "$EMULATOR_URL"
check same-hosts "$WORK/cache1.json" "$WORK/cache2.json"
[[ -n "$(ls -A "$WORK/cache")" ]] || fail "the cache directory is empty"
! grep -r -q -e "$KEY_RANDOM" -e "${KEY_RANDOM:0:12}" "$WORK/cache" || fail "the inventory cache holds the API key"
echo "cache: $(ls "$WORK/cache" | wc -l) file(s), without the API key"

# ---- 4. a wrong key: a clear error (HTTP status, ngrok's error code, operation ID), no traceback, no key
WRONG="ngrok-inventory-WRONG-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')"
status=0
NGROK_API_KEY=$WRONG ansible-inventory -i "$WORK/all.ngrok.yml" --list >"$WORK/wrong.out" 2>"$WORK/wrong.err" || status=$?
[[ $status -ne 0 ]] || fail "a wrong key did not fail ansible-inventory"
flat "$WORK/wrong.err" | grep -q "HTTP 401 ERR_NGROK_203" || { cat "$WORK/wrong.err"; fail "no HTTP status and error code"; }
flat "$WORK/wrong.err" | grep -q "operation ID op_" || { cat "$WORK/wrong.err"; fail "no operation ID"; }
! grep -q "Traceback" "$WORK/wrong.err" || fail "a traceback"
for out in wrong.err wrong.out; do
    ! flat "$WORK/$out" | grep -q -e "${WRONG#ngrok-inventory-WRONG-}" -e "$KEY_RANDOM" || fail "the key is in $out"
done
NGROK_API_KEY=$WRONG ansible-inventory -vvvv -i "$WORK/all.ngrok.yml" --list >"$WORK/wrong4.out" 2>&1 || true
! flat "$WORK/wrong4.out" | grep -q -e "${WRONG#ngrok-inventory-WRONG-}" || fail "the key is in the -vvvv output"
echo "wrong key: $(flat "$WORK/wrong.err" | grep -o 'HTTP 401 ERR_NGROK_203[^(]*(operation ID op_[0-9A-Za-z]*)' | head -1)"
check clear "$EMULATOR_URL"

# ---- 5. unsafe: templates in metadata never run, in ansible-inventory nor in a play that uses them.
# Control first: the same lookup, where it is meant to run, does touch its file.
ANSIBLE_INVENTORY_ENABLED=host_list ansible localhost -i localhost, -c local -m ansible.builtin.debug \
    -a "msg={{ lookup('pipe', 'touch $WORK/control') }}" >/dev/null
[[ -f "$WORK/control" ]] || fail "control: the pipe lookup did not run where it should"
ansible-inventory -i "$WORK/all.ngrok.yml" --graph >/dev/null 2>&1
ansible-inventory -i "$WORK/all.ngrok.yml" --host internal-box >/dev/null 2>&1
ansible-playbook -i "$WORK/all.ngrok.yml" "$HERE/play.yml" >"$WORK/play.out" 2>&1 || { cat "$WORK/play.out"; fail "play.yml failed"; }
grep -q "ok=4" "$WORK/play.out" || { cat "$WORK/play.out"; fail "play.yml did not run its tasks on the suspicious hosts"; }
if compgen -G "$WORK/pwned-*" >/dev/null; then fail "a template in an agent's metadata ran: $(ls "$WORK"/pwned-*)"; fi
echo "unsafe: the templates in the metadata of 2 agents did not run (ansible-inventory --list/--graph/--host, a play)"

# ---- 6. SSH through the endpoint: ansible reaches the asyncssh server at the ansible_host/ansible_port set
export ANSIBLE_REMOTE_USER=$(id -un) ANSIBLE_PRIVATE_KEY_FILE=$WORK/ssh/client_key ANSIBLE_HOST_KEY_CHECKING=True
export ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=$WORK/ssh/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes"
export ANSIBLE_PIPELINING=True ANSIBLE_SSH_RETRIES=0
ansible -i "$WORK/all.ngrok.yml" ssh-box -m ansible.builtin.ping -e "ansible_python_interpreter=$PYTHON" \
    >"$WORK/ping.out" 2>&1 || { cat "$WORK/ping.out"; fail "ansible -m ping through the endpoint failed"; }
grep -q '"ping": "pong"' "$WORK/ping.out" || { cat "$WORK/ping.out"; fail "no pong"; }
[[ -s "$WORK/ssh/commands.log" ]] || fail "the SSH server ran no command: the ping did not go through it"
echo "ssh: ansible -m ping reached the SSH server at 127.0.0.1:$SSH_PORT through ssh-box's endpoint" \
     "($(wc -l <"$WORK/ssh/commands.log") command(s) run there)"

echo "inventory_ngrok: OK"
