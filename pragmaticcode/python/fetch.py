"""Fetch a PyPI package as source, with its dependencies in a virtual environment of its own.

Each package gets three things under a work directory: its unpacked source
distribution (what prompts are cut from), a venv with its dependencies but
not the package itself (so the language server and the type checker resolve
the package from the source tree and third-party types from the venv), and a
type-checker configuration that ties the two together.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass

from mgd.errors import InputError
from mgd.pragmaticcode.errors import FetchError
from mgd.pragmaticcode.locks import exclusive
from mgd.pragmaticcode.packages import read_package_list

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")


@dataclass(frozen=True, order=True)
class PackageSpec:
    """One pinned PyPI package."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def slug(self) -> str:
        """A directory name for this package and version."""
        return f"{normalise(self.name)}-{self.version}"


def normalise(name: str) -> str:
    """PEP 503 normal form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_package_list(text: str, source: str = "<packages>") -> list[PackageSpec]:
    """Parse `name==version` lines; raise InputError naming the first bad line."""
    specs: list[PackageSpec] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise InputError(f"{source}:{number}: expected name==version, got {line!r}")
        spec = PackageSpec(match.group(1), match.group(2))
        if normalise(spec.name) in seen:
            raise InputError(f"{source}:{number}: {spec.name} is listed twice")
        seen.add(normalise(spec.name))
        specs.append(spec)
    return specs


def read_pypi_package_list(path: str | os.PathLike) -> list[PackageSpec]:
    """Read a PyPI package-list file; raise InputError if it is missing, malformed or empty."""
    return read_package_list(path, parse_package_list)


READY = "mgd-ready.json"
PYRIGHT_CONFIG = "mgd-pyrightconfig.json"
CHECK_PREFIX = "_mgd_check_"  # files the type check writes beside a module, briefly
_SKIP_DIRS = {"tests", "test", "docs", "doc", "examples", "example", "benchmarks", "scripts", ".git", "build", "dist"}


@dataclass(frozen=True)
class PackageBuild:
    """A fetched package: where its source is and which Python resolves its dependencies."""

    spec: PackageSpec
    root: pathlib.Path  # the unpacked source distribution
    source_root: pathlib.Path  # the directory its top-level modules are imported from
    python: pathlib.Path  # the venv interpreter with the dependencies
    top_level: tuple[str, ...]  # import names the package provides

    @property
    def pyright_config(self) -> pathlib.Path:
        """The basedpyright configuration written for this package."""
        return self.root / PYRIGHT_CONFIG

    def configure_checker(self) -> None:
        """Write the basedpyright configuration: the package's venv, and its source root as an import path."""
        config = {
            "venvPath": str(self.python.parent.parent.parent),
            "venv": self.python.parent.parent.name,
            "extraPaths": [str(self.source_root)],
            "typeCheckingMode": "standard",
            "reportMissingModuleSource": "none",
        }
        self.pyright_config.write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")

    def module_files(self) -> list[pathlib.Path]:
        """The package's own Python files (not its tests, docs or examples), sorted."""
        files: list[pathlib.Path] = []
        for name in self.top_level:
            single = self.source_root / f"{name}.py"
            if single.is_file():
                files.append(single)
                continue
            for path in (self.source_root / name).rglob("*.py"):
                if path.name.startswith(CHECK_PREFIX):
                    continue  # a type-check variant an evaluation has not removed yet
                if not (_SKIP_DIRS & set(path.relative_to(self.source_root).parts[:-1])):
                    files.append(path)
        return sorted(files)

    def language_server(self, **options):
        """A jedi session (not started; `with` starts it) that resolves the package from its source, the rest from its venv."""
        from mgd.lsp.session import LanguageServerSession

        return LanguageServerSession(self.root, environment=self.python, extra_paths=[self.source_root], **options)


def fetch(spec: PackageSpec, work: str | os.PathLike, timeout: float = 900.0) -> PackageBuild:
    """Download, unpack and install `spec` under `work` (reused if already there); raise FetchError."""
    work = pathlib.Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    with exclusive(work / f"{spec.slug}.lock"):
        return _fetch_locked(spec, work / spec.slug, timeout)


