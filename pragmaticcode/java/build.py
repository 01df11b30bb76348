"""`mgd pragmaticcode build --language java`: Debian package list in, Java dataset folder out.

For each `SOURCE=DEBIANVERSION` line: fetch the source package and its
library jars, make sure it compiles cleanly with ECJ (`java.fetch.fetch_java`,
which skips a project that does not), start JDT.LS on it and choose its
prompts (`java.select.select`). Writes `prompts.jsonl`, `packages.txt` and
`build-report.json` (per package: status, counts, source roots, jars, timings).
"""

from __future__ import annotations

import os
import pathlib
import time

from tqdm import tqdm

from mgd.pragmaticcode.dataset import BuildReport, DatasetWriter, Limits
from mgd.pragmaticcode.errors import FetchError
from mgd.pragmaticcode.java.fetch import fetch_java
from mgd.pragmaticcode.java.project import JavaSpec, metadata, read_java_package_list


def build_java_dataset(
    packages: str | os.PathLike, out: str | os.PathLike, work: str | os.PathLike | None = None, limits: Limits = Limits()
) -> BuildReport:
    """Fetch every listed Debian package into `work`, choose its prompts, and write the dataset into `out`.

    `work` None means `java.project.default_java_work()`. Returns the report;
    `build-report.json` in `out` holds it with per-package details.
    """
    from mgd.lsp.session import ServerUnavailable
    from mgd.pragmaticcode.java.check import CheckerUnavailable
    from mgd.pragmaticcode.java.select import candidates_of, select

    specs = read_java_package_list(packages)
    writer = DatasetWriter(packages, out)
    details: dict[str, dict] = {}
    with tqdm(specs, desc="packages", unit="pkg") as bar:
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
                dots = tqdm(total=limits.max_queries, desc=f"  {spec.source}", unit="dot", leave=False)
                with build.language_server() as session, dots:
                    stats: dict = {}
                    prompts = select(build, session, limits, progress=dots, pool=pool, stats=stats)
                detail.update(stats)
            except (FetchError, ServerUnavailable, CheckerUnavailable) as err:
                writer.skip(spec, str(err))
                detail["reason"] = str(err)
                continue
            finally:
                detail["seconds"] = round(time.perf_counter() - began, 1)
            if not writer.add(spec, prompts, "no dot whose name is defined in another file or a jar"):
                detail["reason"] = writer.report.skipped[str(spec)]
                continue
            kinds = [p.definition["kind"] for p in prompts]
            detail.update(status="ok", prompts=len(prompts), project=kinds.count("project"), dependency=kinds.count("dependency"))
    return writer.finish(limits, head={"language": "java"}, extra={"packages": details})


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
