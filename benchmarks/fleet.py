# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fleet test: restart the agents of N hosts through community.ngrok.restart_host_agents.

Starts the ngrok API emulator with N agents (host-001..host-N) and a rate limit, writes an
inventory of N local hosts, runs the collection playbook with F forks and checks, from the play
recap and the emulator's request log, that every host's agent was restarted exactly once:

    python benchmarks/fleet.py --hosts 300 --forks 20 --rate-limit 30 --rate-window 5 --wait

The modules pace their requests to the emulator's limit (ngrok_rate_limit, ngrok_rate_limit_window);
``--no-pacing`` turns that off (they only wait out 429s), and ``--rate-count-rejected`` makes the
emulator count rejected (429) requests against the window too, as strictly as ngrok may.
``--mode info`` runs a one-task ngrok_tunnel_session_info playbook per host instead (read-only).
``--rate-limit 0`` measures Ansible's own throughput (no floor). Stdlib only, Python 3.9+.
Prints a table and a final line ``N passed, N failed``; exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(HERE)
PLAYBOOK = "community.ngrok.restart_host_agents"
API_KEY = "fleet-test-api-key"
COLLECTION_DIRS = ("plugins", "playbooks", "roles", "meta")
COLLECTION_FILES = ("galaxy.yml",)

RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                      r"(?:\s+skipped=(\d+))?(?:\s+rescued=(\d+))?(?:\s+ignored=(\d+))?")
RESTART_RE = re.compile(r"^/tunnel_sessions/(ts_[0-9A-Za-z]+)/restart$")
GET_RE = re.compile(r"^/tunnel_sessions/(ts_[0-9A-Za-z]+)$")
#: With pacing, the most 429s the fleet may meet, in percent of its accepted requests (issue 15's target, for a run
#: that is the only user of its API key).
PACED_429_PERCENT = 1
#: The most API requests per agent (accepted ones): a restart, and a restart with wait (issue 15's targets).
MAX_REQUESTS_PER_AGENT = {"restart": 1.1, "restart+wait": 1.2}
#: With a rate limit, the target for the wall time, as a multiple of the floor (accepted requests / the rate). A
#: figure printed beside the ratio, not a check: timing depends on the machine (see benchmarks/bench.py).
FLOOR_RATIO_TARGET = 1.10

INFO_PLAYBOOK = """\
- name: Find each host's agent
  hosts: all
  gather_facts: false
  tasks:
    - name: Find this host's agent
      community.ngrok.ngrok_tunnel_session_info:
        metadata: "{{ inventory_hostname }}"
        rate_limit: "{{ ngrok_rate_limit | default(omit) }}"
        rate_limit_window: "{{ ngrok_rate_limit_window | default(omit) }}"
      delegate_to: localhost
      register: ngrok_agent

    - name: Exactly one agent
      ansible.builtin.assert:
        that: ngrok_agent.tunnel_sessions | length == 1
        quiet: true
"""


def find_emulator(explicit=None):
    candidates = [explicit] if explicit else []
    candidates.append(os.path.join(SOURCE_ROOT, "tests", "emulator", "ngrok_emulator.py"))
    for path in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if path:
            candidates.append(os.path.join(path, "ansible_collections", "community", "ngrok", "tests", "emulator",
                                           "ngrok_emulator.py"))
    for path in candidates:
        if path and os.path.isfile(path):
            return os.path.abspath(path)
    raise SystemExit("fleet.py: ngrok_emulator.py not found; looked at %s" % ", ".join(c for c in candidates if c))


def find_ansible_playbook(explicit=None):
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("ansible-playbook")
    if not found:
        raise SystemExit("fleet.py: ansible-playbook not found beside %s nor on PATH" % sys.executable)
    return found


