# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run community.ngrok the way AWX runs it, against the local emulator.

    python tests/awx/awx_check.py --collections-path DIR

DIR holds ``ansible_collections/community/ngrok`` (the built collection,
installed), as an execution environment would. Needs ansible-core,
ansible-runner and ansible-builder on PATH / importable.

Checks, each printed as PASS/FAIL, then ``N passed, N failed``:
1. the AWX credential type (docs/awx/credential_type.yml) renders to the
   environment variables the modules read, with and without the API URL;
2. ansible-runner runs a job like an AWX job template: a project playbook that
   imports ``community.ngrok.restart_host_agents``, with the collection in the
   project's ``collections/`` folder (the README's route), an inventory, extra vars,
   and the credential injected as env vars (``env/envvars``); the job is
   successful and the emulator saw exactly one restart per host;
3. the API key appears nowhere in the job's stdout, events or artifacts;
4. an inventory source "Sourced from a Project": ansible-runner runs
   ``ansible-inventory -i PROJECT/kiosks.ngrok.yml --list --export --output FILE
   --playbook-dir PROJECT`` as AWX runs an inventory update, with the credential
   injected as env vars, ANSIBLE_INVENTORY_UNPARSED_FAILED set and the collection
   only in the project's ``collections/`` folder: every agent is a host with its
   ``ansible_host``/``ansible_port``, the key is nowhere in the output, and a wrong
   key fails the update with HTTP 401 and ngrok's error code;
5. the installed collection declares its Python requirements for execution
   environments (``meta/execution-environment.yml`` naming ``requirements.txt``),
   and ``ansible-builder introspect`` reports exactly one: ``requests``, no system
   requirement; ``ansible-builder create`` builds a context from
   docs/awx/execution-environment.yml that installs community.ngrok, and whose
   own introspection script (the one the image build runs over the installed
   collections) writes ``requests`` into the pip requirements the build installs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request

import ansible_runner
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "tests", "emulator", "ngrok_emulator.py")
CREDENTIAL_TYPE = os.path.join(ROOT, "docs", "awx", "credential_type.yml")
EE_DEFINITION = os.path.join(ROOT, "docs", "awx", "execution-environment.yml")
HOSTS = ("host-001", "host-002", "host-003")

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print("%s  %s%s" % ("PASS" if ok else "FAIL", name, (": " + detail) if detail and not ok else ""))
    return ok


def render_injectors(inputs):
    """Render the credential type's env injectors as AWX does (Jinja2 over the inputs)."""
    with open(CREDENTIAL_TYPE, encoding="utf-8") as handle:
        cred_type = yaml.safe_load(handle)
    env = ImmutableSandboxedEnvironment()
    return {key: env.from_string(tmpl).render(**inputs) for key, tmpl in cred_type["injectors"]["env"].items()}, cred_type


def emulator_get(url, path):
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.load(response)


def start_emulator(workdir, key):
    port_file = os.path.join(workdir, "emulator.json")
    # Each agent also serves SSH through a TCP endpoint, for the inventory source.
    subprocess.run([sys.executable, EMULATOR, "--background", "--port", "0", "--agents", str(len(HOSTS)),
                    "--agent-endpoint", "tcp,tcp://localhost:22",
                    "--reconnect-delay", "0.2", "--api-key", key, "--idle-timeout", "120",
                    "--port-file", port_file, "--log-file", os.path.join(workdir, "emulator.log")],
                   check=True, stdout=subprocess.DEVNULL)
    with open(port_file, encoding="utf-8") as handle:
        return json.load(handle)["url"]


def stop_emulator(url):
    try:
        urllib.request.urlopen(urllib.request.Request(url + "/_emulator/shutdown", method="POST"), timeout=5).close()
    except OSError:
        pass


