"""One model of a repository's project, read from its build files, for the language server and the compile check.

`read_project(root, language)` reads what the build says about where the code
is and what it needs: for Java a Maven build (`pom.xml`, `mgd.lsp.maven`) or
else a Gradle build (`settings.gradle(.kts)`, `build.gradle(.kts)`,
`mgd.lsp.gradle`), for Python `pyproject.toml` / `setup.cfg`
(`mgd.lsp.python_project`). Nothing is run: the files are parsed, and
dependencies are found as jars already on this machine (`mgd.lsp.artifacts`).
Without a build file a Java project's source folders are those of
`mgd.lsp.jdtls.default_source_paths` and a Python project's the root. Every
path in the model is absolute, resolved once here. `source_roots` hold main
code only; test roots (`src/test/java`) are kept apart in `test_roots`: the
language server gets both (completions inside tests), the compile check only
the main ones.
"""

from __future__ import annotations

import logging
import os
import pathlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from mgd.lsp.artifacts import ArtifactStores

__all__ = ["Module", "ProjectModel", "normalize_java_level", "project_session", "read_project", "supported_java_level"]

log = logging.getLogger("mgd")

LANGUAGES = ("java", "python")
GRADLE_FILES = ("settings.gradle", "settings.gradle.kts", "build.gradle", "build.gradle.kts")


@dataclass(frozen=True)
class Module:
    """One Maven module or Gradle project of a build: its folder, build file, source folders and Java level."""

    name: str  # Maven `groupId:artifactId`, Gradle project path (`:app`, `:` for the root)
    directory: str
    build_file: str | None
    source_roots: tuple[str, ...] = ()
    test_roots: tuple[str, ...] = ()
    java_level: str | None = None
    depends_on: tuple[str, ...] = ()  # other modules of the same build it declares as dependencies


@dataclass(frozen=True)
class ProjectModel:
    """What a repository's build says: source folders, Java level, dependencies and the jars found for them.

    `dependencies` are declared coordinates (`group:artifact:version`, or
    `group:artifact` when no version could be read; Python: requirement
    names), test-scoped ones left out, other modules of the same build left
    out (their folders are in `source_roots`). `classpath` holds the jars found
    for them on this machine, `unresolved` the coordinates found nowhere,
    `version_differs` the coordinates whose jar is another version (Debian's),
    mapped to that version. `notes` says what the build holds that was not
    read (a property without a value, a dependency form not understood).
    """

    root: str
    language: str
    build_system: str  # "maven", "gradle", "python" (pyproject.toml / setup.cfg), or "none"
    build_files: tuple[str, ...] = ()
    source_roots: tuple[str, ...] = ()
    test_roots: tuple[str, ...] = ()
    java_level: str | None = None  # `17`, `11`, `1.8`; None when the build does not say
    dependencies: tuple[str, ...] = ()
    classpath: tuple[str, ...] = ()
    unresolved: tuple[str, ...] = ()
    version_differs: dict[str, str] = field(default_factory=dict)
    modules: tuple[Module, ...] = ()
    packages: tuple[str, ...] = ()  # Python: the top-level packages found under the source roots
    notes: tuple[str, ...] = ()
    # main files the build leaves out (maven-compiler-plugin `<excludes>`), as Ant patterns under a source root:
    # `/abs/core/src/main/java/**/hdfs/*`; `excludes(path)` tells whether a file is one of them
    excluded: tuple[str, ...] = ()

    def excludes(self, path: str | os.PathLike) -> bool:
        """True if the build leaves the file at `path` (absolute) out of its compilation."""
        return any(ant_pattern(p).fullmatch(pathlib.Path(path).as_posix()) for p in self.excluded)

    def session_options(self) -> dict:
        """The `LanguageServerSession` keyword arguments for this project (besides `root` and `language`)."""
        if self.language == "java":
            return {
                "source_paths": [*self.source_roots, *self.test_roots],
                "classpath": list(self.classpath),
                "java_level": supported_java_level(self.java_level),
            }
        return {"extra_paths": [r for r in self.source_roots if r != self.root]}