def prepare_collection(workdir, explicit=None):
    """Return (ANSIBLE_COLLECTIONS_PATH, how) for a tree holding community.ngrok.

    Order: --collections-path; a copy of this checkout (when the script sits in one);
    an ANSIBLE_COLLECTIONS_PATH that already holds the collection (ansible-test).
    """
    if explicit:
        return os.path.abspath(explicit), "given"
    if all(os.path.isdir(os.path.join(SOURCE_ROOT, d)) for d in COLLECTION_DIRS):
        dest_root = os.path.join(workdir, "collections")
        dest = os.path.join(dest_root, "ansible_collections", "community", "ngrok")
        if not os.path.isdir(dest):
            for name in COLLECTION_DIRS:
                shutil.copytree(os.path.join(SOURCE_ROOT, name), os.path.join(dest, name),
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            for name in COLLECTION_FILES:
                if os.path.isfile(os.path.join(SOURCE_ROOT, name)):
                    shutil.copy2(os.path.join(SOURCE_ROOT, name), os.path.join(dest, name))
        return dest_root, "copy of %s" % SOURCE_ROOT
    for path in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if path and os.path.isfile(os.path.join(path, "ansible_collections", "community", "ngrok", "playbooks",
                                                "restart_host_agents.yml")):
            return os.environ["ANSIBLE_COLLECTIONS_PATH"], "ANSIBLE_COLLECTIONS_PATH"
    raise SystemExit("fleet.py: community.ngrok not found: run it from a checkout, or set ANSIBLE_COLLECTIONS_PATH")


class EmulatorProcess:
    """The emulator, started detached (--background), stopped through its control API."""

    def __init__(self, script, workdir, python=None, args=()):
        self.script = script
        self.workdir = workdir
        self.python = python or sys.executable
        self.args = list(args)
        self.url = None
        self.pid = None

    def start(self):
        port_file = os.path.join(self.workdir, "emulator.json")
        argv = [self.python, self.script, "--port", "0", "--background", "--port-file", port_file,
                "--log-file", os.path.join(self.workdir, "emulator.log"), "--api-key", API_KEY] + self.args
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              check=False, timeout=60)
        if proc.returncode != 0:
            raise SystemExit("fleet.py: the emulator did not start (%d): %s" % (proc.returncode, proc.stderr.strip()))
        info = json.loads([line for line in proc.stdout.splitlines() if line.strip().startswith("{")][-1])
        self.url, self.pid = info["url"], info["pid"]
        return self

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + "/_emulator/" + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read().decode("utf-8") or "null")

    def requests(self, since=0):
        return self.control("GET", "requests?since=%d" % since)["requests"]

    def stop(self):
        if self.url:
            try:
                self.control("POST", "shutdown")
            except OSError:
                pass
            self.url = None


def write_inventory(path, hosts, python):
    width = max(3, len(str(hosts)))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[fleet]\n")
        for i in range(1, hosts + 1):
            handle.write("host-%0*d\n" % (width, i))
        handle.write("\n[fleet:vars]\nansible_connection=local\nansible_python_interpreter=%s\n" % python)


def parse_recap(text):
    recap = {}
    in_recap = False
    for line in text.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap:
            match = RECAP_RE.match(line.strip())
            if match:
                recap[match.group(1)] = {"ok": int(match.group(2)), "changed": int(match.group(3)),
                                         "unreachable": int(match.group(4)), "failed": int(match.group(5))}
    return recap


def classify(entry):
    path = entry["path"]
    if entry["method"] == "POST" and RESTART_RE.match(path):
        return "restart"
    if entry["method"] == "GET" and path == "/tunnel_sessions":
        return "list"
    if entry["method"] == "GET" and GET_RE.match(path):
        return "get"
    return "%s %s" % (entry["method"], path)


