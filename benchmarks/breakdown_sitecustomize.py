# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a task's time goes inside ansible-core's worker process (``bench.py --breakdown``).

bench.py copies this file as ``sitecustomize.py`` into a folder that it puts on
PYTHONPATH for the instrumented runs only, with NGROK_BENCH_BREAKDOWN naming a
file. Python imports it in every process; it does nothing until the
ansible-playbook process forks a worker. In the worker it times:

* the task in the worker (``TaskExecutor.run``: templating, the payload, the module process), written
  before the worker sends the result back (after that, ansible-playbook may end the worker first);
* building the module payload (``ActionBase._configure_module``: locating and
  parsing the module_utils, zipping them);
* the module process: the longest ``ActionBase._low_level_execute_command``
  (the others are the short mkdir, chmod and rm of the remote temp dir);
* every garbage collection, by generation (``gc.callbacks``);

and appends one JSON line per worker to that file. Timing is perturbed a
little (the callbacks), so these runs are never used for the timed figures.
"""

from __future__ import annotations

import os

_OUT = os.environ.get("NGROK_BENCH_BREAKDOWN")


def _instrument_worker():
    import gc
    import json
    import time

    try:
        from ansible.executor.task_executor import TaskExecutor
        from ansible.plugins.action import ActionBase
    except ImportError:
        return
    record = {"gc_ms": [0.0, 0.0, 0.0], "gc_count": [0, 0, 0], "payload_ms": 0.0, "module_process_ms": 0.0}
    started = {}

    def on_gc(phase, info):
        generation = info["generation"]
        if phase == "start":
            started[generation] = time.perf_counter()
        elif generation in started:
            record["gc_ms"][generation] += (time.perf_counter() - started.pop(generation)) * 1000
            record["gc_count"][generation] += 1

    def timed(owner, name, key, combine):
        original = getattr(owner, name, None)
        if original is None:
            return

        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                record[key] = combine(record[key], (time.perf_counter() - begin) * 1000)

        setattr(owner, name, wrapper)

    timed(ActionBase, "_configure_module", "payload_ms", lambda total, ms: total + ms)
    timed(ActionBase, "_low_level_execute_command", "module_process_ms", max)
    original_run = TaskExecutor.run

    def run(self):
        # The record is written before the worker sends the task's result: once the result is sent,
        # ansible-playbook may finish and end its workers before they write anything.
        begin = time.perf_counter()
        try:
            return original_run(self)
        finally:
            record["worker_ms"] = (time.perf_counter() - begin) * 1000
            with open(_OUT, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    TaskExecutor.run = run
    gc.callbacks.append(on_gc)


if _OUT:
    os.register_at_fork(after_in_child=_instrument_worker)
