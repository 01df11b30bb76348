"""Building a dataset, whatever its language: the selection caps, the dataset folder's writer and its report."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from mgd.pragmaticcode.prompts import Prompt


@dataclass(frozen=True)
class Limits:
    """How many prompts to take, and how much to look."""

    per_package: int = 10
    per_function: int = 10
    max_truth_lines: int = 15
    max_queries: int = 400


PROMPTS = "prompts.jsonl"
PACKAGES = "packages.txt"
REPORT = "build-report.json"


@dataclass
class BuildReport:
    """What a build produced: prompts per package, and the packages it had to skip and why."""

    prompts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


class DatasetWriter:
    """Writes a dataset folder as packages are done: the package list, `prompts.jsonl` (via a
    partial file, so an interrupted build leaves no half dataset) and `build-report.json`."""

    def __init__(self, packages: str | os.PathLike, out: str | os.PathLike) -> None:
        self.out = pathlib.Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        if pathlib.Path(packages).resolve() != (self.out / PACKAGES).resolve():
            shutil.copyfile(packages, self.out / PACKAGES)
        self.report = BuildReport()
        self._started = time.perf_counter()
        self._partial = self.out / (PROMPTS + ".partial")
        self._handle = open(self._partial, "w", encoding="utf-8")

    def add(self, spec, prompts: list[Prompt], empty_reason: str) -> bool:
        """Write a package's prompts; with none, record it as skipped for `empty_reason`. True if written."""
        if not prompts:
            self.skip(spec, empty_reason, "no prompt found")
            return False
        for prompt in prompts:
            self._handle.write(prompt.to_json() + "\n")
        self._handle.flush()
        self.report.prompts[str(spec)] = len(prompts)
        return True

    def skip(self, spec, reason: str, said: str | None = None) -> None:
        """Record a skipped package and say so."""
        self.report.skipped[str(spec)] = reason
        tqdm.write(f"mgd: skipped {spec}: {said or reason}")

    def finish(self, limits: Limits, head: dict | None = None, extra: dict | None = None) -> BuildReport:
        """Put `prompts.jsonl` in place and write the report (`head` first, `extra` before the limits)."""
        self._handle.close()
        os.replace(self._partial, self.out / PROMPTS)
        self.report.seconds = round(time.perf_counter() - self._started, 1)
        summary = {
            **(head or {}),
            "prompts": sum(self.report.prompts.values()),
            "per_package": self.report.prompts,
            "skipped": self.report.skipped,
            **(extra or {}),
            "limits": limits.__dict__,
            "seconds": self.report.seconds,
        }
        (self.out / REPORT).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        return self.report
