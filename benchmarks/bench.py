# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Speed benchmark of community.ngrok against the local ngrok API emulator (rate limit off).

Interleaved one-task playbooks, A B C D E A B C D E ... for R rounds after a warm-up round:

  ping     ansible.builtin.ping on localhost (the floor)
  restart  community.ngrok.ngrok_tunnel_session_restart (a fresh session each run)
  uri      the equivalent ansible.builtin.uri POST (headers, body {}, status_code 204,
           changed_when, and no_log: without it the Authorization header, key included,
           is printed at -vvv, which the module never does)
  check    check mode of restart
  info     ngrok_tunnel_session_info with a metadata filter

Each whole ansible-playbook process is timed (wall clock). Then the fleet figures (fleet.py):
restart, restart+wait and info over N hosts with a biting rate limit.

    python benchmarks/bench.py [--rounds 15] [--fleet-hosts 100] [--no-fleet] [--write]

``--write`` writes docs/benchmark.md. Stdlib only, Python 3.9+.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fleet  # noqa: E402  pylint: disable=wrong-import-position

SCENARIOS = ("ping", "restart", "uri", "check", "info")
RATIOS = (("restart", "ping"), ("restart", "uri"), ("check", "ping"), ("info", "ping"))
#: restart/uri: never slower than the hand-written uri task an operator would write; restart/ping: a regression
#: guard on the per-task overhead (what a fleet pays is API requests, see the fleet figures).
TARGETS = {("restart", "ping"): 1.25, ("restart", "uri"): 1.00}
#: The fleet's wall time, as a multiple of the floor the rate limit sets (issue 15: at most 1.10).
FLEET_TARGET = fleet.FLOOR_RATIO_TARGET
AGENT = "bench-agent"

PLAY_HEAD = """\
- name: {name}
  hosts: localhost
  gather_facts: false
  tasks:
"""

TASKS = {
    "ping": """\
    - name: Ping
      ansible.builtin.ping:
""",
    "restart": """\
    - name: Restart the session
      community.ngrok.ngrok_tunnel_session_restart:
        id: "{{ session_id }}"
        api_url: "{{ api_url }}"
        api_key: "{{ api_key }}"
""",
    "uri": """\
    - name: Restart the session with uri
      ansible.builtin.uri:
        url: "{{ api_url }}/tunnel_sessions/{{ session_id }}/restart"
        method: POST
        headers:
          Authorization: "Bearer {{ api_key }}"
          Ngrok-Version: "2"
          Content-Type: application/json
        body: {}
        body_format: json
        status_code: 204
      changed_when: true
      no_log: true
""",
    "check": """\
    - name: Restart the session (check mode)
      community.ngrok.ngrok_tunnel_session_restart:
        id: "{{ session_id }}"
        api_url: "{{ api_url }}"
        api_key: "{{ api_key }}"
      check_mode: true
""",
    "info": """\
    - name: Find the agent by metadata
      community.ngrok.ngrok_tunnel_session_info:
        metadata: "{{ agent_metadata }}"
        api_url: "{{ api_url }}"
        api_key: "{{ api_key }}"
""",
}


