# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark's own profile (tests/benchmarks/control.py), not shipped in
plugins/: per task, the wall time of each host's run and the controller's
CPU, written as JSON to $BENCH_PROFILE_OUT when the playbook ends.

CPU is read with getrusage at every task start and charged to the task
before it: ``main`` is the ansible-playbook process itself (the strategy,
templating, variables, callbacks: one thread, the serial part of a run);
``tree`` adds its reaped children (the forked workers, their connection
processes and, on the lab, the hosts' module processes too, since nsenter
runs them on this machine). Children are reaped a little after they end, so
``tree`` per task is approximate; its sum is exact once the run ends."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: bench_profile
type: aggregate
short_description: Per-task wall and controller CPU for the benchmark
description:
  - Writes per task and host wall times and the controller's CPU to the file named by E(BENCH_PROFILE_OUT).
options: {}
"""

import json
import os
import resource
import time

from ansible.plugins.callback import CallbackBase


def _cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks, self.current = [], None
        self.started = time.monotonic()
        self.cpu_start = _cpu()
        self.mark = (self.started,) + self.cpu_start

    def _close(self):
        """Charge the time since the last mark to the current task."""
        now, (own, children) = time.monotonic(), _cpu()
        if self.current is not None:
            self.current["wall"] += now - self.mark[0]
            self.current["cpu_main"] += own - self.mark[1]
            self.current["cpu_tree"] += own + children - self.mark[1] - self.mark[2]
        self.mark = (now, own, children)

    def _start(self, task, kind):
        self._close()
        self.current = {"name": task.get_name(), "kind": kind, "action": task.action,
                        "path": task.get_path() or "", "wall": 0.0, "cpu_main": 0.0, "cpu_tree": 0.0,
                        "hosts": {}}
        self.tasks.append(self.current)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task, "task")

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task, "handler")

    def v2_runner_on_start(self, host, task):
        if self.current is not None:
            self.current["hosts"][host.get_name()] = {"start": time.monotonic(), "seconds": None, "status": None}

    def _end(self, result, status):
        if self.current is None:
            return
        entry = self.current["hosts"].get(result._host.get_name())
        if entry is None or entry["seconds"] is not None:
            return
        entry["seconds"] = time.monotonic() - entry.pop("start")
        if status == "ok" and result._result.get("changed"):
            status = "changed"
        entry["status"] = status

    def v2_runner_on_ok(self, result):
        self._end(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._end(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._end(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._end(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._close()
        self.current = None
        own, children = _cpu()
        for task in self.tasks:
            for entry in task["hosts"].values():
                entry.pop("start", None)
        path = os.environ.get("BENCH_PROFILE_OUT")
        if path:
            with open(path, "w") as handle:
                json.dump({"wall": time.monotonic() - self.started, "cpu_main": own - self.cpu_start[0],
                           "cpu_tree": own + children - sum(self.cpu_start), "tasks": self.tasks}, handle)
