"""Small helpers: the lab's error type, logging to stderr and running argv
lists (never a shell)."""

import subprocess
import sys
import time
from pathlib import Path


class LabError(Exception):
    """A failure the user can act on: cli.py prints it as one line and exits 1."""


class CommandError(LabError, RuntimeError):
    """A command the lab ran failed."""


class LabTimeout(LabError, TimeoutError):
    """Something the lab waited for did not happen in time."""


def log(message):
    print(f"mptcp-lab: {message}", file=sys.stderr, flush=True)


def run(argv, check=True, capture=False, timeout=None, env=None, input=None):
    """Run argv; with capture=True return stdout as text."""
    result = subprocess.run(
        [str(a) for a in argv],
        check=False,
        text=True,
        input=input,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        timeout=timeout,
        env=env,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        detail = (result.stderr or "").strip() if capture else ""
        raise CommandError(f"command failed ({result.returncode}): {' '.join(map(str, argv))}"
                           + (f"\n{detail}" if detail else ""))
    return result.stdout if capture else result.returncode


def wait_for(predicate, timeout, what, interval=0.2):
    """Poll predicate() until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise LabTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    """Whether a process runs; a zombie still answers kill(0), so read its state."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return False
