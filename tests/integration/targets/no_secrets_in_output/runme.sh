#!/usr/bin/env bash
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Fails if the ngrok API key shows up in anything ansible-playbook prints at -vvvv, or in
# the registered results of community.ngrok.ngrok_tunnel_session_restart, on success and
# failure paths. See playbook.yml and environment_keyword.yml.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/no-secrets.XXXXXX")
EMULATOR_URL=

cleanup() {
    if [[ -n "$EMULATOR_URL" ]]; then
        "$PYTHON" - "$EMULATOR_URL" <<'PY' || true
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/_emulator/shutdown", data=b"{}", method="POST"), timeout=5).read()
PY
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# A distinctive key, new on every run; its random part alone is also searched for, to
# catch a key that was shortened or cut in two.
SECRET_RANDOM=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')
SECRET_KEY="ngrok-secret-KEY-$SECRET_RANDOM"
WRONG_RANDOM=$("$PYTHON" -c 'import secrets; print(secrets.token_hex(16))')
WRONG_KEY="ngrok-secret-WRONG-$WRONG_RANDOM"
NEEDLES=("$SECRET_KEY" "$SECRET_RANDOM" "${SECRET_RANDOM:0:12}" "${SECRET_RANDOM:12:12}" "$WRONG_KEY" "$WRONG_RANDOM")

mask() {
    # print stdin with every needle replaced
    local sed_args=() needle
    for needle in "${NEEDLES[@]}"; do sed_args+=(-e "s/$needle/<SECRET>/g"); done
    sed "${sed_args[@]}"
}

# leaks FILE [IGNORE_REGEX]: print (masked) the lines of FILE that hold a secret and are not
# matched by IGNORE_REGEX; return 0 if there was one.
leaks() {
    local file=$1 ignore=${2:-} pattern found
    pattern=$(IFS='|'; echo "${NEEDLES[*]}")
    if [[ -n "$ignore" ]]; then
        found=$(grep -a -n -E "$pattern" "$file" | grep -a -v -E "$ignore" || true)
    else
        found=$(grep -a -n -E "$pattern" "$file" || true)
    fi
    [[ -z "$found" ]] && return 1
    printf '%s\n' "$found" | mask | cut -c1-400
    return 0
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- 1. prove the check can fail: a file with the key written into it is caught, masked
printf 'harmless line\n"api_key": "%s"\nAuthorization: Bearer %s...\n' "$SECRET_KEY" "${SECRET_KEY:0:30}" > "$WORK/control.txt"
control=$(leaks "$WORK/control.txt") || fail "the leak check did not find the key in a control file that holds it"
[[ $(printf '%s\n' "$control" | wc -l) -eq 2 ]] || fail "the leak check found $(printf '%s\n' "$control" | wc -l) lines in the control file, expected 2"
if printf '%s\n' "$control" | grep -q -F -e "$SECRET_RANDOM" -e "${SECRET_RANDOM:0:12}"; then
    fail "the leak report itself shows the key"
fi
echo "control: the leak check finds the key in a file that holds it (and masks it):"
printf '%s\n' "$control" | sed 's/^/  /'
printf 'harmless line\n' > "$WORK/clean.txt"
! leaks "$WORK/clean.txt" >/dev/null || fail "the leak check reports a file without the key"

# ---- 2. the emulator, with the secret key as its only valid key
EMULATOR=""
for candidate in "$HERE/../../../emulator/ngrok_emulator.py" \
    $(tr ':' '\n' <<<"${ANSIBLE_COLLECTIONS_PATH:-}" | sed -n 's|$|/ansible_collections/community/ngrok/tests/emulator/ngrok_emulator.py|p'); do
    if [[ -f "$candidate" ]]; then EMULATOR=$candidate; break; fi
done
[[ -n "$EMULATOR" ]] || fail "tests/emulator/ngrok_emulator.py not found"
"$PYTHON" "$EMULATOR" --background --port 0 --port-file "$WORK/emulator.json" --log-file "$WORK/emulator.log" \
    --api-key "$SECRET_KEY" --rate-limit 0 --reconnect-delay 0.2 --idle-timeout 120 >/dev/null
EMULATOR_URL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/emulator.json")
echo "emulator: $EMULATOR_URL"

export NGROK_TEST_EMULATOR_URL=$EMULATOR_URL NGROK_TEST_SECRET_KEY=$SECRET_KEY NGROK_TEST_WRONG_KEY=$WRONG_KEY
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

# ---- 3. option, module_defaults and the process environment: the key must appear nowhere
status=0
NGROK_API_KEY=$SECRET_KEY NGROK_TEST_RESULTS_FILE="$WORK/results.json" \
    ansible-playbook -i localhost, -vvvv "$HERE/playbook.yml" >"$WORK/output.txt" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
    mask <"$WORK/output.txt" | tail -n 60
    fail "playbook.yml failed (exit status $status)"
fi
echo "playbook.yml: $(wc -l <"$WORK/output.txt") lines of output at -vvvv"
[[ -s "$WORK/results.json" ]] || fail "no registered results were written"
grep -q '"r_drop_before"' "$WORK/results.json" || fail "the registered results are incomplete"
found=0
if leaks "$WORK/output.txt"; then echo "FAIL: the key is in the output of playbook.yml (lines above)" >&2; found=1; fi
if leaks "$WORK/results.json"; then echo "FAIL: the key is in the registered results of playbook.yml (lines above)" >&2; found=1; fi
[[ $found -eq 0 ]] || exit 1
echo "playbook.yml: the key is in neither the output nor the registered results"

# ---- 4. the environment keyword: only ansible-core's own EXEC lines may show the key
status=0
env -u NGROK_API_KEY NGROK_TEST_RESULTS_FILE="$WORK/results_env.json" \
    ansible-playbook -i localhost, -vvvv "$HERE/environment_keyword.yml" >"$WORK/output_env.txt" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
    mask <"$WORK/output_env.txt" | tail -n 60
    fail "environment_keyword.yml failed (exit status $status)"
fi
found=0
if leaks "$WORK/output_env.txt" "^[0-9]+:<[^>]+> EXEC /bin/sh -c '"; then
    echo "FAIL: the key is in the output of environment_keyword.yml outside ansible-core's EXEC lines" >&2; found=1
fi
if leaks "$WORK/results_env.json"; then
    echo "FAIL: the key is in the registered results of environment_keyword.yml (lines above)" >&2; found=1
fi
[[ $found -eq 0 ]] || exit 1
exec_lines=$(grep -a -c -F "$SECRET_KEY" "$WORK/output_env.txt" || true)
echo "environment_keyword.yml: the key is only in $exec_lines EXEC line(s) that ansible-core prints at -vvv" \
     "for the environment: keyword (not the module's doing)"

echo "no_secrets_in_output: OK"
