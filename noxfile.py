# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Test sessions for community.ngrok, run through antsibull-nox.

Do not call nox directly in CI: use ``scripts/test``, which creates the tool
venv, puts the right Python interpreters on PATH and prints the summary line.

The sessions configured in ``antsibull-nox.toml`` (lint, docs-check,
extra-checks, build-import-check) are added by ``load_antsibull_nox_toml()``.
The ansible-test sessions are added here because antsibull-nox's own
ansible-test sessions hard-code ``--docker`` and a GitHub download of
ansible-core, neither of which is available on our CI machines.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nox
import yaml

try:
    import antsibull_nox
except ImportError:
    print("You need to install antsibull-nox in the same Python environment as nox.")
    sys.exit(1)


antsibull_nox.load_antsibull_nox_toml()

ROOT = Path(__file__).resolve().parent

TEST_KINDS = ("sanity", "units", "integration")

# The ansible-core versions to test against: (ansible-core, Python, kinds).
# Python is used both for the nox session venv (the ansible-test controller)
# and for ``ansible-test --venv --python``; scripts/test puts python3.X for
# each listed version on PATH (2.21 needs Python >= 3.12: pyenv's 3.12.1).
# Sanity and units run on every ansible-core from the oldest that
# meta/runtime.yml's requires_ansible admits to the newest; integration on the
# oldest, a middle one and the newest. The Pythons vary so that each of 3.11,
# 3.12 and 3.13 runs the suite. The first entry's integration session is the
# canary run (see CANARY_ENV). Add, remove or trim entries to change the
# matrix. The environment variable
# ANSIBLE_CORE_MATRIX="2.19:3.11,2.21:3.12:sanity+units" overrides this list.
DEFAULT_MATRIX = [
    ("2.19", "3.11", TEST_KINDS),
    ("2.16", "3.11", TEST_KINDS),
    ("2.21", "3.12", TEST_KINDS),
    ("2.17", "3.12", ("sanity", "units")),
    ("2.18", "3.13", ("sanity", "units")),
    ("2.20", "3.13", ("sanity", "units")),
]


# Text of the pip bootstrap stand-in (see _write_pip_bootstrap_stand_in).
PIP_BOOTSTRAP_STAND_IN = '''\
"""Offline stand-in for the get-pip.py script that ansible-test downloads.

Written by community.ngrok's noxfile.py. ansible-test creates its venvs
without pip, then runs this file as a script with pip install arguments.
"""
import subprocess
import sys

ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *ARGS]))
'''


def _parse_matrix() -> list[tuple[str, str, tuple[str, ...]]]:
    value = os.environ.get("ANSIBLE_CORE_MATRIX")
    if not value:
        return DEFAULT_MATRIX
    result = []
    for entry in value.split(","):
        parts = entry.strip().split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"ANSIBLE_CORE_MATRIX entry {entry!r} is not CORE:PYTHON[:KIND+KIND]")
        kinds = tuple(parts[2].split("+")) if len(parts) == 3 else TEST_KINDS
        unknown = set(kinds) - set(TEST_KINDS)
        if unknown:
            raise ValueError(f"ANSIBLE_CORE_MATRIX entry {entry!r}: unknown kinds {sorted(unknown)}")
        result.append((parts[0], parts[1], kinds))
    return result


def _normalize_env_name(name: str) -> str:
    """Same normalization nox applies to a session name to get its venv dir."""
    name = re.sub(r"[^\w\s-]", "-", name).strip().lower()
    return re.sub(r"[-\s]+", "-", name).strip("-")