def percentile(values, pct):
    """Linear-interpolated percentile (pct in 0..100) of a non-empty list."""
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * pct / 100.0
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def machine_info(ansible_playbook):
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        version = subprocess.run([ansible_playbook, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 universal_newlines=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        version = "?"
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "uname": " ".join(platform.uname()), "cpu": cpu, "cores": os.cpu_count(),
            "python": "%s (%s)" % (platform.python_version(), sys.executable), "ansible": version,
            "load": _loadavg()}


def _loadavg():
    try:
        return " ".join("%.2f" % v for v in os.getloadavg())
    except OSError:
        return "?"


class Bench:
    def __init__(self, opts, workdir):
        self.opts = opts
        self.workdir = workdir
        self.python = opts.python or sys.executable
        self.ansible_playbook = fleet.find_ansible_playbook(opts.ansible_playbook)
        self.coll_path, dummy = fleet.prepare_collection(workdir, opts.collections_path)
        self.emulator = None
        self.env = None
        self.inventory = os.path.join(workdir, "inventory.ini")
        self.playbooks = {}

    def setup(self):
        with open(self.inventory, "w", encoding="utf-8") as handle:
            handle.write("localhost ansible_connection=local ansible_python_interpreter=%s\n" % self.python)
        for name in SCENARIOS:
            path = os.path.join(self.workdir, "%s.yml" % name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(PLAY_HEAD.format(name=name) + TASKS[name])
            self.playbooks[name] = path
        self.emulator = fleet.EmulatorProcess(
            fleet.find_emulator(self.opts.emulator), self.workdir, self.python,
            ["--rate-limit", "0", "--reconnect-delay", "0", "--idle-timeout", "300"]).start()
        self.emulator.control("POST", "sessions", {"metadata": AGENT})
        self.env = dict(os.environ)
        self.env.update({"ANSIBLE_COLLECTIONS_PATH": self.coll_path, "ANSIBLE_NOCOLOR": "1",
                         "ANSIBLE_RETRY_FILES_ENABLED": "False",
                         "ANSIBLE_LOCAL_TEMP": os.path.join(self.workdir, "ansible-local"),
                         "ANSIBLE_REMOTE_TEMP": os.path.join(self.workdir, "ansible-remote")})
        if self.opts.pipelining:
            self.env["ANSIBLE_PIPELINING"] = "1"
        self.env.pop("ANSIBLE_CONFIG", None)

    def current_session(self):
        """The agent's current session id, through the control API (not logged, not timed)."""
        for session in self.emulator.control("GET", "sessions")["tunnel_sessions"]:
            if session.get("metadata") == AGENT:
                return session["id"]
        raise RuntimeError("the benchmark agent is not connected")

    def run(self, name):
        session_id = self.current_session()
        seq = self._last_seq()
        argv = [self.ansible_playbook, "-i", self.inventory, self.playbooks[name],
                "-e", json.dumps({"session_id": session_id, "api_url": self.emulator.url, "api_key": fleet.API_KEY,
                                  "agent_metadata": AGENT})]
        cpu_before = fleet.children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir,
                              universal_newlines=True, check=False)
        elapsed = time.perf_counter() - start
        cpu = fleet.children_cpu() - cpu_before
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (name, proc.returncode, proc.stdout[-3000:]))
        entries = self.emulator.requests(seq)
        return elapsed, cpu, len(entries)

    def _last_seq(self):
        entries = self.emulator.requests(0)
        return entries[-1]["seq"] if entries else 0

    def close(self):
        if self.emulator:
            self.emulator.stop()


def _interleaved(opts, rounds, measure, log, label, env=None):
    """Every scenario once per round (A B C ... A B C ...) after a warm-up round that is not kept.

    Returns {scenario: [measure(bench, scenario) of each kept round]}; ``env`` is added to the
    playbooks' environment. Each round is logged with the first figure of what ``measure`` returns.
    """
    workdir = tempfile.mkdtemp(prefix="ngrok-bench-")
    bench = Bench(opts, workdir)
    results = {name: [] for name in SCENARIOS}
    try:
        bench.setup()
        bench.env.update(env or {})
        for round_no in range(rounds + 1):
            kept = {name: measure(bench, name) for name in SCENARIOS}
            if round_no > 0:
                for name in SCENARIOS:
                    results[name].append(kept[name])
            log("%sround %d/%d%s: %s" % (label, round_no, rounds, " (warm-up, not counted)" if round_no == 0 else "",
                                         " ".join("%s=%.2f" % (n, kept[n][0]) for n in SCENARIOS)))
    finally:
        bench.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def run_bench(opts, log):
    runs = _interleaved(opts, opts.rounds, lambda bench, name: bench.run(name), log, "")
    times = {name: [run[0] for run in runs[name]] for name in SCENARIOS}
    cpus = {name: [run[1] for run in runs[name]] for name in SCENARIOS}
    requests = {name: [run[2] for run in runs[name]] for name in SCENARIOS}
    rows = []
    for name in SCENARIOS:
        rows.append({"scenario": name, "median": round(statistics.median(times[name]), 3),
                     "p10": round(percentile(times[name], 10), 3), "p90": round(percentile(times[name], 90), 3),
                     "cpu": round(statistics.median(cpus[name]), 3),
                     "api_requests": "%g" % statistics.mean(requests[name])})
    ratios = []
    for num, den in RATIOS:
        values = [a / b for a, b in zip(times[num], times[den])]
        median = statistics.median(values)
        target = TARGETS.get((num, den))
        cpu_ratio = statistics.median([a / b for a, b in zip(cpus[num], cpus[den])])
        ratios.append({"ratio": "%s/%s" % (num, den), "median": round(median, 3), "cpu": round(cpu_ratio, 3),
                       "p10": round(percentile(values, 10), 3), "p90": round(percentile(values, 90), 3),
                       "target": "<= %.2f" % target if target else "-",
                       "met": ("yes" if median <= target else "NO") if target else "-"})
    return {"scenarios": rows, "ratios": ratios, "raw": times, "raw_cpu": cpus}


