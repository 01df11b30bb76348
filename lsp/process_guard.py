"""Start a language server that dies with the Python process that started it.

Run as ``python process_guard.py PARENT_PID PROGRAM [ARGS...]``: it asks Linux
to SIGKILL it when its parent goes away (``prctl(PR_SET_PDEATHSIG)``, kept
across ``exec``), checks that the parent is still `PARENT_PID` (else the
parent died before the request and nobody would ever send the signal), and
then replaces itself with PROGRAM, which keeps the same pid.

The "parent" the kernel watches is the *thread* that forked: the session
starts its servers from its event-loop thread, which lives as long as the
session does, so a server lives at most as long as its session's thread, and
never longer than its Python process, however that process ends (SIGKILL too).

Elsewhere than Linux the guard only execs PROGRAM.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys

PR_SET_PDEATHSIG = 1
GUARD = os.path.abspath(__file__)


def pid_alive(pid: int) -> bool:
    """True if a process `pid` exists (a zombie not yet reaped counts as existing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def guarded(command: list[str], parent_pid: int | None = None) -> list[str]:
    """`command` wrapped in the guard, for the process `parent_pid` (default: this one).

    A program that does not exist raises FileNotFoundError here, as starting it
    directly would, rather than making a guard that exits at once.
    """
    if shutil.which(command[0]) is None:
        raise FileNotFoundError(errno.ENOENT, "no such program", command[0])
    if not sys.platform.startswith("linux"):
        return list(command)
    # -I -S: isolated and without site-packages, so the guard starts in ~15 ms
    return [sys.executable, "-I", "-S", GUARD, str(parent_pid or os.getpid()), *command]


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.stderr.write("usage: process_guard.py PARENT_PID PROGRAM [ARGS...]\n")
        sys.exit(2)
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            sys.stderr.write(f"process_guard: prctl failed (errno {ctypes.get_errno()})\n")
            sys.exit(70)
        if os.getppid() != parent:
            sys.exit(71)  # the parent is already gone: do not start an orphan
    try:
        os.execvp(command[0], command)
    except OSError as err:
        sys.stderr.write(f"process_guard: cannot run {command[0]}: {err}\n")
        sys.exit(127)


if __name__ == "__main__":
    main(sys.argv[1:])
