#!/usr/bin/env bash
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs the collection playbooks restart_host_agents and restart_tunnel_session (by their FQCN, as an
# operator would), and the role community.ngrok.restart_agents in a play of its own, against local ngrok
# API emulators, and checks each run with verify.yml.
#
# Two lanes run side by side, each against its own emulator, each run after the other within its lane:
# lane a restarts the agents of sessions.json, run after run (their session histories add up); lane b has
# the runs that must fail before anything is sent, then the role's own play (agents of sessions_role.json).
set -eux

WORK=$(mktemp -d)
EMULATOR_PIDS=
cleanup() {
    local pid
    for pid in $EMULATOR_PIDS; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# The emulator: the copy ansible-test makes (needs/file alias), else the collection's own.
EMULATOR=../../../emulator/ngrok_emulator.py
if [[ ! -f "$EMULATOR" ]]; then
    IFS=: read -ra _paths <<<"${ANSIBLE_COLLECTIONS_PATH:-}"
    for _path in "${_paths[@]}"; do
        if [[ -f "$_path/ansible_collections/community/ngrok/tests/emulator/ngrok_emulator.py" ]]; then
            EMULATOR="$_path/ansible_collections/community/ngrok/tests/emulator/ngrok_emulator.py"
            break
        fi
    done
fi
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}
API_KEY=emulator-test-api-key-playbooks
# The modules read the key from the environment themselves; no play copies it into their arguments.
export NGROK_API_KEY="$API_KEY"
unset NGROK_API_URL

# start_emulator LANE SEED_FILE: start an emulator with the agents of SEED_FILE; prints its URL.
start_emulator() {
    "$PYTHON" "$EMULATOR" --port 0 --background --log-file "$WORK/emulator_$1.log" --seed-file "$2" \
        --api-key "$API_KEY" --rate-limit 0 --reconnect-delay 0.2 --idle-timeout 120 > "$WORK/start_$1.json"
    "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/start_$1.json"
}
URL_A=$(start_emulator a sessions.json)
EMULATOR_PIDS="$EMULATOR_PIDS $("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$WORK/start_a.json")"
URL_B=$(start_emulator b sessions_role.json)
EMULATOR_PIDS="$EMULATOR_PIDS $("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$WORK/start_b.json")"

# One-line JSON results, so that verify.yml can read the output of the runs.
export ANSIBLE_CALLBACK_RESULT_FORMAT=json ANSIBLE_CALLBACK_FORMAT_PRETTY=false ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_LOCALHOST_WARNING=false
# The metadata of the agent "jinja" (sessions_role.json, inventory_role.yml) is a Jinja template that would
# create this file if anything evaluated it.
export JINJA_EVALUATED_FILE="$WORK/jinja-evaluated"

# The sequence number of the latest request logged by the emulator at URL $1.
last_seq() {
    "$PYTHON" -c 'import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/requests"))["requests"]
print(max([entry["seq"] for entry in log] or [0]))' "$1"
}

# run LANE NAME ARGS...: run ansible-playbook ARGS against the emulator of LANE; keep its output in
# $WORK/NAME.out, and record its exit status, the range of the emulator's request log it produced, its
# duration, and the file of host variables that record_host_vars.yml writes (if the playbook imports it) in
# $WORK/steps_LANE.yml.
run() {
    local lane=$1 name=$2 rc=0 since url started=$SECONDS
    shift 2
    if [[ "$lane" == a ]]; then url=$URL_A; else url=$URL_B; fi
    since=$(last_seq "$url")
    NGROK_API_URL=$url ansible-playbook -e "ngrok_test_record=$WORK/$name.json" "$@" > "$WORK/$name.out" 2>&1 || rc=$?
    echo "  $name: {lane: $lane, rc: $rc, since: $since, until: $(last_seq "$url"), seconds: $((SECONDS - started)),"\
         "output: '$WORK/$name.out', record: '$WORK/$name.json'}" >> "$WORK/steps_$lane.yml"
}

# Lane a: the agents of sessions.json, restarted run after run.
lane_a() {
    # --check: shows which session each host would restart, restarts nothing: the listing only
    run a check community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web:db --check

    # the real run: web-01, web-03 and db-01 restarted; web-02 (two agents) and web-04 (none) fail
    run a run restart_host_agents_and_record.yml -i inventory.ini -e ngrok_target=web:db

    # a host without an agent is skipped with ngrok_skip_missing=true
    run a skip restart_host_agents_and_record.yml -i inventory.ini -e ngrok_target=web-04 -e ngrok_skip_missing=true

    # ngrok_wait=false: restart without waiting (no polls)
    run a nowait restart_host_agents_and_record.yml -i inventory.ini -e ngrok_target=web-01 -e ngrok_wait=false

    # the single-agent playbook, by metadata: one agent, then two agents with the same metadata
    run a single community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03
    run a single_duplicate community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-02

    # metadata that looks like JSON (a string; ansible-core before 2.19 templates it into a dict), and
    # metadata written as a number (looked up as its text)
    run a json_metadata community.ngrok.restart_tunnel_session -e '{"ngrok_agent_metadata": "{\"host\": \"kiosk-b\"}"}'
    run a numeric_metadata community.ngrok.restart_host_agents -i inventory_numeric.ini -e ngrok_target=all

    # the single-agent playbook by session ID (kiosk-b's current session)
    local kiosk_b
    kiosk_b=$("$PYTHON" -c 'import json, sys, urllib.request
agents = json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/sessions"))["agents"]
print([agent["session_id"] for agent in agents if agent["agent_id"] == "kiosk-b" and agent["state"] == "connected"][0])' \
        "$URL_A")
    run a by_id community.ngrok.restart_tunnel_session -e ngrok_tunnel_session_id="$kiosk_b"
}

# Lane b: runs refused before anything is sent (at most the listing), then the role in a play of its own.
lane_b() {
    # ngrok_target is required, and must match a host
    run b no_target community.ngrok.restart_host_agents -i inventory.ini
    run b no_match community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=no-such-group
    # the same under --limit (as an AWX job's limit), which would skip a play on localhost and its checks
    run b no_target_limit community.ngrok.restart_host_agents -i inventory.ini --limit web-01
    run b no_match_limit community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=db --limit web-01

    # hosts whose metadata is refused, or shared, or refers to an undefined variable: nothing is sent for them
    run b bad_hosts community.ngrok.restart_host_agents -i inventory_bad.yml -e ngrok_target=all
    # the same with ANSIBLE_STRATEGY=free: the play stays linear (one listing for all hosts)
    ANSIBLE_STRATEGY=free run b bad_hosts_free community.ngrok.restart_host_agents -i inventory_bad.yml -e ngrok_target=all

    # the connection options reach the modules (an out-of-range one fails before anything is sent)
    run b options community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-01 -e ngrok_retries=99
    run b single_options community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 -e ngrok_timeout=0
    run b rate_options community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-01 -e ngrok_rate_limit=-1
    run b single_rate_options community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 \
        -e ngrok_rate_limit_window=0

    # the single-agent playbook needs exactly one of ngrok_tunnel_session_id and ngrok_agent_metadata, not empty
    run b single_none community.ngrok.restart_tunnel_session
    run b single_both community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 \
        -e ngrok_tunnel_session_id=ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v
    run b single_empty community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=
    run b single_list community.ngrok.restart_tunnel_session -e '{"ngrok_agent_metadata": ["web-03"]}'

    # a variable whose value refers to an undefined one fails: it never falls back to NGROK_API_KEY; a value
    # of ngrok_wait that is not a boolean fails the role's argument validation, not read as false
    run b key_typo community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 \
        -e '{"ngrok_api_key": "{{ vault_ngrok_api_key_with_a_typo }}"}'
    run b key_typo_hosts community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-03 \
        -e '{"ngrok_api_key": "{{ vault_ngrok_api_key_with_a_typo }}"}'
    run b wait_typo community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-03 -e ngrok_wait=ture

    # the role in a play of its own, with a handler of the play that listens to the role's topic; metadata
    # that is a Jinja template, and metadata that looks like JSON
    # Ansible's default: no handlers for a host that failed after being notified (gone-host). ansible-test sets
    # ANSIBLE_FORCE_HANDLERS=true for its own targets.
    ANSIBLE_FORCE_HANDLERS=false run b role restart_with_role.yml -i inventory_role.yml
}

STARTED=$(date +%s)
lane_b > "$WORK/lane_b.log" 2>&1 &
LANE_B=$!
lane_a
LANE_B_RC=0
wait "$LANE_B" || LANE_B_RC=$?
cat "$WORK/lane_b.log"
[[ "$LANE_B_RC" == 0 ]]
for out in "$WORK"/*.out; do
    echo "=== $out"
    cat "$out"
done
echo "The runs took $(( $(date +%s) - STARTED )) seconds."

{
    echo "emulators: {a: '$URL_A', b: '$URL_B'}"
    echo "jinja_evaluated_file: '$JINJA_EVALUATED_FILE'"
    echo "steps:"
    cat "$WORK/steps_a.yml" "$WORK/steps_b.yml"
} > "$WORK/steps.yml"
cat "$WORK/steps.yml"
ansible-playbook verify.yml -e "@$WORK/steps.yml" "$@"