IMPORT_CASES = (
    ("python -c pass", "pass"),
    ("ansible.module_utils.basic", "import ansible.module_utils.basic"),
    ("basic + requests", "import ansible.module_utils.basic, requests"),
    ("basic + ansible.module_utils.urls (uri)", "import ansible.module_utils.basic, ansible.module_utils.urls"),
    ("basic + community.ngrok module_utils", "import ansible.module_utils.basic, "
     "ansible_collections.community.ngrok.plugins.module_utils._tunnel_session_actions"),
)


def run_imports(opts, coll_path, log):
    """CPU time of a fresh python importing what a module run imports (median of N, interleaved).

    A case that this python cannot import is reported as such (its row shows "-"), not timed.
    """
    python = opts.python or sys.executable
    prefix = "import sys; sys.path.insert(0, %r); " % coll_path
    cases = []
    for label, code in IMPORT_CASES:
        proc = subprocess.run([python, "-B", "-c", prefix + code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, check=False)
        if proc.returncode == 0:
            cases.append((label, code))
        else:
            log("imports: skipped %r, it fails: %s" % (label, (proc.stderr.strip().splitlines() or ["?"])[-1]))
    cpus = {label: [] for label, dummy_code in cases}
    for dummy in range(opts.imports):
        for label, code in cases:
            before = fleet.children_cpu()
            subprocess.run([python, "-B", "-c", prefix + code], check=True)
            cpus[label].append(fleet.children_cpu() - before)
    base_label = IMPORT_CASES[1][0]
    base = statistics.median(cpus[base_label]) if cpus.get(base_label) else None
    log("imports: %d runs each" % opts.imports)
    rows = []
    for label, dummy_code in IMPORT_CASES:
        values = cpus.get(label)
        if not values:
            rows.append({"imports": label + " (cannot be imported)"})
            continue
        median = statistics.median(values)
        rows.append({"imports": label, "cpu": round(median, 3), "min": round(min(values), 3),
                     "vs_basic": "%+.3f" % (median - base) if base is not None else None})
    return rows


def run_breakdown(opts, log):
    """Instrumented runs (breakdown_sitecustomize.py): where each scenario's time goes, medians of N rounds."""
    site = tempfile.mkdtemp(prefix="ngrok-breakdown-")
    shutil.copy(os.path.join(HERE, "breakdown_sitecustomize.py"), os.path.join(site, "sitecustomize.py"))
    out = os.path.join(site, "breakdown.jsonl")

    def measure(bench, name):
        with open(out, "w", encoding="utf-8"):
            pass
        elapsed, dummy_cpu, dummy_count = bench.run(name)
        with open(out, encoding="utf-8") as handle:
            workers = [json.loads(line) for line in handle if line.strip()]
        if not workers:
            raise RuntimeError("breakdown: no worker record for %s (is sitecustomize shadowed?)" % name)
        return (elapsed, _sum_workers(workers, elapsed * 1000))

    env = {"PYTHONPATH": os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH")) if p),
           "NGROK_BENCH_BREAKDOWN": out}
    try:
        runs = _interleaved(opts, opts.breakdown, measure, log, "breakdown: ", env)
    finally:
        shutil.rmtree(site, ignore_errors=True)
    rows = []
    for name in SCENARIOS:
        recs = [record for dummy_elapsed, record in runs[name]]

        def median(key, recs=recs):
            return "%.0f" % statistics.median(rec[key] for rec in recs)

        rows.append({"scenario": name, "run": median("run"), "outside": median("outside"), "worker": median("worker"),
                     "payload": median("payload"), "module": median("module"), "gc": median("gc"),
                     "full_gc": "%d of %d" % (sum(1 for rec in recs if rec["full_gcs"]), len(recs)),
                     "full_gc_ms": median("full_gc_ms")})
    return rows


def _sum_workers(workers, run_ms):
    """One run's figures (ms): the run, outside the workers, the workers, and their parts."""
    worker = sum(w["worker_ms"] for w in workers)
    return {"run": run_ms, "outside": run_ms - worker, "worker": worker,
            "payload": sum(w["payload_ms"] for w in workers),
            "module": sum(w["module_process_ms"] for w in workers),
            "gc": sum(sum(w["gc_ms"]) for w in workers),
            "full_gcs": sum(w["gc_count"][2] for w in workers),
            "full_gc_ms": sum(w["gc_ms"][2] for w in workers)}


def run_fleets(opts, log):
    results = []
    for mode, wait in (("restart", False), ("restart", True), ("info", False)):
        args = ["--hosts", str(opts.fleet_hosts), "--forks", str(opts.fleet_forks), "--rate-limit",
                str(opts.fleet_rate_limit), "--rate-window", str(opts.fleet_rate_window), "--mode", mode]
        if wait:
            args.append("--wait")
        if opts.collections_path:
            args += ["--collections-path", opts.collections_path]
        if opts.python:
            args += ["--python", opts.python]
        fleet_opts = fleet.parser().parse_args(args)
        log("fleet: %s" % " ".join(args))
        result = fleet.run_fleet(fleet_opts, log=log)
        fig = result["figures"]
        fig["target"] = "<= %.2f" % FLEET_TARGET
        fig["met"] = "yes" if fig["ratio"] is not None and fig["ratio"] <= FLEET_TARGET else "NO"
        fig["checks"] = "%d passed, %d failed" % (fig["passed"], fig["failed"])
        results.append(fig)
    return results


SCENARIO_COLUMNS = [("scenario", "scenario"), ("median s", "median"), ("p10 s", "p10"), ("p90 s", "p90"),
                    ("CPU s (median)", "cpu"), ("API requests/run", "api_requests")]
RATIO_COLUMNS = [("ratio (same round)", "ratio"), ("median", "median"), ("p10", "p10"), ("p90", "p90"),
                 ("target", "target"), ("met", "met"), ("CPU-time ratio (median)", "cpu")]
BREAKDOWN_COLUMNS = [("scenario", "scenario"), ("run ms", "run"), ("outside the worker", "outside"),
                     ("worker", "worker"), ("payload build", "payload"), ("module process", "module"),
                     ("GC in worker", "gc"), ("runs with a full GC", "full_gc"), ("full GC ms", "full_gc_ms")]
IMPORT_COLUMNS = [("a fresh python imports (-B, no .pyc written)", "imports"), ("CPU s (median)", "cpu"),
                  ("vs basic", "vs_basic"), ("min", "min")]
FLEET_COLUMNS = [("hosts", "hosts"), ("forks", "forks"), ("run", "mode"), ("rate limit", "rate_limit"),
                 ("requests ok", "requests_ok"), ("429s", "requests_429"), ("elapsed s", "elapsed"), ("floor s", "floor"),
                 ("elapsed/floor", "ratio"), ("target", "target"), ("met", "met"), ("API req/host", "requests_per_host"),
                 ("checks", "checks")]


# The licence header of the written docs/benchmark.md (the license-check session wants one in every file).
# The SPDX tag is split so that the licence checkers do not read it as this file's own.
DOC_HEADER = ("<!--\n"
              "Copyright (c) community.ngrok contributors\n"
              "GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)\n"
              "SPDX-" "License-Identifier: GPL-3.0-or-later\n"
              "-->\n")


def render(info, opts, bench, fleets, imports=None, breakdown=None):
    lines = ["# community.ngrok benchmark", "",
             "Latest figures of `benchmarks/bench.py` (written with `--write`), against the local ngrok API emulator "
             "(`tests/emulator/`). The one-task playbook and fleet tables time whole `ansible-playbook` processes "
             "(wall clock, and CPU time where a column says so); the breakdown is timed inside ansible-core's worker "
             "process; the import table is the CPU time of fresh `python -c` imports.", "",
             "- date: %s" % info["date"], "- machine: `%s`" % info["uname"], "- CPU: %s, %s cores" % (info["cpu"], info["cores"]),
             "- Python: %s" % info["python"], "- ansible-core: %s" % info["ansible"],
             "- load average at start / end: %s / %s" % (info["load"], info.get("load_end", "?")),
             "- command: `python benchmarks/bench.py %s`" % " ".join(opts.argv), ""]
    if bench:
        lines += ["## One-task playbooks (%d interleaved rounds after a warm-up round)" % opts.rounds, "",
                  fleet.format_table(bench["scenarios"], SCENARIO_COLUMNS), "",
                  fleet.format_table(bench["ratios"], RATIO_COLUMNS), ""]
    if breakdown:
        lines += ["## Where the time goes (`--breakdown %d`: instrumented runs, medians in ms)" % opts.breakdown, "",
                  "Timed inside ansible-core's worker process by `benchmarks/breakdown_sitecustomize.py`: the worker "
                  "(templating, building the module payload, running the module), the payload build (locating, "
                  "parsing and zipping the module_utils), the module process (AnsiballZ: python start-up, imports, "
                  "the request), and the worker's garbage collections. A full (oldest-generation) collection costs "
                  "tens of ms; ansible-core's worker starts one when the Python source it parses for the payload "
                  "pushes its allocations over the threshold.", "",
                  fleet.format_table(breakdown, BREAKDOWN_COLUMNS), ""]
    if imports:
        lines += ["## Module start-up: import cost (`--imports %d`)" % opts.imports, "",
                  "Every module run is a fresh python; these are the imports it pays before sending anything.", "",
                  fleet.format_table(imports, IMPORT_COLUMNS), ""]
    if fleets:
        lines += ["## Fleet (`benchmarks/fleet.py`)", "",
                  "floor = successful API requests / (rate limit / window): the least time the rate limit allows.", "",
                  fleet.format_table(fleets, FLEET_COLUMNS), ""]
    return "\n".join(lines)


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--no-bench", action="store_true", help="skip the one-task playbooks")
    p.add_argument("--no-fleet", action="store_true", help="skip the fleet runs")
    p.add_argument("--breakdown", type=int, default=8, metavar="N",
                   help="instrumented rounds that show where the time goes; 0: skip (default 8)")
    p.add_argument("--imports", type=int, default=15, metavar="N", help="import-cost runs per case; 0: skip (default 15)")
    p.add_argument("--fleet-hosts", type=int, default=100)
    p.add_argument("--fleet-forks", type=int, default=20)
    p.add_argument("--fleet-rate-limit", type=int, default=10)
    p.add_argument("--fleet-rate-window", type=float, default=5.0)
    p.add_argument("--pipelining", action="store_true", help="ANSIBLE_PIPELINING=1 for the one-task playbooks")
    p.add_argument("--python", help="ansible_python_interpreter and the emulator's python (default: this python)")
    p.add_argument("--ansible-playbook", help="the ansible-playbook to run (default: beside this python, else PATH)")
    p.add_argument("--collections-path", help="a folder holding ansible_collections/community/ngrok")
    p.add_argument("--emulator", help="path of tests/emulator/ngrok_emulator.py")
    p.add_argument("--write", action="store_true", help="write docs/benchmark.md")
    p.add_argument("--output", default=os.path.join(fleet.SOURCE_ROOT, "docs", "benchmark.md"))
    p.add_argument("--json", help="also write all figures to this JSON file")
    return p


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)  # run the finally blocks: stop the emulator, remove the work dir