_JAVA_VERSION = re.compile(r"^(?:1\.)?(\d+)(?:\.0)*$")


def normalize_java_level(value: str | None) -> str | None:
    """A Java level as the compilers name it: `8`, `1.8` -> `1.8`; `17`, `17.0` -> `17`; None if it is not one."""
    if value is None:
        return None
    match = _JAVA_VERSION.match(value.strip().strip("'\"").replace("_", "."))
    if not match:
        return None
    major = int(match.group(1))
    if major < 1 or major > 99:
        return None
    return f"1.{major}" if major <= 8 else str(major)


def supported_java_level(level: str | None) -> str | None:
    """The level JDT.LS and ECJ can run `level` at: below 1.8 (which ECJ rejects, `-1.7`) becomes 1.8."""
    if level is None:
        return None
    if level.startswith("1."):
        return "1.8"
    return level


def read_project(
    root: str | os.PathLike, language: str, *, stores: ArtifactStores | None = None
) -> ProjectModel:
    """The project at `root` for `language` ("java", "python"); jars are looked for in `stores` (default: this machine's)."""
    if language not in LANGUAGES:
        raise ValueError(f"no project model for {language!r} (supported: {', '.join(LANGUAGES)})")
    folder = pathlib.Path(root).resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"project root {root} is not a folder")
    if language == "python":
        from mgd.lsp.python_project import read_python_project

        return read_python_project(folder)
    stores = ArtifactStores.default() if stores is None else stores
    if (folder / "pom.xml").is_file():
        from mgd.lsp.maven import read_maven_project

        model = read_maven_project(folder, stores)
    elif any((folder / name).is_file() for name in GRADLE_FILES):
        from mgd.lsp.gradle import read_gradle_project

        model = read_gradle_project(folder, stores)
    else:
        return _default_java(folder)
    if not model.source_roots:
        # a build whose source folders are all elsewhere (generated, Kotlin) must not leave JDT.LS with none
        fallback = _default_java(folder)
        return replace(model, source_roots=fallback.source_roots, test_roots=fallback.test_roots,
                       notes=(*model.notes, "no source folder of the build exists; using the default folders"))  # fmt: skip
    return model


def project_session(root: str | os.PathLike, language: str = "python", **options):
    """A `LanguageServerSession` for `root` set up as its build describes (source folders, jars, Java level).

    `mgd complete`, `mgd serve` and `mgd.generate` start their servers here.
    A build file that cannot be read costs a warning and the default
    folders, never the completion; `options` go to the session as given and
    win over what the build says.
    """
    from mgd.lsp.session import LanguageServerSession

    try:
        model = read_project(root, language) if language in LANGUAGES else None
    except Exception as err:  # noqa: BLE001 - a build we cannot read must not cost the completion
        log.warning("mgd: could not read the build of %s (%s); using the default source folders", root, err)
        model = None
    if model is not None:
        if model.unresolved:
            shown = ", ".join(model.unresolved[:5]) + (", ..." if len(model.unresolved) > 5 else "")
            log.warning(
                "mgd: %d dependenc%s of %s not found on this machine (%s): completions on their types are unguided",
                len(model.unresolved), "y" if len(model.unresolved) == 1 else "ies", root, shown,
            )  # fmt: skip
        unread = [note for note in model.notes if "not read" in note]
        for note in unread[:3]:  # what the build holds and was not understood changes what the server sees: say so
            log.warning("mgd: %s", note)
        if len(unread) > 3:
            log.warning("mgd: and %d more parts of the build not read (-v lists them)", len(unread) - 3)
        for note in (n for n in model.notes if n not in unread[:3]):
            log.info("mgd: %s", note)
        build = "no build file" if model.build_system == "none" else f"{model.build_system} build"
        if language == "java":
            log.info(
                "mgd: %s at %s: %d source folder(s), %d jar(s), Java level %s",
                build, root, len(model.source_roots) + len(model.test_roots), len(model.classpath),
                model.java_level or "the server's own",
            )  # fmt: skip
        else:
            log.info("mgd: %s at %s: source folders %s", build, root, ", ".join(model.source_roots) or "-")
        options = {**model.session_options(), **options}
    return LanguageServerSession(root, language=language, **options)


