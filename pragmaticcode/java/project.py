"""A Java project of the evaluation: a Debian source package fetched into a work folder.

`JavaSpec` names the package (`SOURCE=DEBIANVERSION`, as package lists write
it); `JavaProjectBuild` is the fetched project: its source tree, where its
packages start (source roots), its jars and the language level it compiles
at, recorded in `mgd-java.json` so a later run reuses it.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from dataclasses import dataclass, field

from mgd.errors import InputError
from mgd.pragmaticcode.packages import read_package_list

READY = "mgd-java.json"


_SKIP_DIRS = {
    "test", "tests", "testing", "example", "examples", "demo", "demos", "benchmark", "benchmarks",
    "debian", ".pc", ".git", "doc", "docs", "site", "samples", "sample", "jmh", "it", "build", "target",
}  # fmt: skip


_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;", re.MULTILINE)


@dataclass(frozen=True, order=True)
class JavaSpec:
    """One Debian source package at one version."""

    source: str
    version: str

    def __str__(self) -> str:
        return f"{self.source}={self.version}"

    @property
    def name(self) -> str:
        """The source package's name (what a prompt's `package` holds)."""
        return self.source

    @property
    def slug(self) -> str:
        """A directory name for this package and version (a Debian epoch's `:` replaced)."""
        return f"deb-{self.source}-{self.version.replace(':', '_')}"


@dataclass(frozen=True)
class JavaProjectBuild:
    """A fetched Java project: its source tree, where its packages start, and its jars."""

    spec: JavaSpec
    root: pathlib.Path  # the unpacked source tree; prompt files are relative to it
    source_roots: list[pathlib.Path]  # folders holding package trees (absolute)
    classpath: list[pathlib.Path]  # dependency jars (absolute)
    source_level: str = "17"  # the ECJ compliance level the project compiles at (`-17`, `-1.8`, ...)
    debian_packages: list[str] = field(default_factory=list)  # the binary packages installed for it
    unresolved: list[str] = field(default_factory=list)  # declared dependencies no jar was found for (a build's model)
    # files the build leaves out of compilation (Maven `<excludes>`): Ant patterns relative to `root`
    excluded: list[str] = field(default_factory=list)

    @classmethod
    def from_model(cls, spec: JavaSpec, model, *, tests: bool = False) -> JavaProjectBuild:
        """The build a `mgd.lsp.project.ProjectModel` describes: its main source roots (then its test roots, with
        `tests`), its jars, its Java level (17 when the build names none; below 1.8 read as 1.8)."""
        from mgd.lsp.project import supported_java_level

        # main roots first: ECJ's -sourcepath takes a type from the first root holding it
        roots = [pathlib.Path(r) for r in (*model.source_roots, *(model.test_roots if tests else ()))]
        jars = [pathlib.Path(j) for j in model.classpath]
        level = supported_java_level(model.java_level) or "17"
        root = pathlib.Path(model.root)
        excluded = [pathlib.Path(p).relative_to(root).as_posix() for p in model.excluded]
        return cls(spec, root, roots, jars, source_level=level, unresolved=list(model.unresolved), excluded=excluded)

    @property
    def home(self) -> pathlib.Path:
        """The package's work directory (holds `source/`, `download/`, the metadata)."""
        return self.root.parent

    def java_files(self) -> list[pathlib.Path]:
        """The project's own Java files (under its source roots, no tests), sorted."""
        from mgd.lsp.project import ant_pattern

        left_out = [ant_pattern(p) for p in self.excluded]
        files: set[pathlib.Path] = set()
        for root in self.source_roots:
            for path in root.rglob("*.java"):
                if _SKIP_DIRS & set(path.relative_to(root).parts[:-1]):
                    continue
                if left_out and any(p.fullmatch(path.relative_to(self.root).as_posix()) for p in left_out):
                    continue
                files.add(path)
        return sorted(files)

    def language_server(self, **options):
        """A JDT.LS session (not started; `with` starts it) on this project's source folders and jars, at its Java level."""
        from mgd.lsp.session import LanguageServerSession

        return LanguageServerSession(
            self.root, language="java", source_paths=[str(p) for p in self.source_roots],
            classpath=[str(p) for p in self.classpath], java_level=self.source_level, **options,
        )  # fmt: skip

    def source_root_of(self, path: pathlib.Path) -> pathlib.Path | None:
        """The (deepest) source root holding `path`, or None."""
        found = [r for r in self.source_roots if path.is_relative_to(r)]
        return max(found, key=lambda r: len(r.parts)) if found else None

    def write_metadata(self, extra: dict | None = None) -> None:
        """Record this build in `mgd-java.json` (paths of the tree relative to the work directory)."""
        record = {
            "package": self.spec.source,
            "version": self.spec.version,
            "root": self.root.relative_to(self.home).as_posix(),
            "source_roots": [r.relative_to(self.root).as_posix() for r in self.source_roots],
            "classpath": [str(p) for p in self.classpath],
            "source_level": self.source_level,
            "debian_packages": list(self.debian_packages),
            "excluded": list(self.excluded),
            **(extra or {}),
        }
        (self.home / READY).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def parse_java_package_list(text: str, source: str = "<packages>") -> list[JavaSpec]:
    """Parse `SOURCE=DEBIANVERSION` lines (`#` comments); raise InputError naming the first bad line."""
    specs: list[JavaSpec] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise InputError(f"{source}:{number}: expected SOURCE=DEBIANVERSION (a Debian source package), got {line!r}")
        spec = JavaSpec(match.group(1), match.group(2))
        if spec.source in seen:
            raise InputError(f"{source}:{number}: {spec.source} is listed twice")
        seen.add(spec.source)
        specs.append(spec)
    return specs


def read_java_package_list(path: str | os.PathLike) -> list[JavaSpec]:
    """Read a Java package-list file; raise InputError if it is missing, malformed or empty."""
    return read_package_list(path, parse_java_package_list)


def default_java_work() -> pathlib.Path:
    """Where Java packages are kept by default: $MGD_CACHE_DIR/pragmaticcode-java or ~/.cache/mgd/pragmaticcode-java."""
    from mgd.models import cache_root

    return cache_root() / "pragmaticcode-java"


def metadata(build: JavaProjectBuild) -> dict:
    """The recorded metadata of a fetched project (`mgd-java.json`)."""
    return json.loads((build.home / READY).read_text(encoding="utf-8"))


def find_source_roots(root: pathlib.Path) -> list[pathlib.Path]:
    """Folders whose sub-folders are the Java package tree (main code only; no tests, examples, debian/).

    Each .java file's `package` line tells how far up its root is; a root
    counts when it holds at least one file and lies outside test-like folders.
    """
    counts: dict[pathlib.Path, int] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = pathlib.Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d.lower() not in _SKIP_DIRS and not d.startswith("."))
        rel_parts = here.relative_to(root).parts
        if "src" in rel_parts and any(p in ("test", "tests", "it", "jmh") for p in rel_parts):
            continue
        for name in filenames:
            if not name.endswith(".java") or name in ("package-info.java", "module-info.java"):
                continue
            try:
                head = (here / name).read_text(encoding="utf-8", errors="replace")[:20000]
            except OSError:
                continue
            match = _PACKAGE.search(_strip_comments(head))
            parts = match.group(1).split(".") if match else []
            if parts and tuple(rel_parts[-len(parts) :]) != tuple(parts):
                continue  # the folder does not match the package: not compilable from a source path
            base = pathlib.Path(root, *rel_parts[: len(rel_parts) - len(parts)])
            counts[base] = counts.get(base, 0) + 1
    return sorted(counts)


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.DOTALL)


_LINE = re.compile(r"^([a-z0-9][a-z0-9.+-]+)=([A-Za-z0-9.+~:-]+)$")