def _find_pip_pins(session_name: str) -> set[str]:
    """Return the pip versions pinned by the ansible-test installed for a session."""
    envdir_prefix = _normalize_env_name(session_name)
    candidates = sorted(
        (ROOT / ".nox").glob(
            f"{envdir_prefix}*/lib/python*/site-packages/ansible_test/_internal/python_requirements.py"
        )
    )
    if not candidates:
        raise RuntimeError(f"ansible-test not found in the venv of session {session_name}")
    pins: set[str] = set()
    for candidate in candidates:
        text = candidate.read_text(encoding="utf-8")
        # default_packages = dict(pip='24.2', ...) plus per-Python overrides
        pins.update(re.findall(r"""\bpip\s*=\s*['"]([0-9][0-9.]*)['"]""", text))
        pins.update(re.findall(r"""['"]pip['"]\s*:\s*['"]([0-9][0-9.]*)['"]""", text))
    if not pins:
        raise RuntimeError(f"no pip pin found in {candidates}")
    return pins


def _write_pip_bootstrap_stand_in(session_name: str) -> None:
    """Place get_pip_X_Y_Z.py where ansible-test looks before downloading it.

    ansible-test --venv bootstraps pip with a script it downloads from
    ci-files.testing.ansible.com, which CI cannot reach. The cache file lets it
    skip the download.
    """
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for pin in sorted(_find_pip_pins(session_name)):
        path = cache / f"get_pip_{pin.replace('.', '_')}.py"
        if not path.exists() or path.read_text(encoding="utf-8") != PIP_BOOTSTRAP_STAND_IN:
            path.write_text(PIP_BOOTSTRAP_STAND_IN, encoding="utf-8")
        print(f"pip bootstrap stand-in for pip {pin}: {path}", flush=True)


def _before_ansible_test(session_name: str, canary: bool) -> None:
    _write_pip_bootstrap_stand_in(session_name)
    if canary:
        _write_canary_config()


def _remove_test_output_tmp() -> None:
    # antsibull-nox 1.10 crashes while copying tests/output/.tmp back after a
    # passing --venv run; the callback runs in the collection copy's root.
    shutil.rmtree(Path.cwd() / "tests" / "output" / ".tmp", ignore_errors=True)


#: scripts/test sets this to a random API key. The integration session of the first matrix entry then
#: runs the whole suite at -vvvv with that key as the emulator's (tests/integration/integration_config.yml),
#: and scripts/test fails it if the key shows up anywhere in the output.
CANARY_ENV = "NGROK_SECRET_CANARY"


def _write_canary_config() -> None:
    canary = os.environ.get(CANARY_ENV)
    if not canary:
        return
    # In the collection copy's root (callbacks run there); ansible-test passes this file as extra vars.
    (Path.cwd() / "tests" / "integration" / "integration_config.yml").write_text(
        "---\n# Written by noxfile.py for this run: the API key must never appear in the -vvvv output.\n"
        f"ngrok_test_api_key: {canary}\nngrok_expect_canary: true\n", encoding="utf-8")


def _add_ansible_test_sessions() -> None:
    matrix = _parse_matrix()
    for core, python, kinds in matrix:
        for kind in kinds:
            name = f"ansible-test-{kind}-{core}"
            params = [kind, "--venv", "--python", python, "-v"]
            if kind != "sanity":
                # tests/unit/requirements.txt, tests/integration/requirements.txt: requests (the modules'
                # runtime requirement) and the unit tests' tools
                params.insert(1, "--requirements")
            canary = kind == "integration" and core == matrix[0][0] and bool(os.environ.get(CANARY_ENV))
            if canary:
                params[-1] = "-vvvv"
            antsibull_nox.add_ansible_test_session(
                name=name,
                description=f"ansible-test {kind} with ansible-core {core} (Python {python}, --venv)",
                ansible_test_params=params,
                default=True,
                ansible_core_version=core,
                ansible_core_source="pypi",
                handle_coverage="never",
                callback_before=lambda name=name, canary=canary: _before_ansible_test(name, canary),
                callback_after=_remove_test_output_tmp,
            )
            # antsibull-nox gives the session a Python range; pin the exact
            # interpreter so the controller and --python agree.
            nox.registry.get()[name].python = python


_add_ansible_test_sessions()

# Sessions of our own. They run a released ansible-core from PyPI in the session venv; the
# collection is built from this checkout.
CORE_FOR_TOOLS = "ansible-core>=2.19,<2.20"


