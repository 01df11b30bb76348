"""`mgd pragmaticcode build` for Python: a PyPI package list in, a dataset folder out."""

from __future__ import annotations

import os

from tqdm import tqdm

from mgd.lsp.session import ServerUnavailable
from mgd.pragmaticcode.dataset import BuildReport, DatasetWriter, Limits
from mgd.pragmaticcode.errors import FetchError
from mgd.pragmaticcode.python.fetch import fetch, read_pypi_package_list
from mgd.pragmaticcode.python.select import select


def build_dataset(
    packages: str | os.PathLike, out: str | os.PathLike, work: str | os.PathLike, limits: Limits = Limits()
) -> BuildReport:
    """Fetch every listed package into `work`, choose its prompts, and write the dataset into `out`."""
    specs = read_pypi_package_list(packages)
    writer = DatasetWriter(packages, out)
    with tqdm(specs, desc="packages", unit="pkg") as bar:
        for spec in bar:
            bar.set_postfix_str(str(spec))
            try:
                build = fetch(spec, work)
                with build.language_server() as session:
                    with tqdm(total=limits.max_queries, desc=f"  {spec.name}", unit="dot", leave=False) as dots:
                        prompts = select(build, session, limits, progress=dots)
            except (FetchError, ServerUnavailable) as err:
                writer.skip(spec, str(err))
                continue
            writer.add(spec, prompts, "no dot whose name is defined in another file")
    return writer.finish(limits)