def main(argv=None):
    signal.signal(signal.SIGTERM, _terminate)
    argv = sys.argv[1:] if argv is None else argv
    opts = parser().parse_args(argv)
    opts.argv = argv
    info = machine_info(fleet.find_ansible_playbook(opts.ansible_playbook))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    bench = None if opts.no_bench else run_bench(opts, log)
    breakdown = None if opts.no_bench or opts.breakdown <= 0 else run_breakdown(opts, log)
    imports = None
    if opts.imports > 0:
        workdir = tempfile.mkdtemp(prefix="ngrok-imports-")
        try:
            imports = run_imports(opts, fleet.prepare_collection(workdir, opts.collections_path)[0], log)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    fleets = None if opts.no_fleet else run_fleets(opts, log)
    info["load_end"] = _loadavg()
    text = render(info, opts, bench, fleets, imports, breakdown)
    print(text)
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as handle:
            json.dump({"machine": info, "bench": bench, "breakdown": breakdown, "imports": imports, "fleet": fleets},
                      handle, indent=2)
    if opts.write:
        os.makedirs(os.path.dirname(opts.output), exist_ok=True)
        with open(opts.output, "w", encoding="utf-8") as handle:
            handle.write(DOC_HEADER + text)
        log("wrote %s" % opts.output)
    failed = sum(f["failed"] for f in fleets or [])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