@nox.session(python="3.11", default=True)
def fleet(session: nox.Session) -> None:
    """300 hosts, 20 forks, restart with wait, the modules pacing to the limit, which counts rejected requests too
    (as strict as ngrok may be): every agent restarted exactly once and back, at most 1.2 requests per agent, at most
    1% rejected (benchmarks/fleet.py). Twice: under ngrok's own limit (120 requests per rolling 60 s), whose wall
    time against the floor is the figure of the README; then at the same rate in windows of 5 s (10 requests), which
    allow no burst and test the pacing's spacing hardest."""
    session.install(CORE_FOR_TOOLS, "requests")
    for limit, window in (("120", "60"), ("10", "5")):
        session.run("python", "benchmarks/fleet.py", "--hosts", "300", "--forks", "20", "--wait",
                    "--rate-limit", limit, "--rate-window", window, "--rate-count-rejected")


def _install_built_collection(session: nox.Session) -> str:
    """Build this checkout and install the tarball; return the collections path."""
    tmp = Path(session.create_tmp()).resolve()
    build = tmp / "build"
    shutil.rmtree(build, ignore_errors=True)
    session.run("ansible-galaxy", "collection", "build", "--output-path", str(build), str(ROOT), silent=True)
    tarball = next(build.glob("community-ngrok-*.tar.gz"))
    collections = tmp / "collections"
    shutil.rmtree(collections, ignore_errors=True)
    session.run("ansible-galaxy", "collection", "install", "--force", "-p", str(collections), str(tarball),
                silent=True)
    return str(collections)


#: The oldest Python the modules support on the machine that runs them (ansible-test runs them on the
#: matrix's 3.11 and 3.12 only); scripts/test puts python3.X for it on PATH.
MODULE_PYTHON = "3.9"
#: The fault-matrix cases run there: the transport's odd answers, on the restart and info modules.
MODULE_PYTHON_FAULTS = ("^(restart|info)_(drop_|read_timeout|slow_|big_body|non_json|json_200|connection_refused|html_|"
                        "empty_error|503_post_applied|429_retry_after)")


def _module_python_interpreters(session: nox.Session, interpreter: str) -> tuple[str, str]:
    """Return (a Python MODULE_PYTHON venv with requests, a Python MODULE_PYTHON without requests)."""
    tmp = Path(session.create_tmp()).resolve()
    venv = tmp / ("python%s-requests" % MODULE_PYTHON)
    python = str(venv / "bin" / "python")
    if not os.path.exists(python):
        session.run(interpreter, "-m", "venv", "--clear", str(venv), external=True, silent=True)
    # a no-op when requests is there already (the session's tmp dir is kept between runs)
    session.run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "requests",
                external=True)
    bare = interpreter
    if _can_import(interpreter, "requests"):
        # this Python has requests of its own: a venv of it without pip or site-packages has not
        bare_venv = tmp / ("python%s-bare" % MODULE_PYTHON)
        session.run(interpreter, "-I", "-m", "venv", "--clear", "--without-pip", str(bare_venv), external=True,
                    silent=True)
        bare = str(bare_venv / "bin" / "python")
        if _can_import(bare, "requests"):
            session.error("%s (a venv without site-packages) still imports requests: no bare Python %s to test "
                          "the missing-requests failure with" % (bare, MODULE_PYTHON))
    return python, bare