def _fetch_locked(spec: PackageSpec, home: pathlib.Path, timeout: float) -> PackageBuild:
    ready = home / READY
    if ready.is_file():
        build = _load_ready(spec, home, ready)
        if build is not None:
            return build
    if home.exists():
        shutil.rmtree(home)
    (home / "download").mkdir(parents=True)
    _run(
        # Source only for the package itself: its build backend may still come as a wheel.
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", spec.name,
         "--dest", str(home / "download"), str(spec)],
        f"download {spec}", timeout,
    )
    archives = list((home / "download").iterdir())
    archives = [a for a in archives if a.name.endswith((".tar.gz", ".zip", ".tgz"))] or archives
    if len(archives) != 1:
        raise FetchError(f"{spec}: expected one source distribution, found {len(archives)}")
    root = _unpack(archives[0], home / "source")
    venv = home / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], f"create a venv for {spec}", timeout)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(spec)],
         f"install {spec} and its dependencies", timeout)
    top_level = _top_level(python, spec.name)
    _run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", spec.name], f"uninstall {spec}", timeout)
    source_root = _find_source_root(root, top_level)
    if source_root is None:
        raise FetchError(f"{spec}: none of its modules {', '.join(top_level)} is in its source distribution")
    freeze = _run([str(python), "-m", "pip", "freeze"], f"list the dependencies of {spec}", timeout).split()
    record = {
        "package": spec.name,
        "version": spec.version,
        "archive": archives[0].name,
        "root": str(root.relative_to(home)),
        "source_root": str(source_root.relative_to(home)),
        "top_level": top_level,
        "dependencies": freeze,
    }
    build = PackageBuild(spec, root, source_root, python, tuple(top_level))
    build.configure_checker()
    ready.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return build


def _load_ready(spec: PackageSpec, home: pathlib.Path, ready: pathlib.Path) -> PackageBuild | None:
    try:
        record = json.loads(ready.read_text(encoding="utf-8"))
        build = PackageBuild(
            spec,
            home / record["root"],
            home / record["source_root"],
            home / "venv" / "bin" / "python",
            tuple(record["top_level"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if not (build.python.exists() and build.source_root.is_dir()):
        return None
    build.configure_checker()  # absolute paths: rewrite in case the work directory moved
    return build


def _run(command: list[str], what: str, timeout: float) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FetchError(f"could not {what}: no result in {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        raise FetchError(f"could not {what}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return done.stdout


def _unpack(archive: pathlib.Path, dest: pathlib.Path) -> pathlib.Path:
    dest.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as handle:
                handle.extractall(dest)
        else:
            with tarfile.open(archive) as handle:
                handle.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as err:
        raise FetchError(f"could not unpack {archive.name}: {err}") from None
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


_TOP_LEVEL_SCRIPT = """
import importlib.metadata, json, sys
names = set()
for f in importlib.metadata.distribution(sys.argv[1]).files or ():
    parts = f.parts
    if parts[0].endswith(('.dist-info', '.egg-info', '.data')) or parts[0] in ('..', 'bin', '__pycache__'):
        continue
    if len(parts) == 1 and parts[0].endswith('.py'):
        names.add(parts[0][:-3])
    elif len(parts) > 1 and str(f).endswith('.py'):
        names.add(parts[0])
print(json.dumps(sorted(names)))
"""


def _top_level(python: pathlib.Path, name: str) -> list[str]:
    out = _run([str(python), "-c", _TOP_LEVEL_SCRIPT, name], f"list the modules of {name}", 120)
    names = json.loads(out)
    if not names:
        raise FetchError(f"{name} installs no Python modules")
    return names


def _find_source_root(root: pathlib.Path, top_level: list[str]) -> pathlib.Path | None:
    """The shallowest directory holding one of the package's top-level modules."""
    best: tuple[int, pathlib.Path] | None = None
    for dirpath, dirnames, filenames in os.walk(root):
        here = pathlib.Path(dirpath)
        depth = len(here.relative_to(root).parts)
        if depth > 4:
            dirnames[:] = []
            continue
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        if any(name in dirnames or f"{name}.py" in filenames for name in top_level):
            if best is None or depth < best[0]:
                best = (depth, here)
    return best[1] if best else None
