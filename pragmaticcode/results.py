"""The results file: one JSON record per sample, appended and flushed as written.

A run killed mid-write can leave a last line without its line break; reading
for `--resume` drops that line (the sample is simply run again), and any
other malformed line is an error naming the file and line.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import threading

from mgd.errors import InputError
from mgd.pragmaticcode.jsonl import parse_object

log = logging.getLogger("mgd")

KEY_FIELDS = ("prompt_id", "mode", "sample")
REQUIRED = {"prompt_id": str, "mode": str, "sample": int, "cr": (bool, type(None)), "nim": (int, float), "ism": (int, float), "pm": (int, float)}


def sample_key(record: dict) -> tuple:
    """What identifies a sample across runs and shards."""
    return tuple(record[f] for f in KEY_FIELDS)


def read_results(path: str | os.PathLike, repair: bool = False) -> list[dict]:
    """Records of a results file; with `repair`, cut an unfinished last line off the file."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"results file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"results file {path} is a directory") from None
    complete = data.rfind(b"\n") + 1
    if complete < len(data):
        log.warning("%s: the last line is unfinished (an interrupted write); it is ignored", path)
        if repair:
            with open(path, "r+b") as handle:
                handle.truncate(complete)
    records = []
    for number, line in enumerate(data[:complete].decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        record = parse_object(line, f"{path}:{number}", REQUIRED)
        records.append(record)
    return records


class ResultWriter:
    """Appends records, one line per write, flushed at once so a kill loses at most the line in flight."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._handle = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: dict) -> None:
        """Append one record."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file."""
        self._handle.close()
