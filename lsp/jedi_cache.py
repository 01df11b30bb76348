"""jedi's on-disk parse cache, and the torn files that break it.

jedi (through parso) keeps a pickle of every module it parsed from disk under
its cache folder (`~/.cache/jedi/CPython-311-33/`, shared by every jedi
process of the user). parso writes each file in place, so a process killed
while writing one (a server stopped with SIGKILL, as a session does with a
hung one) leaves it cut short, and parso does not recover: from then on every
request that reaches that module fails with `EOFError: Ran out of input`
(JSON-RPC -32603) in every jedi process on the machine, and guidance there
is silently gone. A whole pickle ends with the STOP opcode (`.`); a torn one
almost never does, so reading each file's last byte finds them.
"""

from __future__ import annotations

import logging
import os
import pathlib

log = logging.getLogger("mgd")

_STOP = b"."
# what a request that read a torn cache file fails with (the server's error message)
_TORN_SIGNS = ("Ran out of input", "pickle data was truncated", "UnpicklingError")


def cache_folder() -> pathlib.Path:
    """The folder jedi keeps its parse cache in, as a jedi-language-server started from this process sees it."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return pathlib.Path(base) / "jedi"


def torn_pickles(folder: str | os.PathLike | None = None) -> list[pathlib.Path]:
    """Cache files under `folder` (default: jedi's) that end before their STOP opcode."""
    root = pathlib.Path(folder) if folder is not None else cache_folder()
    torn = []
    for path in root.glob("*/*.pkl"):
        try:
            if path.stat().st_size == 0:
                torn.append(path)
                continue
            with open(path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != _STOP:
                    torn.append(path)
        except OSError:  # gone meanwhile
            continue
    return torn


def remove_torn_pickles(folder: str | os.PathLike | None = None) -> list[pathlib.Path]:
    """Delete the torn cache files under `folder` (jedi parses those modules again); the ones removed."""
    removed = []
    for path in torn_pickles(folder):
        try:
            path.unlink()
            removed.append(path)
        except OSError as err:
            log.debug("jedi cache: cannot remove %s (%s)", path, err)
    if removed:
        log.warning("jedi cache: removed %d torn parse-cache file(s) that made requests fail", len(removed))
    return removed


def read_a_torn_pickle(message: str) -> bool:
    """True if a server's error `message` says it read a torn cache file."""
    return any(sign in message for sign in _TORN_SIGNS)
