"""One process at a time on a project's work folder, whatever its language."""

from __future__ import annotations

import contextlib
import fcntl
import pathlib


@contextlib.contextmanager
def exclusive(path: pathlib.Path):
    """Hold an exclusive advisory lock on `path` (created if missing) for the block.

    Evaluation shards share the work folder: one fetches a package while the
    others wait, instead of deleting a tree another one is reading.
    """
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