def _can_import(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", "import " + module], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode == 0


@nox.session(python="3.11", default=True, name="module-python")
def module_python(session: nox.Session) -> None:
    """The modules run by Python 3.9 (the oldest supported) against the emulator (tests/module_python).

    They run in a Python 3.9 venv with requests (module_python_interpreter); one play runs a module by the
    bare Python 3.9, without requests (module_python_bare_interpreter), and expects the missing-library failure.
    """
    session.install(CORE_FOR_TOOLS)
    interpreter = shutil.which("python" + MODULE_PYTHON)
    if not interpreter:
        session.error("python%s not found: install Python %s (scripts/test looks in pyenv and on PATH)"
                      % (MODULE_PYTHON, MODULE_PYTHON))
    with_requests, bare = _module_python_interpreters(session, interpreter)
    env = {"ANSIBLE_COLLECTIONS_PATH": _install_built_collection(session),
           "ANSIBLE_ROLES_PATH": str(ROOT / "tests" / "integration" / "targets")}
    # Not -e ansible_python_interpreter: extra vars would override the play that runs the bare Python.
    session.run("ansible-playbook", "-i", "localhost,", "-c", "local", "tests/module_python/playbook.yml",
                "-e", "module_python_interpreter=" + with_requests, "-e", "module_python_bare_interpreter=" + bare,
                "-e", "module_python_version=" + MODULE_PYTHON, "-e", "fault_matrix_only=" + MODULE_PYTHON_FAULTS,
                env=env)


@nox.session(python="3.11", default=True)
def awx(session: nox.Session) -> None:
    """The AWX path: credential type, ansible-runner job, ansible-builder (tests/awx/awx_check.py)."""
    session.install(CORE_FOR_TOOLS, "requests", "ansible-runner", "ansible-builder")
    session.run("python", "tests/awx/awx_check.py", "--collections-path", _install_built_collection(session))


# ---- The live test against the real ngrok API (README.md: "Testing against the real ngrok API").
# The integration target tests/integration/targets/live_ngrok_api is disabled, so that no default run contacts ngrok.
# `live` (not a default session) runs it with ansible-test against the real API; `live-target-dry-run` (a default
# session) runs it against the local emulator, and checks the requests it costs there.

LIVE_TARGET = "live_ngrok_api"
LIVE_CORE = "2.19"
LIVE_PYTHON = "3.11"
#: The settings that name the disposable agent: at least one.
LIVE_AGENT_SETTINGS = ("NGROK_LIVE_METADATA", "NGROK_LIVE_TUNNEL_SESSION_ID")
#: The key in integration_config.yml of each setting: ansible-test passes a target no environment variables, so the
#: target's runme.sh reads them there. The API key is not among them: the file holds the name of a file that holds it.
LIVE_CONFIG_KEYS = {
    "NGROK_API_URL": "ngrok_live_api_url",
    "NGROK_LIVE_METADATA": "ngrok_live_metadata",
    "NGROK_LIVE_TUNNEL_SESSION_ID": "ngrok_live_tunnel_session_id",
    "NGROK_LIVE_ALLOW_RESTART": "ngrok_live_allow_restart",
}


def _live_problem(env) -> str | None:
    """Why the live test cannot run with these settings, or None. Checked before anything is sent."""
    missing = []
    if not env.get("NGROK_API_KEY"):
        missing.append("NGROK_API_KEY (an API key of the account of a disposable agent)")
    if not any(env.get(name) for name in LIVE_AGENT_SETTINGS):
        missing.append("NGROK_LIVE_METADATA (the metadata of that agent) or NGROK_LIVE_TUNNEL_SESSION_ID")
    problems = ["set " + " and ".join(missing)] if missing else []
    allow = env.get("NGROK_LIVE_ALLOW_RESTART", "")
    if allow not in ("", "yes", "no"):
        problems.append("NGROK_LIVE_ALLOW_RESTART must be yes (restart that agent) or no (read-only), not %r" % allow)
    if not problems:
        return None
    return ("The live session talks to the real ngrok API: %s. See README.md, 'Testing against the real ngrok API'. "
            "Nothing was sent" % "; ".join(problems))


def _write_live_config(path: Path, env, key_file: Path | None) -> None:
    """The live target's integration_config.yml: its settings, and the name of the file that holds the key."""
    values = {"ngrok_live_api_key_file": str(key_file) if key_file else ""}
    values.update({key: env.get(name, "") for name, key in LIVE_CONFIG_KEYS.items()})
    lines = ["---", "# Written by noxfile.py for the live_ngrok_api target (its runme.sh reads it)."]
    lines += ["%s: %s" % (key, json.dumps(value)) for key, value in values.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _key_pipe(directory: Path, key: str) -> Iterator[Path]:
    """A named pipe, only its owner can open it, that hands ``key`` to the first process that reads it.

    The key goes through the kernel from this process to the target's runme.sh: it is never written to disk. The pipe
    is removed on leaving; if nothing read it, the thread that feeds it is released first.
    """
    path = directory / ("api-key-%s" % secrets.token_hex(4))
    os.mkfifo(path, 0o600)

    def feed() -> None:
        try:
            with open(path, "w", encoding="utf-8") as pipe:  # waits until a reader opens the pipe
                pipe.write(key)
        except OSError:
            pass  # the reader went away (released below)

    feeder = threading.Thread(target=feed, name="ngrok-key-pipe", daemon=True)
    feeder.start()
    try:
        yield path
    finally:
        if feeder.is_alive():
            # Nothing read the key: open the pipe here so that the feeder's open returns, and drop what it writes.
            unread = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            feeder.join(10)
            os.close(unread)
        path.unlink()


#: The key pipe of the `live` run under way: its wrapper makes it (and removes it, whatever happens), and
#: _before_live() names it in the integration_config.yml of the collection copy that ansible-test runs in.
_LIVE_KEY_FILE: list[Path] = []


def _before_live() -> None:
    _write_pip_bootstrap_stand_in("live")
    # In the collection copy's root (callbacks run there); ansible-test copies the file next to the targets.
    _write_live_config(Path.cwd() / "tests" / "integration" / "integration_config.yml", os.environ, _LIVE_KEY_FILE[0])


def _add_live_session() -> None:
    antsibull_nox.add_ansible_test_session(
        name="live",
        description=("The live test against the REAL ngrok API, not run by default (README.md: 'Testing against the "
                     "real ngrok API'): ansible-test integration %s with ansible-core %s. Needs NGROK_API_KEY and "
                     "NGROK_LIVE_METADATA or NGROK_LIVE_TUNNEL_SESSION_ID (a disposable agent); read-only unless "
                     "NGROK_LIVE_ALLOW_RESTART=yes." % (LIVE_TARGET, LIVE_CORE)),
        ansible_test_params=["integration", "--requirements", "--venv", "--python", LIVE_PYTHON, "-v",
                             "--allow-disabled", LIVE_TARGET],
        add_posargs=False,
        default=False,
        ansible_core_version=LIVE_CORE,
        ansible_core_source="pypi",
        handle_coverage="never",
        callback_before=_before_live,
        callback_after=_remove_test_output_tmp,
    )
    registered = nox.registry.get()["live"]
    registered.python = LIVE_PYTHON
    run_ansible_test = registered.func

    def live(session: nox.Session) -> None:
        # Before anything is installed or sent.
        problem = _live_problem(os.environ)
        if problem:
            session.error(problem)
        key_dir = Path(tempfile.mkdtemp(prefix="ngrok-live-"))  # only its owner can enter it
        try:
            with _key_pipe(key_dir, os.environ["NGROK_API_KEY"]) as pipe:
                _LIVE_KEY_FILE[:] = [pipe]
                run_ansible_test(session)
        finally:
            _LIVE_KEY_FILE.clear()
            shutil.rmtree(key_dir, ignore_errors=True)

    registered.func = live


_add_live_session()

#: The agents of the emulator in the dry run (host-001 to host-005; no endpoints).
LIVE_DRY_RUN_AGENTS = 5


def _live_read_only_requests(agents: int, endpoints: int, with_metadata: bool) -> int:
    """What the live target's read-only run costs (README.md: "Testing against the real ngrok API"), retries aside:
    7 + 2 when the agent has metadata + min(agents, 3) + one per 100 agents + one per 100 endpoints (an empty list is
    one request too). With fewer than 3 agents, ngrok may cost one more (a next_page_uri to an empty last page)."""
    def pages(count: int) -> int:
        return max(1, math.ceil(count / 100))
    return 7 + (2 if with_metadata else 0) + min(agents, 3) + pages(agents) + pages(endpoints)


def _emulator_call(url: str, path: str, method: str = "GET", body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"} if data is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data, method=method, headers=headers),
                                timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


@nox.session(python="3.11", default=True, name="live-target-dry-run")
def live_target_dry_run(session: nox.Session) -> None:
    """The live test's target against the local emulator instead of ngrok, run the way `live` runs it (runme.sh, with
    its settings in integration_config.yml): no agent named or no key, it fails before sending any request; read-only,
    it passes with exactly the requests README.md states; with NGROK_LIVE_ALLOW_RESTART=yes it passes with one
    restart POST."""
    session.install(CORE_FOR_TOOLS, "requests")
    # Nothing of the caller's environment: not their key, not their API URL, not their agent.
    env = {name: "" for name in ("NGROK_API_KEY", *LIVE_CONFIG_KEYS)}
    env["ANSIBLE_COLLECTIONS_PATH"] = _install_built_collection(session)
    work = Path(session.create_tmp()).resolve() / "live-dry-run"
    shutil.rmtree(work, ignore_errors=True)
    integration = work / "tests" / "integration"  # laid out as ansible-test lays out its temporary copy
    target = integration / "targets" / LIVE_TARGET
    shutil.copytree(ROOT / "tests" / "integration" / "targets" / LIVE_TARGET, target)
    # The run's canary key when scripts/test set one: scripts/test fails the session if it shows up in the output.
    # The emulator reads it from a file (a test key); the target gets it through a pipe, as in the live session.
    key = os.environ.get(CANARY_ENV) or "ngrok-dry-run-" + secrets.token_hex(16)
    key_file = work / "emulator-api-key"
    key_file.write_text(key, encoding="utf-8")
    started = session.run("python", str(ROOT / "tests" / "emulator" / "ngrok_emulator.py"), "--background",
                          "--port", "0", "--port-file", str(work / "emulator.json"),
                          "--log-file", str(work / "emulator.log"), "--api-key-file", str(key_file),
                          "--agents", str(LIVE_DRY_RUN_AGENTS), "--reconnect-delay", "0.5",
                          "--idle-timeout", "120", "--max-lifetime", "600", silent=True)
    url = json.loads((started or "").strip().splitlines()[-1])["url"]

    def run_target(title: str, settings: dict, with_key: bool = True, expect_failure: str = "") -> list:
        """Run the target as ansible-test would; return the API requests the emulator received."""
        _emulator_call(url, "/_emulator/requests", "DELETE")
        session.log("dry run, %s: %s" % (title, settings or "no NGROK_LIVE_* settings"))
        with _key_pipe(work, key) as pipe, session.chdir(target):
            _write_live_config(integration / "integration_config.yml", {"NGROK_API_URL": url, **settings},
                               pipe if with_key else None)
            output = session.run("./runme.sh", "-v", env=env, external=True, silent=True,
                                 success_codes=[1] if expect_failure else [0]) or ""
        print(output, flush=True)
        if expect_failure and expect_failure not in output:
            session.error("dry run, %s: it failed, but without saying %r" % (title, expect_failure))
        return _emulator_call(url, "/_emulator/requests")["requests"]

    try:
        read_only = _live_read_only_requests(LIVE_DRY_RUN_AGENTS, 0, with_metadata=True)
        for title, settings, with_key, message in (
                ("no agent named", {}, True, "no agent named"),
                ("no API key", {"NGROK_LIVE_METADATA": "host-003"}, False, "no API key")):
            sent = run_target(title, settings, with_key, expect_failure=message)
            if sent:
                session.error("dry run, %s: it sent %d request(s) before failing, expected none" % (title, len(sent)))

        sent = run_target("read-only", {"NGROK_LIVE_METADATA": "host-003"})
        posts = [entry for entry in sent if entry["method"] != "GET"]
        if posts or len(sent) != read_only:
            session.error("dry run, read-only: %d requests (%d not GET), README.md says %d (all GET)"
                          % (len(sent), len(posts), read_only))

        agents = _emulator_call(url, "/_emulator/sessions")["agents"]
        old_id = next(agent["session_id"] for agent in agents if agent.get("metadata") == "host-003")
        sent = run_target("restart", {"NGROK_LIVE_TUNNEL_SESSION_ID": old_id, "NGROK_LIVE_ALLOW_RESTART": "yes"})
        posts = [entry for entry in sent if entry["method"] != "GET"]
        polls = [entry for entry in sent if "obj.id != " in (entry["query"].get("filter") or [""])[0]]
        expected = read_only + 4 + len(polls)
        if [(entry["method"], entry["path"]) for entry in posts] != [("POST", "/tunnel_sessions/%s/restart" % old_id)]:
            session.error("dry run, restart: expected exactly one POST /tunnel_sessions/%s/restart, got %s"
                          % (old_id, [(entry["method"], entry["path"]) for entry in posts]))
        if not polls or len(sent) != expected:
            session.error("dry run, restart: %d requests with %d poll(s), README.md says %d + 4 + polls = %d"
                          % (len(sent), len(polls), read_only, expected))
        agents = _emulator_call(url, "/_emulator/sessions")["agents"]
        history = next(agent["history"] for agent in agents if agent.get("metadata") == "host-003")
        if len(history) != 2 or history[0] != old_id:
            session.error("dry run, restart: host-003's sessions are %s, expected %s and one new" % (history, old_id))
        session.log("dry run: without an agent or a key it failed before any request; read-only it sent %d requests "
                    "(README.md: %d); with the restart %d, one of them the restart POST (%d wait poll(s))"
                    % (read_only, read_only, len(sent), len(polls)))
    finally:
        try:
            _emulator_call(url, "/_emulator/shutdown", "POST", {})
        except OSError:
            pass  # it ends by itself (--idle-timeout, --max-lifetime)


#: The changelog tools, pinned, that scripts/release uses too (antsibull-changelog, and ansible-core for its ansible-doc).
RELEASE_REQUIREMENTS = "scripts/lib/release-requirements.txt"


@nox.session(python="3.11", default=True)
def changelog(session: nox.Session) -> None:
    """antsibull-changelog (the version scripts/release uses): fragments lint clean, and CHANGELOG.rst and
    CHANGELOG.md are what changelogs/changelog.yaml generates."""
    session.install("-r", RELEASE_REQUIREMENTS)
    session.run("antsibull-changelog", "lint")
    changes = yaml.safe_load(Path("changelogs/changelog.yaml").read_text(encoding="utf-8")) or {}
    if not changes.get("releases"):
        # Before the first release there is nothing to generate (antsibull-changelog refuses to), and no changelog.
        present = [name for name in ("CHANGELOG.rst", "CHANGELOG.md") if Path(name).exists()]
        if present:
            session.error("%s describes no release of changelogs/changelog.yaml: remove it" % " and ".join(present))
        session.log("No release yet: CHANGELOG.rst and CHANGELOG.md come with the first (scripts/release)")
        return
    files = ("CHANGELOG.rst", "CHANGELOG.md", "changelogs/changelog.yaml")
    before = {name: Path(name).read_bytes() if Path(name).exists() else None for name in files}
    session.run("antsibull-changelog", "generate")
    stale = [name for name in files if Path(name).read_bytes() != before[name]]
    for name in stale:  # leave the checkout as it was
        if before[name] is None:
            Path(name).unlink()
        else:
            Path(name).write_bytes(before[name])
    if stale:
        session.error("%s is stale or missing: run `antsibull-changelog generate` (pip install -r %s) and commit the "
                      "result" % (" and ".join(stale), RELEASE_REQUIREMENTS))


#: Where docs-build writes the docsite (under tests/output: gitignored, and not in the built collection).
DOCSITE_DIR = ROOT / "tests" / "output" / "docsite"


def _expected_docsite_pages() -> list[str]:
    """The HTML pages the docsite must have: each guide, module, inventory plugin and role of the collection."""
    pages = ["docsite/%s.html" % rst.stem for rst in sorted((ROOT / "docs" / "docsite" / "rst").glob("*.rst"))]
    pages += ["%s_module.html" % path.stem for path in sorted((ROOT / "plugins" / "modules").glob("*.py"))]
    pages += ["%s_inventory.html" % path.stem for path in sorted((ROOT / "plugins" / "inventory").glob("*.py"))
              if path.stem != "__init__"]
    pages += ["%s_role.html" % path.name for path in sorted((ROOT / "roles").iterdir()) if path.is_dir()]
    return pages


#: Sphinx warnings that only say that a reference to the docs of Python, Jinja or Ansible itself did not resolve:
#: conf.py takes those from their sites (intersphinx), which an offline machine cannot reach. Any other warning
#: (broken RST, a reference to a page or label of this collection that does not exist) fails docs-build.
SPHINX_OFFLINE_WARNINGS = re.compile(
    r"WARNING: (failed to reach any of the inventories .*"
    r"|(undefined label: '(?!ansible_collections\.community\.ngrok\.)[^']*'"
    r"|'envvar' reference target not found: ANSIBLE_\w+)( \[[\w.]+\])?)$")


def _sphinx_problems(output: str) -> list[str]:
    """The warnings and errors of a Sphinx build's output, but for those of SPHINX_OFFLINE_WARNINGS."""
    return [line for line in output.splitlines()
            if re.search(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b", line) and not SPHINX_OFFLINE_WARNINGS.search(line)]


@nox.session(python="3.11", default=True, name="docs-build")
def docs_build(session: nox.Session) -> None:
    """The HTML docsite, as Galaxy and docs.ansible.com build it (antsibull-docs sphinx-init, then its build.sh):
    the guides of docs/docsite/rst and a page per module, plugin and role. Any Sphinx warning fails it (broken RST,
    a reference to nothing), but for references to Python's, Jinja's and Ansible's own docs, which need their
    sites. Writes tests/output/docsite/build/html/index.html."""
    session.install(CORE_FOR_TOOLS, "antsibull-docs")
    # ansible-doc (which antsibull-docs runs) finds the collection built from this checkout, and only that copy.
    env = {"ANSIBLE_COLLECTIONS_PATH": _install_built_collection(session)}
    shutil.rmtree(DOCSITE_DIR, ignore_errors=True)
    DOCSITE_DIR.mkdir(parents=True)
    DOCSITE_DIR.chmod(0o755)  # sphinx-init wants a folder only its owner can write to
    # --lenient: build.sh does not pass -W to Sphinx; _sphinx_problems() decides which warnings fail.
    session.run("antsibull-docs", "sphinx-init", "--use-current", "--lenient", "--fail-on-error", "--dest-dir",
                str(DOCSITE_DIR), "community.ngrok", env=env)
    session.install("-r", str(DOCSITE_DIR / "requirements.txt"))
    with session.chdir(DOCSITE_DIR):
        output = session.run("./build.sh", env=env, external=True, silent=True) or ""
    print(output, flush=True)
    problems = _sphinx_problems(output)
    if problems:
        session.error("Sphinx warned:\n%s" % "\n".join(problems))
    html = DOCSITE_DIR / "build" / "html" / "collections" / "community" / "ngrok"
    missing = [page for page in _expected_docsite_pages() if not (html / page).is_file()]
    if missing:
        session.error("The docsite has no page %s (in %s)" % (", ".join(missing), html))
    session.log("The docsite: %s" % (DOCSITE_DIR / "build" / "html" / "index.html"))


# Allow running ``python noxfile.py`` as well as ``nox``.
if __name__ == "__main__":
    nox.main()
