"""`mgd pragmaticcode build --language java`: Debian package list in, Java dataset folder out.

For each `SOURCE=DEBIANVERSION` line: fetch the source package and its
library jars, make sure it compiles cleanly with ECJ (`java_debian.fetch_java`,
which skips a project that does not), start JDT.LS on it and choose its
prompts (`java_select.select`). Writes `prompts.jsonl`, `packages.txt` and
`build-report.json` (per package: status, counts, source roots, jars, timings).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time

from tqdm import tqdm

from .builder import PACKAGES, PROMPTS, REPORT, BuildReport
from .fetch import FetchError
from .java_debian import JavaSpec, fetch_java, metadata, read_java_package_list
from .select_prompts import Limits


def build_java_dataset(
    packages: str | os.PathLike, out: str | os.PathLike, work: str | os.PathLike | None = None, limits: Limits = Limits()
) -> BuildReport:
    """Fetch every listed Debian package into `work`, choose its prompts, and write the dataset into `out`.

    `work` None means `java_debian.default_java_work()`. Returns the report;
    `build-report.json` in `out` holds it with per-package details.
    """
    from ..lsp.session import LanguageServerSession, ServerUnavailable
    from .java_compile import CheckerUnavailable
    from .java_select import candidates_of, select

    specs = read_java_package_list(packages)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if pathlib.Path(packages).resolve() != (out / PACKAGES).resolve():
        shutil.copyfile(packages, out / PACKAGES)
    report = BuildReport()
    details: dict[str, dict] = {}
    started = time.perf_counter()
    partial = out / (PROMPTS + ".partial")
    with open(partial, "w", encoding="utf-8") as handle, tqdm(specs, desc="packages", unit="pkg") as bar:
        for spec in bar:
            bar.set_postfix_str(str(spec))
            detail: dict = {"status": "skipped"}
            details[str(spec)] = detail
            began = time.perf_counter()
            try:
                build = fetch_java(spec, work)
                detail.update(_project_detail(build, metadata(build)))
                detail["fetch_and_compile_seconds"] = round(time.perf_counter() - began, 1)
                pool = candidates_of(build, limits)
                detail["candidates"] = len(pool)
                session = LanguageServerSession(
                    build.root, language="java", source_paths=[str(p) for p in build.source_roots],
                    classpath=[str(p) for p in build.classpath],
                )  # fmt: skip
                with session, tqdm(total=limits.max_queries, desc=f"  {spec.source}", unit="dot", leave=False) as dots:
                    stats: dict = {}
                    prompts = select(build, session, limits, progress=dots, pool=pool, stats=stats)
                detail.update(stats)
            except (FetchError, ServerUnavailable, CheckerUnavailable) as err:
                report.skipped[str(spec)] = detail["reason"] = str(err)
                tqdm.write(f"mgd: skipped {spec}: {err}")
                continue
            finally:
                detail["seconds"] = round(time.perf_counter() - began, 1)
            if not prompts:
                report.skipped[str(spec)] = detail["reason"] = "no dot whose name is defined in another file or a jar"
                tqdm.write(f"mgd: skipped {spec}: no prompt found")
                continue
            for prompt in prompts:
                handle.write(prompt.to_json() + "\n")
            handle.flush()
            report.prompts[str(spec)] = len(prompts)
            kinds = [p.definition["kind"] for p in prompts]
            detail.update(status="ok", prompts=len(prompts), project=kinds.count("project"), dependency=kinds.count("dependency"))
    os.replace(partial, out / PROMPTS)
    report.seconds = round(time.perf_counter() - started, 1)
    summary = {
        "language": "java",
        "prompts": sum(report.prompts.values()),
        "per_package": report.prompts,
        "skipped": report.skipped,
        "packages": details,
        "limits": limits.__dict__,
        "seconds": report.seconds,
    }
    (out / REPORT).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return report


def _project_detail(build, record: dict) -> dict:
    return {
        "java_files": len(build.java_files()),
        "source_roots": record.get("source_roots", []),
        "dropped_roots": record.get("dropped_roots", []),
        "classpath": [pathlib.Path(p).name for p in record.get("classpath", [])],
        "added_jars": [pathlib.Path(p).name for p in record.get("added_jars", [])],
        "debian_packages": record.get("debian_packages", []),
        "source_level": record.get("source_level"),
    }


__all__ = ["JavaSpec", "build_java_dataset"]