def run_fleet(opts, log=print):
    """Run one fleet test; return a dict with the figures and the list of checks (name, ok, detail)."""
    workdir = opts.workdir or tempfile.mkdtemp(prefix="ngrok-fleet-")
    os.makedirs(workdir, exist_ok=True)
    python = opts.python or sys.executable
    coll_path, coll_how = prepare_collection(workdir, opts.collections_path)
    inventory = os.path.join(workdir, "inventory.ini")
    write_inventory(inventory, opts.hosts, python)
    emu_args = ["--agents", str(opts.hosts), "--reconnect-delay", str(opts.reconnect_delay),
                "--rate-limit", str(opts.rate_limit), "--rate-window", str(opts.rate_window),
                "--idle-timeout", "300"]
    if opts.retry_after:
        emu_args.append("--retry-after")
    if opts.rate_count_rejected:
        emu_args.append("--rate-count-rejected")
    emulator = EmulatorProcess(find_emulator(opts.emulator), workdir, python, emu_args).start()
    try:
        return _run(opts, workdir, python, coll_path, coll_how, inventory, emulator, log)
    finally:
        emulator.stop()
        if not opts.keep and not opts.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(opts, workdir, python, coll_path, coll_how, inventory, emulator, log):
    initial = emulator.control("GET", "sessions")
    initial_ids = {s["id"] for s in initial["tunnel_sessions"]}
    env = dict(os.environ)
    env.update({
        "NGROK_API_URL": emulator.url,
        "NGROK_API_KEY": API_KEY,
        "ANSIBLE_COLLECTIONS_PATH": coll_path,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(workdir, "ansible-remote"),
        "ANSIBLE_PIPELINING": "1" if opts.pipelining else "0",
        "ANSIBLE_STRATEGY": opts.strategy,
    })
    env.pop("ANSIBLE_CONFIG", None)
    # the modules pace to the limit the emulator enforces (0: no pacing)
    extra = ["-e", "ngrok_rate_limit=%d" % (0 if opts.no_pacing else opts.rate_limit),
             "-e", "ngrok_rate_limit_window=%r" % opts.rate_window]
    if opts.mode == "info":
        playbook = os.path.join(workdir, "fleet_info.yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            handle.write(INFO_PLAYBOOK)
    else:
        playbook = PLAYBOOK
        extra += ["-e", "ngrok_target=all", "-e", "ngrok_wait=%s" % ("true" if opts.wait else "false")]
    argv = [find_ansible_playbook(opts.ansible_playbook), "-i", inventory, "-f", str(opts.forks), playbook] + extra
    log("collection: %s (%s); emulator %s (pid %s)" % (coll_path, coll_how, emulator.url, emulator.pid))
    log("running: %s" % " ".join(argv))
    output_path = os.path.join(workdir, "ansible-playbook.log")
    cpu_before = children_cpu()
    start = time.perf_counter()
    with open(output_path, "w+", encoding="utf-8") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, check=False)
        elapsed = time.perf_counter() - start
        cpu = children_cpu() - cpu_before
        out.seek(0)
        output = out.read()
    time.sleep(opts.reconnect_delay + 0.1)  # let the last restarted agents reconnect
    log_entries = emulator.requests()
    sessions = emulator.control("GET", "sessions")
    result = evaluate(opts, proc.returncode, output, output_path, elapsed, initial_ids, log_entries, sessions)
    fig = result["figures"]
    fig["cpu_seconds"] = round(cpu, 1)
    fig["cpu_per_request"] = round(cpu / fig["requests_ok"], 3) if fig["requests_ok"] else None
    # What Ansible could send with every core to itself: a load-independent estimate of its own throughput.
    fig["capacity_per_second"] = round((os.cpu_count() or 1) / fig["cpu_per_request"], 2) if fig["cpu_per_request"] else None
    return result


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def evaluate(opts, returncode, output, output_path, elapsed, initial_ids, entries, sessions):
    checks = []

    def check(name, ok, detail=""):
        checks.append((name, bool(ok), detail))

    n = opts.hosts
    # the fleet's hosts (the playbook's first play, which checks ngrok_target, runs on localhost)
    recap = {host: counts for host, counts in parse_recap(output).items() if host != "localhost"}
    bad = sorted(h for h, r in recap.items() if r["failed"] or r["unreachable"])
    check("ansible-playbook exit status 0", returncode == 0, "exit %d; output in %s" % (returncode, output_path))
    check("play recap: %d/%d hosts ok, 0 failed, 0 unreachable" % (len(recap) - len(bad), n),
          len(recap) == n and not bad, "recap hosts %d, failed/unreachable: %s" % (len(recap), ", ".join(bad[:10])))

    kinds = collections.Counter()
    rate_limited = collections.Counter()
    other_errors = []
    posts = collections.defaultdict(list)  # session id -> statuses of its restart POSTs, in order
    for entry in entries:
        kind = classify(entry)
        if entry["status"] == 429:
            rate_limited[kind] += 1
            continue
        kinds[kind] += 1
        match = RESTART_RE.match(entry["path"]) if kind == "restart" else None
        if match:
            posts[match.group(1)].append(entry["status"])
        if entry["status"] not in (200, 204):
            other_errors.append("%s %s -> %s" % (entry["method"], entry["path"], entry["status"]))
    check("no API answer other than 2xx and 429", not other_errors, "; ".join(other_errors[:5]))
    histories = sessions.get("history", {})
    if opts.mode == "info":
        check("no restart POST in info mode", not posts, "%d sessions POSTed" % len(posts))
        check("one list request per host", kinds["list"] == n, "%d list requests" % kinds["list"])
        check("every agent still on its first session", all(len(h) == 1 for h in histories.values()), "")
    else:
        ok_204 = {sid: statuses.count(204) for sid, statuses in posts.items()}
        check("%d distinct sessions restarted with 204" % n,
              len([s for s, c in ok_204.items() if c >= 1]) == n, "%d sessions got a 204" % sum(1 for c in ok_204.values() if c))
        check("exactly one successful restart POST (204) per session", all(c == 1 for c in ok_204.values()),
              "sessions with several: %s" % [s for s, c in ok_204.items() if c != 1][:5])
        twice = [s for s, statuses in posts.items() if len(statuses) != 1]
        check("no restart POST sent twice for a session (429-rejected attempts aside)", not twice,
              "%d sessions POSTed more than once: %s" % (len(twice), twice[:5]))
        check("the restarted sessions are the N seeded sessions", set(posts) == initial_ids,
              "%d unexpected, %d missed" % (len(set(posts) - initial_ids), len(initial_ids - set(posts))))
        lengths = collections.Counter(len(h) for h in histories.values())
        check("every agent's history has exactly 2 session ids (%d agents)" % len(histories),
              len(histories) == n and set(lengths) == {2}, "history lengths: %s" % dict(lengths))
        if opts.wait:
            # The playbook's Report task: "msg": "OLD -> NEW" once per host, NEW being the session the module
            # waited for: each agent's second session. (Not " -> " alone: "[host -> localhost]" has it too.)
            reported = set(re.findall(r'"msg": "(ts_[0-9A-Za-z]+) -> (ts_[0-9A-Za-z]+)"', output))
            expected = {tuple(h[:2]) for h in histories.values() if len(h) >= 2}
            check("the playbook reported the new session of every host (wait)", len(reported) == n and reported == expected,
                  "%d 'old -> new' reports, %d match the agents' histories" % (len(reported), len(reported & expected)))
            polls = sum(1 for entry in entries if classify(entry) == "list" and entry["status"] == 200
                        and "obj.started_at" in " ".join((entry.get("query") or {}).get("filter") or []))
            check("the wait polled for the reconnected agents in bulk (each poll serves up to 100 agents)",
                  1 <= polls <= 3 * ((n + 99) // 100), "%d polls" % polls)
        lookups = sum(1 for entry in entries if classify(entry) == "list" and entry["status"] == 200
                      and "obj.metadata in" in " ".join((entry.get("query") or {}).get("filter") or [])
                      and "obj.started_at" not in " ".join((entry.get("query") or {}).get("filter") or []))
        check("one listing found every host's agent (pages of up to 100), no lookup per host",
              1 <= lookups <= 2 * ((n + 99) // 100) and kinds["get"] == 0,
              "%d listing requests, %d GETs of one session" % (lookups, kinds["get"]))

    successful = sum(kinds.values())
    total = successful + sum(rate_limited.values())
    if opts.rate_limit and not opts.no_pacing:
        # A few 429s may come from the delay between a send time and the arrival; without pacing there are
        # about as many 429s as accepted requests (many times more when rejected requests count).
        check("the modules paced to the limit: 429s at most %d%% of the accepted requests" % PACED_429_PERCENT,
              sum(rate_limited.values()) * 100 <= PACED_429_PERCENT * successful,
              "%d 429s for %d accepted requests" % (sum(rate_limited.values()), successful))
    per_second = opts.rate_limit / float(opts.rate_window) if opts.rate_limit else 0.0
    floor = successful / per_second if per_second else None
    mode = opts.mode + ("+wait" if opts.wait and opts.mode != "info" else "")
    if mode in MAX_REQUESTS_PER_AGENT:
        check("at most %.1f API requests per agent" % MAX_REQUESTS_PER_AGENT[mode],
              successful <= MAX_REQUESTS_PER_AGENT[mode] * n, "%.3f" % (successful / float(n)))
    figures = {
        "hosts": n, "forks": opts.forks, "mode": mode,
        "rate_limit": "%d/%gs%s" % (opts.rate_limit, opts.rate_window, " strict" if opts.rate_count_rejected else "")
        if opts.rate_limit else "off",
        "pacing": "off" if opts.no_pacing or not opts.rate_limit else "on",
        "retry_after": opts.retry_after, "strategy": opts.strategy, "pipelining": opts.pipelining,
        "requests_total": total, "requests_ok": successful, "requests_429": sum(rate_limited.values()),
        "by_kind": dict(kinds), "429_by_kind": dict(rate_limited),
        "elapsed": round(elapsed, 2), "floor": round(floor, 2) if floor else None,
        "ratio": round(elapsed / floor, 3) if floor else None,
        "requests_per_host": round(successful / float(n), 3), "attempts_per_host": round(total / float(n), 3),
        "api_requests_per_second": round(successful / elapsed, 2) if elapsed else None,
        "hosts_per_second": round(n / elapsed, 2) if elapsed else None,
        "passed": sum(1 for c in checks if c[1]), "failed": sum(1 for c in checks if not c[1]),
    }
    return {"figures": figures, "checks": checks}


def format_table(rows, columns):
    cells = [[str(col[0]) for col in columns]] + [[_cell(row.get(col[1])) for col in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells[1:]]
    return "\n".join(lines)


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, dict):
        return " ".join("%s=%s" % kv for kv in sorted(value.items())) or "-"
    return str(value)


FLEET_COLUMNS = [("hosts", "hosts"), ("forks", "forks"), ("mode", "mode"), ("rate limit", "rate_limit"),
                 ("pacing", "pacing"), ("strategy", "strategy"), ("pipelining", "pipelining"),
                 ("requests (ok)", "requests_ok"), ("429s", "requests_429"), ("by kind", "by_kind"),
                 ("elapsed s", "elapsed"), ("floor s", "floor"), ("elapsed/floor", "ratio"),
                 ("API req/host", "requests_per_host"), ("attempts/host", "attempts_per_host"),
                 ("API req/s", "api_requests_per_second"),
                 ("CPU s", "cpu_seconds"), ("CPU s/req", "cpu_per_request"), ("capacity req/s", "capacity_per_second")]


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--hosts", type=int, default=300)
    p.add_argument("--forks", type=int, default=20)
    p.add_argument("--rate-limit", type=int, default=15, help="accepted API requests per window; 0: no limit (default 15)")
    p.add_argument("--rate-window", type=float, default=5.0, help="seconds (default 5)")
    p.add_argument("--retry-after", action="store_true", help="the emulator sends Retry-After on 429")
    p.add_argument("--rate-count-rejected", action="store_true",
                   help="the emulator counts rejected (429) requests against the window too (as strict as ngrok may be)")
    p.add_argument("--no-pacing", action="store_true",
                   help="ngrok_rate_limit=0: the modules do not pace to the limit, they only wait out 429s")
    p.add_argument("--wait", action="store_true", help="ngrok_wait=true: wait for every agent to reconnect")
    p.add_argument("--mode", choices=("restart", "info"), default="restart",
                   help="restart: the collection playbook; info: one ngrok_tunnel_session_info task per host")
    p.add_argument("--reconnect-delay", type=float, default=0.2)
    p.add_argument("--strategy", default="linear", help="ANSIBLE_STRATEGY (linear, free, ...)")
    p.add_argument("--pipelining", action="store_true", help="ANSIBLE_PIPELINING=1")
    p.add_argument("--python", help="ansible_python_interpreter and the emulator's python (default: this python)")
    p.add_argument("--ansible-playbook", help="the ansible-playbook to run (default: beside this python, else PATH)")
    p.add_argument("--collections-path", help="a folder holding ansible_collections/community/ngrok")
    p.add_argument("--emulator", help="path of tests/emulator/ngrok_emulator.py")
    p.add_argument("--workdir", help="keep inventory, logs and the collection copy here")
    p.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    p.add_argument("--json", help="also write the figures and checks to this JSON file")
    return p


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # run the finally blocks: stop the emulator, remove the work dir


def main(argv=None):
    signal.signal(signal.SIGTERM, _terminate)
    opts = parser().parse_args(argv)
    if opts.hosts < 1 or opts.forks < 1 or opts.rate_limit < 0 or opts.rate_window <= 0:
        raise SystemExit("fleet.py: --hosts and --forks must be >= 1, --rate-limit >= 0, --rate-window > 0")
    result = run_fleet(opts)
    fig = result["figures"]
    print()
    print(format_table([fig], FLEET_COLUMNS))
    print()
    load = " ".join("%.2f" % v for v in os.getloadavg())
    print("Load average: %s. Ansible used %s CPU s (%s per API request): with all %d cores it could send about %s "
          "requests/s." % (load, fig["cpu_seconds"], fig["cpu_per_request"], os.cpu_count() or 1, fig["capacity_per_second"]))
    if fig["rate_limit"] == "off":
        print("No rate limit: Ansible itself sent %s API requests/s (%s hosts/s) with %d forks."
              % (fig["api_requests_per_second"], fig["hosts_per_second"], opts.forks))
    elif fig["pacing"] == "on":
        limit_rate = opts.rate_limit / opts.rate_window
        print("Rate limit %s = %.2f requests/s; the modules paced to it and reached %s requests/s (429s: %d, "
              "%s API attempts per host)." % (fig["rate_limit"], limit_rate, fig["api_requests_per_second"],
                                              fig["requests_429"], fig["attempts_per_host"]))
        print("Elapsed %s s for a floor of %s s (accepted requests / the rate): %s x the floor; target <= %.2f: %s "
              "(a figure, not a check)." % (fig["elapsed"], fig["floor"], fig["ratio"], FLOOR_RATIO_TARGET,
                                            "met" if fig["ratio"] <= FLOOR_RATIO_TARGET else "NOT met"))
    else:
        limit_rate = opts.rate_limit / opts.rate_window
        print("Rate limit %s = %.2f requests/s; Ansible reached %s requests/s without pacing (429s: %d, %s API "
              "attempts per host). The limit %s." % (fig["rate_limit"], limit_rate, fig["api_requests_per_second"],
                                                     fig["requests_429"], fig["attempts_per_host"],
                                                     "BITES (429s were answered)" if fig["requests_429"]
                                                     else "did NOT bite (no 429): lower it"))
    for name, ok, detail in result["checks"]:
        print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok or not detail else "  [%s]" % detail))
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as handle:
            json.dump({"figures": fig, "checks": result["checks"]}, handle, indent=2)
    print("%d passed, %d failed" % (fig["passed"], fig["failed"]))
    return 0 if fig["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
