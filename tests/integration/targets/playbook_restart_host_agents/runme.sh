#!/usr/bin/env bash
# Runs the collection playbooks restart_host_agents and restart_tunnel_session (by their FQCN,
# as an operator would) against the local ngrok API emulator, and checks each run with verify.yml.
set -eux

WORK=$(mktemp -d)
EMULATOR_PID=
cleanup() {
    if [[ -n "$EMULATOR_PID" ]]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
    fi
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

"$PYTHON" "$EMULATOR" --port 0 --background --port-file "$WORK/emulator.json" --log-file "$WORK/emulator.log" \
    --api-key "$API_KEY" --rate-limit 0 --reconnect-delay 0.2 --idle-timeout 60 > "$WORK/start.json"
EMULATOR_PID=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["pid"])' "$WORK/start.json")
NGROK_API_URL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/start.json")
export NGROK_API_URL NGROK_API_KEY="$API_KEY"

# One-line JSON results, so that verify.yml can read the output of the runs.
export ANSIBLE_CALLBACK_RESULT_FORMAT=json ANSIBLE_CALLBACK_FORMAT_PRETTY=false ANSIBLE_NOCOLOR=1
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_DEPRECATION_WARNINGS=false ANSIBLE_LOCALHOST_WARNING=false

# The sequence number of the emulator's latest logged request.
last_seq() {
    "$PYTHON" -c 'import json, sys, urllib.request
log = json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/requests"))["requests"]
print(max([entry["seq"] for entry in log] or [0]))' "$NGROK_API_URL"
}

# run NAME ARGS...: run ansible-playbook ARGS; keep its output in $WORK/NAME.out, and record its exit
# status and the range of the emulator's request log it produced in $WORK/steps.yml for verify.yml.
echo "steps:" > "$WORK/steps.yml"
run() {
    local name=$1 rc=0 since
    shift
    since=$(last_seq)
    ansible-playbook "$@" > "$WORK/$name.out" 2>&1 || rc=$?
    cat "$WORK/$name.out"
    echo "  $name: {rc: $rc, since: $since, until: $(last_seq), output: '$WORK/$name.out'}" >> "$WORK/steps.yml"
}

ansible-playbook seed.yml "$@"

# --check: shows which session each host would restart, restarts nothing
run check community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web:db --check

# the real run: web-01, web-03 and db-01 restarted; web-02 (two agents) and web-04 (none) fail
run run community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web:db

# a host without an agent is skipped with ngrok_skip_missing=true
run skip community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-04 -e ngrok_skip_missing=true

# ngrok_wait=false: restart without waiting (no polls)
run nowait community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-01 -e ngrok_wait=false

# the single-agent playbook, by metadata: one agent, then two agents with the same metadata
run single community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03
run single_duplicate community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-02

# refused before anything is sent: empty metadata (null, "", omit)
run bad_hosts community.ngrok.restart_host_agents -i inventory_bad.yml
# the same with ANSIBLE_STRATEGY=free: the play stays linear, which the check across hosts needs
ANSIBLE_STRATEGY=free run bad_hosts_free community.ngrok.restart_host_agents -i inventory_bad.yml

# the connection options reach the modules (an out-of-range one fails before anything is sent)
run options community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-01 -e ngrok_retries=99
run single_options community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 -e ngrok_timeout=0
run rate_options community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-01 -e ngrok_rate_limit=-1
run single_rate_options community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 \
    -e ngrok_rate_limit_window=0

# an empty ngrok_agent_metadata is not "given"; one that is not a string is refused as such
run single_empty community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=
run single_list community.ngrok.restart_tunnel_session -e '{"ngrok_agent_metadata": ["web-03"]}'

# metadata that looks like JSON stays a string (ansible-core 2.16 made it a dict); a number is its text
run json_metadata community.ngrok.restart_tunnel_session -e '{"ngrok_agent_metadata": "{\"host\": \"kiosk-b\"}"}'
run numeric_metadata community.ngrok.restart_host_agents -i inventory_numeric.ini

# the single-agent playbook by session ID (kiosk-b's current session, after its restart above)
KIOSK_B=$("$PYTHON" -c 'import json, sys, urllib.request
agents = json.load(urllib.request.urlopen(sys.argv[1] + "/_emulator/sessions"))["agents"]
print([agent["session_id"] for agent in agents if agent["agent_id"] == "kiosk-b" and agent["state"] == "connected"][0])' \
    "$NGROK_API_URL")
run by_id community.ngrok.restart_tunnel_session -e ngrok_tunnel_session_id="$KIOSK_B"

# a variable whose value refers to an undefined one fails: it never falls back to NGROK_API_KEY, and a
# value that is not a boolean or a number is refused by the module, not read as false or 0
run key_typo community.ngrok.restart_tunnel_session -e ngrok_agent_metadata=web-03 \
    -e '{"ngrok_api_key": "{{ vault_ngrok_api_key_with_a_typo }}"}'
run wait_typo community.ngrok.restart_host_agents -i inventory.ini -e ngrok_target=web-03 -e ngrok_wait=ture

cat "$WORK/steps.yml"
ansible-playbook verify.yml -e "@$WORK/steps.yml" "$@"
