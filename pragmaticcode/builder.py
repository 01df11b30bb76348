"""`mgd pragmaticcode build`: package list in, dataset folder out."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from ..lsp.session import LanguageServerSession, ServerUnavailable
from .fetch import FetchError, fetch
from .packages import read_package_list
from .select_prompts import Limits, select

PROMPTS = "prompts.jsonl"
PACKAGES = "packages.txt"
REPORT = "build-report.json"


@dataclass
class BuildReport:
    """What a build produced: prompts per package, and the packages it had to skip and why."""

    prompts: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def build_dataset(
    packages: str | os.PathLike, out: str | os.PathLike, work: str | os.PathLike, limits: Limits = Limits()
) -> BuildReport:
    """Fetch every listed package into `work`, choose its prompts, and write the dataset into `out`."""
    specs = read_package_list(packages)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if pathlib.Path(packages).resolve() != (out / PACKAGES).resolve():
        shutil.copyfile(packages, out / PACKAGES)
    report = BuildReport()
    started = time.perf_counter()
    partial = out / (PROMPTS + ".partial")
    with open(partial, "w", encoding="utf-8") as handle, tqdm(specs, desc="packages", unit="pkg") as bar:
        for spec in bar:
            bar.set_postfix_str(str(spec))
            try:
                build = fetch(spec, work)
                with LanguageServerSession(build.root, environment=build.python, extra_paths=[build.source_root]) as session:
                    with tqdm(total=limits.max_queries, desc=f"  {spec.name}", unit="dot", leave=False) as dots:
                        prompts = select(build, session, limits, progress=dots)
            except (FetchError, ServerUnavailable) as err:
                report.skipped[str(spec)] = str(err)
                tqdm.write(f"mgd: skipped {spec}: {err}")
                continue
            if not prompts:
                report.skipped[str(spec)] = "no dot whose name is defined in another file"
                tqdm.write(f"mgd: skipped {spec}: no prompt found")
                continue
            for prompt in prompts:
                handle.write(prompt.to_json() + "\n")
            handle.flush()
            report.prompts[str(spec)] = len(prompts)
    os.replace(partial, out / PROMPTS)
    report.seconds = round(time.perf_counter() - started, 1)
    summary = {
        "prompts": sum(report.prompts.values()),
        "per_package": report.prompts,
        "skipped": report.skipped,
        "limits": limits.__dict__,
        "seconds": report.seconds,
    }
    (out / REPORT).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return report