def check_credential_type():
    env, cred_type = render_injectors({"api_key": "k", "api_url": "http://127.0.0.1:1"})
    check("credential type: the API key is a secret input",
          any(f["id"] == "api_key" and f.get("secret") for f in cred_type["inputs"]["fields"]))
    check("credential type: injects NGROK_API_KEY and NGROK_API_URL",
          env == {"NGROK_API_KEY": "k", "NGROK_API_URL": "http://127.0.0.1:1"}, repr(env))
    env, dummy = render_injectors({"api_key": "k"})
    check("credential type: without an API URL it injects https://api.ngrok.com",
          env.get("NGROK_API_URL") == "https://api.ngrok.com", repr(env))


def run_job(workdir, collections_path):
    key = "awx-secret-" + secrets.token_hex(12)
    url = start_emulator(workdir, key)
    try:
        env, dummy = render_injectors({"api_key": key, "api_url": url})
        data = os.path.join(workdir, "runner")
        for sub in ("env", "inventory", "project"):
            os.makedirs(os.path.join(data, sub))
        # The README's route: the collection committed in the project's collections/ folder (what
        # `ansible-galaxy collection install TARBALL -p collections/` makes), beside the playbook.
        # ANSIBLE_COLLECTIONS_PATH names an empty folder, so no other copy can serve the job.
        shutil.copytree(os.path.join(collections_path, "ansible_collections"),
                        os.path.join(data, "project", "collections", "ansible_collections"))
        empty = os.path.join(workdir, "no-collections")
        os.makedirs(empty)
        envvars = dict(env, ANSIBLE_COLLECTIONS_PATH=empty, ANSIBLE_LOCALHOST_WARNING="false")
        with open(os.path.join(data, "env", "envvars"), "w", encoding="utf-8") as handle:
            json.dump(envvars, handle)
        with open(os.path.join(data, "env", "extravars"), "w", encoding="utf-8") as handle:
            json.dump({"ngrok_target": "kiosks", "ngrok_wait": True, "ngrok_wait_timeout": 30}, handle)
        with open(os.path.join(data, "inventory", "hosts"), "w", encoding="utf-8") as handle:
            handle.write("[kiosks]\n")
            for host in HOSTS:
                handle.write("%s ansible_connection=local ansible_python_interpreter=%s\n" % (host, sys.executable))
        with open(os.path.join(data, "project", "restart_agents.yml"), "w", encoding="utf-8") as handle:
            handle.write("---\n- name: Restart the ngrok agents\n"
                         "  ansible.builtin.import_playbook: community.ngrok.restart_host_agents\n")
        proc = subprocess.run(["ansible-runner", "run", data, "-p", "restart_agents.yml", "--ident", "job1"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
        artifacts = os.path.join(data, "artifacts", "job1")
        status = _read(os.path.join(artifacts, "status")).strip()
        rc = _read(os.path.join(artifacts, "rc")).strip()
        check("ansible-runner: the job is successful (status %s, rc %s)" % (status, rc),
              status == "successful" and rc == "0", proc.stdout[-3000:])

        log = emulator_get(url, "/_emulator/requests")["requests"]
        restarts = [r for r in log if r["method"] == "POST" and r["path"].endswith("/restart") and r["status"] == 204]
        check("ansible-runner: exactly one restart per host (%d for %d hosts)" % (len(restarts), len(HOSTS)),
              len(restarts) == len(HOSTS) and len({r["path"] for r in restarts}) == len(HOSTS))
        history = emulator_get(url, "/_emulator/sessions").get("history", {})
        check("ansible-runner: every agent came back with a new session ID",
              all(len(ids) == 2 for ids in history.values()) and len(history) == len(HOSTS), repr(history))
        check("ansible-runner: the credential reached the modules (every API request authenticated)",
              log and all(r["headers"].get("authorization") == "Bearer <valid>" for r in log))

        # artifacts/command is ansible-runner's record of the command and of the
        # environment it was handed (the injected credential included); AWX keeps
        # that as the job's job_env and masks it. Everything the job printed or
        # returned (stdout, job_events, fact caches) is checked.
        leaks = []
        for top, dummy_dirs, files in os.walk(artifacts):
            for name in files:
                if top == artifacts and name == "command":
                    continue
                if key in _read(os.path.join(top, name)):
                    leaks.append(os.path.relpath(os.path.join(top, name), artifacts))
        check("ansible-runner: the API key is in no job output or artifact", not leaks and key not in proc.stdout,
              "found in %s" % leaks)
    finally:
        stop_emulator(url)


def update_inventory(workdir, name, envvars, project):
    """An AWX inventory update of a source "Sourced from a Project": ansible-inventory through ansible-runner.

    Returns (rc, the inventory written to --output or None, everything printed).
    """
    data = os.path.join(workdir, "inventory-" + name)
    output = os.path.join(data, "output.json")
    os.makedirs(data)
    out, err, rc = ansible_runner.run_command(
        executable_cmd="ansible-inventory",
        cmdline_args=["-i", os.path.join(project, "kiosks.ngrok.yml"), "--list", "--export", "--output", output,
                      "--playbook-dir", project],
        envvars=envvars, private_data_dir=data, quiet=True)
    inventory = None
    if os.path.exists(output):
        with open(output, encoding="utf-8") as handle:
            inventory = json.load(handle)
    printed = "%s\n%s" % (out or "", err or "")
    for top, dummy_dirs, files in os.walk(os.path.join(data, "artifacts")):
        for file_name in files:
            if file_name != "command":  # runner's record of the environment it was handed (AWX masks it)
                printed += _read(os.path.join(top, file_name))
    return rc, inventory, printed


def run_inventory_source(workdir, collections_path):
    key = "awx-secret-" + secrets.token_hex(12)
    url = start_emulator(workdir, key)
    try:
        env, dummy = render_injectors({"api_key": key, "api_url": url})
        project = os.path.join(workdir, "inventory-project")
        shutil.copytree(os.path.join(collections_path, "ansible_collections"),
                        os.path.join(project, "collections", "ansible_collections"))
        with open(os.path.join(project, "kiosks.ngrok.yml"), "w", encoding="utf-8") as handle:
            handle.write("---\nplugin: community.ngrok.ngrok\nkeyed_groups:\n  - key: ngrok_os\n    prefix: os\n")
        empty = os.path.join(workdir, "no-collections-inventory")
        os.makedirs(empty)
        # what AWX sets for an inventory update, and the credential's injected variables
        base = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_COLLECTIONS_PATH": empty,
                "ANSIBLE_NOCOLOR": "1"}
        rc, inventory, printed = update_inventory(workdir, "ok", dict(base, **env), project)
        hostvars = (inventory or {}).get("_meta", {}).get("hostvars", {})
        check("inventory source: ansible-inventory --list --export succeeds (rc %s)" % rc,
              rc == 0 and inventory is not None, printed[-3000:])
        check("inventory source: every agent is a host in the groups ngrok and os_linux",
              sorted(hostvars) == list(HOSTS) and sorted(inventory["ngrok"]["hosts"]) == list(HOSTS)
              and sorted(inventory["os_linux"]["hosts"]) == list(HOSTS), repr(sorted(inventory or {})))
        check("inventory source: each host has ansible_host and ansible_port from its TCP endpoint",
              all(hv.get("ansible_host") and hv.get("ansible_port") for hv in hostvars.values()), repr(hostvars)[:500])
        check("inventory source: the API key is in no output", key not in printed and key not in json.dumps(inventory))
        wrong = dict(base, **env)
        wrong["NGROK_API_KEY"] = "awx-wrong-" + secrets.token_hex(12)
        rc, inventory, printed = update_inventory(workdir, "wrong", wrong, project)
        check("inventory source: a wrong key fails the update with HTTP 401 ERR_NGROK_203 (rc %s)" % rc,
              rc != 0 and "HTTP 401 ERR_NGROK_203" in printed and wrong["NGROK_API_KEY"] not in printed,
              printed[-2000:])
    finally:
        stop_emulator(url)


def introspect(path):
    """``ansible-builder introspect PATH``: (its output, {'python': [...], 'system': [...]} or None).

    The output is a ``# Dependency data for PATH`` comment and a YAML document whose
    entries are annotated ``REQ  # from collection NAMESPACE.NAME``.
    """
    proc = subprocess.run(["ansible-builder", "introspect", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        return output, None
    try:
        data = yaml.safe_load(proc.stdout)
    except yaml.YAMLError:
        return output, None
    if not isinstance(data, dict):
        return output, None
    return output, {kind: list(data.get(kind) or []) for kind in ("python", "system")}


def check_builder(workdir, collections_path):
    installed = os.path.join(collections_path, "ansible_collections", "community", "ngrok")

    # The collection's own declaration: ansible-builder reads meta/execution-environment.yml, whose
    # dependencies.python names a requirements file relative to the collection root.
    meta = {}
    try:
        with open(os.path.join(installed, "meta", "execution-environment.yml"), encoding="utf-8") as handle:
            meta = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        meta = {"error": str(exc)}
    python_file = (meta.get("dependencies") or {}).get("python") if isinstance(meta, dict) else None
    declared = _requirement_names(_read(os.path.join(installed, python_file or "requirements.txt")))
    check("the installed collection declares requests in meta/execution-environment.yml (dependencies.python)",
          python_file == "requirements.txt" and declared == ["requests"], "%r, %s: %r" % (meta, python_file, declared))

    # A folder with only community.ngrok: introspect must report requests, from community.ngrok, and nothing
    # else (a requirement that is not PEP 508 would be listed without its "# from collection").
    alone = os.path.join(workdir, "introspect-ngrok")
    shutil.copytree(installed, os.path.join(alone, "ansible_collections", "community", "ngrok"), symlinks=True)
    output, reqs = introspect(alone)
    check("ansible-builder introspect: community.ngrok requires requests, and no other Python or system package",
          os.path.exists(os.path.join(installed, "MANIFEST.json"))
          and reqs is not None and reqs["system"] == [] and _requirement_names("\n".join(reqs["python"])) == ["requests"]
          and all(line.endswith("  # from collection community.ngrok") for line in reqs["python"]), output)

    context = os.path.join(workdir, "ee-context")
    proc = subprocess.run(["ansible-builder", "create", "-f", EE_DEFINITION, "-c", context], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False, cwd=workdir)
    containerfile = next((os.path.join(context, n) for n in ("Containerfile", "Dockerfile")
                          if os.path.exists(os.path.join(context, n))), None)
    check("ansible-builder create: a build context from docs/awx/execution-environment.yml",
          proc.returncode == 0 and containerfile is not None, proc.stdout)
    if containerfile:
        galaxy = os.path.join(context, "_build", "requirements.yml")
        check("ansible-builder create: the context installs community.ngrok",
              "community.ngrok" in _read(galaxy), _read(galaxy))
        # The image build installs the collections, then runs this script over them with --write-pip and
        # pip-installs what it wrote: run it here over the installed collection.
        script = os.path.join(context, "_build", "scripts", "introspect.py")
        pip_file = os.path.join(workdir, "ee-requirements.txt")
        proc = subprocess.run([sys.executable, script, "introspect", "--write-pip", pip_file, alone],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        check("ansible-builder create: the build's introspection installs requests into the EE",
              proc.returncode == 0 and "--write-pip" in _read(containerfile)
              and _requirement_names(_read(pip_file)) == ["requests"],
              proc.stdout + _read(pip_file))


def _requirement_names(text):
    """The lower-cased project names of a pip requirements text (comments and blank lines skipped)."""
    names = []
    for line in text.splitlines():
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
        if match:
            names.append(match.group(1).lower())
    return names


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--collections-path", required=True,
                        help="folder that holds ansible_collections/community/ngrok (installed)")
    args = parser.parse_args()
    collections_path = os.path.abspath(args.collections_path)
    workdir = tempfile.mkdtemp(prefix="ngrok-awx-")
    try:
        check_credential_type()
        run_job(workdir, collections_path)
        run_inventory_source(workdir, collections_path)
        check_builder(workdir, collections_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    failed = RESULTS.count(False)
    print("%d passed, %d failed" % (len(RESULTS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