def _default_java(folder: pathlib.Path) -> ProjectModel:
    """No build file: the folders `default_source_paths` picks (`src/test/java` as a test root)."""
    from mgd.lsp.jdtls import default_source_paths

    roots = [str((folder / p).resolve()) for p in default_source_paths(str(folder))]
    test = str((folder / "src" / "test" / "java").resolve())
    return ProjectModel(
        root=str(folder), language="java", build_system="none",
        source_roots=tuple(r for r in roots if r != test), test_roots=tuple(r for r in roots if r == test),
    )  # fmt: skip


_ANT_PARTS = re.compile(r"\*\*/|\*\*|\*|\?|[^*?]+")


def ant_pattern(pattern: str) -> re.Pattern:
    """An Ant/Maven file pattern (`**/hdfs/*`, `org/x/Y.java`) as a regular expression over `/`-separated paths."""
    out = []
    for part in _ANT_PARTS.findall(pattern.replace("\\", "/")):
        out.append({"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part) or re.escape(part))
    if pattern.endswith("/"):  # Ant: a trailing slash means everything below
        out.append(".*")
    return re.compile("".join(out))


def existing(folders: Iterable[str | os.PathLike]) -> tuple[str, ...]:
    """The folders that exist, each once, in order."""
    return tuple(dict.fromkeys(str(f) for f in folders if os.path.isdir(f)))


def highest_level(levels: Iterable[str | None]) -> str | None:
    """The newest of several Java levels (modules of one build may differ; code of an older one compiles at it)."""
    known = [level for level in levels if level]
    if not known:
        return None
    return max(known, key=lambda level: int(level.split(".")[-1]))


class Dependencies:
    """Collects a build's declared coordinates and finds their jars, in order, each once."""

    def __init__(self, stores: ArtifactStores) -> None:
        self.stores = stores
        self.declared: dict[str, None] = {}
        self.classpath: dict[str, None] = {}
        self.unresolved: dict[str, None] = {}
        self.version_differs: dict[str, str] = {}
        self._jar_of: set[tuple[str, str, str | None]] = set()

    def add(self, group: str, artifact: str, version: str | None, classifier: str | None = None) -> None:
        """Declare `group:artifact:version` and look for its jar (the first version of an artifact wins)."""
        from mgd.lsp.artifacts import find_jar

        coordinate = f"{group}:{artifact}" + (f":{version}" if version else "") + (f":{classifier}" if classifier else "")
        if coordinate in self.declared:
            return
        self.declared[coordinate] = None
        key = (group, artifact, classifier)
        if key in self._jar_of:
            return  # two versions of one jar on a classpath: the first declared is kept, as Maven's nearest wins
        found = find_jar(self.stores, group, artifact, version, classifier)
        if found is None:
            self.unresolved[coordinate] = None
            return
        self._jar_of.add(key)
        self.classpath[found.path] = None
        if found.version != version:
            self.version_differs[coordinate] = found.version

    def add_jar(self, path: str, label: str) -> None:
        """A jar the build names by path (Maven `system` scope, Gradle `files(...)`); `label` when it is missing."""
        self.declared[label] = None
        if os.path.isfile(path):
            self.classpath[os.path.abspath(path)] = None
        else:
            self.unresolved[label] = None


def read_toml(path: str | os.PathLike) -> dict | str:
    """A TOML file as a dict, or the reason it could not be read (Python 3.10 reads TOML only with `tomli`)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            return "no TOML reader (Python 3.10 without tomli)"
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, ValueError) as err:
        return str(err)
