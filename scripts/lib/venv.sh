# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Shared by scripts/demo and scripts/bench: a venv (.venv/demo) with ansible-core and requests (what the
# collection needs: its modules run on the controller, by this venv's Python).
# Source it, then call ensure_demo_venv; it sets VENV and puts its bin/ first on PATH.

ensure_demo_venv() {
    local root cand python=""
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    VENV="$root/.venv/demo"
    # pyenv shims fail unless PYENV_VERSION is set, so each candidate is tried.
    for cand in python3.11 python3.12 python3 "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/3.11.7/bin/python"; do
        if "$cand" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1; then
            python=$cand
            break
        fi
    done
    if [ -z "$python" ]; then
        echo "needs Python 3.10 or newer" >&2
        return 1
    fi
    if [ ! -x "$VENV/bin/ansible-playbook" ]; then
        "$python" -m venv "$VENV" &&
            "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'ansible-core>=2.16,<2.20' requests ||
            return 1
    fi
    # a venv made before the modules needed requests gets it now
    if ! "$VENV/bin/python" -c 'import requests' >/dev/null 2>&1; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check requests || return 1
    fi
    export PATH="$VENV/bin:$PATH"
}
