"""Fetch a Debian Java source package, with its library dependencies as Debian jars.

A package list names Debian source packages as `SOURCE=DEBIANVERSION` lines
(`#` comments allowed). Each package gets, under `<work>/<slug>/`:

- `download/`: what `apt-get source --download-only` fetched (.dsc, tarballs);
- `source/`: the tree `dpkg-source -x` unpacked (Debian's patches applied),
  which prompt `file` paths are relative to;
- `mgd-java.json`: the metadata evaluation re-uses: source roots (relative to
  `source/`), the classpath (absolute jars under /usr/share/java), the Java
  source level the project compiles at, and the Debian packages installed.

The classpath is the jars of the library packages among the .dsc's
Build-Depends (`lib*-java` and the like, not build tooling such as debhelper,
maven or javahelper, nor test frameworks), installed with `apt-get install`,
plus the jars of the `-java` packages those depend on, recursively.

This needs deb-src entries for the installed suite (bookworm here), e.g. a
`/etc/apt/sources.list.d/mgd-deb-src.sources` with `Types: deb-src`,
`URIs: http://deb.debian.org/debian`, `Suites: bookworm bookworm-updates`,
`Components: main`, followed by `apt-get update`; and root (or sudo-less
apt-get) for installing the dependencies.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
import shutil
from dataclasses import replace

from mgd.pragmaticcode.errors import FetchError
from mgd.pragmaticcode.java.check import check_project
from mgd.pragmaticcode.java.debian import _apt, _owners, _run, install_packages, jars_of, library_dependencies
from mgd.pragmaticcode.java.project import READY, JavaProjectBuild, JavaSpec, default_java_work, find_source_roots
from mgd.pragmaticcode.locks import exclusive

log = logging.getLogger("mgd")


# -- fetching --------------------------------------------------------------------


def fetch_java(
    spec: JavaSpec | str, *where: str | os.PathLike | None, timeout: float = 900.0, check: bool = True
) -> JavaProjectBuild:
    """Fetch and unpack a Debian source package and install its library jars; reuse a finished fetch.

    Called as `fetch_java(JavaSpec, work)` or `fetch_java(source, version, work)`;
    `work` None means `default_java_work()`. The package lands in `<work>/<slug>/`.
    With `check` (the default) the project is then made to compile cleanly
    with ECJ (`settle`: release level, missing jars, modules
    Debian does not build) and the result recorded; a project that does not
    compile raises `ProjectDoesNotCompile`. Raises FetchError.
    """
    if isinstance(spec, str):
        if not where:
            raise TypeError("fetch_java(source, version, work): the version is missing")
        spec, where = JavaSpec(spec, str(where[0])), where[1:]
    work = pathlib.Path(where[0]) if where and where[0] is not None else default_java_work()
    work.mkdir(parents=True, exist_ok=True)
    # Evaluation shards share the work folder: one fetches while the others wait,
    # instead of deleting a tree another is compiling.
    with exclusive(work / f"{spec.slug}.lock"):
        return _fetch_locked(spec, work.resolve() / spec.slug, timeout, check)


def _fetch_locked(spec: JavaSpec, home: pathlib.Path, timeout: float, check: bool) -> JavaProjectBuild:
    ready = home / READY
    if ready.is_file():
        build = _load_ready(spec, home, ready, timeout)
        if build is not None and (not check or json.loads(ready.read_text(encoding="utf-8")).get("compiles")):
            return build
    if home.exists():
        shutil.rmtree(home)
    download = home / "download"
    download.mkdir(parents=True)
    _apt(["apt-get", "source", "--download-only", "-q", f"{spec.source}={spec.version}"], download, f"download {spec}", timeout)
    dscs = sorted(download.glob("*.dsc"))
    if len(dscs) != 1:
        raise FetchError(f"{spec}: expected one .dsc, found {len(dscs)}")
    root = home / "source"
    _run(["dpkg-source", "--no-check", "-x", str(dscs[0]), str(root)], f"unpack {spec}", timeout, cwd=download)
    libraries = library_dependencies(dscs[0].read_text(encoding="utf-8", errors="replace"))
    installed = install_packages(libraries, timeout)
    classpath = jars_of(installed)
    roots = find_source_roots(root)
    if not roots:
        raise FetchError(f"{spec}: no Java source folder found")
    build = _with_build_model(JavaProjectBuild(spec, root, roots, classpath, "17", installed))
    if not check:
        build.write_metadata({"compiles": None})
        return build
    found_roots = [r.relative_to(root).as_posix() for r in roots]
    build, notes = settle(build)  # raises ProjectDoesNotCompile (a FetchError)
    owners = [p for p in _owners(notes["added_jars"]) if p not in build.debian_packages]
    build = replace(build, debian_packages=[*build.debian_packages, *owners])  # reinstalled on a new machine
    build.write_metadata({"compiles": True, "found_source_roots": found_roots, **notes})
    return build


def _with_build_model(build: JavaProjectBuild) -> JavaProjectBuild:
    """Add what the package's Maven or Gradle build says to a fetched tree: jars of declared dependencies found
    in Debian's maven-repo (after the Build-Depends' own) and the files its compiler configuration leaves out."""
    from mgd.lsp.project import read_project

    try:
        model = read_project(build.root, "java")
    except (OSError, ValueError) as err:
        log.warning("mgd: %s: build files not read (%s)", build.spec, err)
        return build
    have = {p.resolve() for p in build.classpath}  # maven-repo jars are links to /usr/share/java's
    jars = [pathlib.Path(j) for j in model.classpath if pathlib.Path(j).resolve() not in have]
    excluded = [pathlib.Path(p).relative_to(build.root).as_posix() for p in model.excluded]
    return replace(build, classpath=[*build.classpath, *jars], excluded=excluded, unresolved=list(model.unresolved))


def _load_ready(spec: JavaSpec, home: pathlib.Path, ready: pathlib.Path, timeout: float) -> JavaProjectBuild | None:
    try:
        record = json.loads(ready.read_text(encoding="utf-8"))
        root = home / record["root"]
        build = JavaProjectBuild(
            spec, root, [root / r for r in record["source_roots"]], [pathlib.Path(p) for p in record["classpath"]],
            str(record["source_level"]), list(record.get("debian_packages", [])), excluded=list(record.get("excluded", [])),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None
    if record.get("package") != spec.source or record.get("version") != spec.version:
        return None
    if not all(r.is_dir() for r in build.source_roots):
        return None
    if not all(p.exists() for p in build.classpath):  # a new machine: the jars must be installed again
        install_packages(build.debian_packages, timeout)
        if not all(p.exists() for p in build.classpath):
            return None
    return build


# -- making the project compile as Debian's build does -------------------------


_MISSING_IMPORT = re.compile(r"^The import ([\w.]+) cannot be resolved$")


def settle(build, jar_folder: pathlib.Path = pathlib.Path("/usr/share/java"), rounds: int = 3):
    """Make a fetched project compile cleanly, as Debian's own build does; return (build, notes) or raise.

    In turn: find the release level it compiles at; add jars of `jar_folder`
    that hold packages its imports miss (a dependency Debian's build gets
    through another package); drop source roots whose files still have errors
    when other roots remain (modules Debian does not build, e.g. OSGi or
    Windows ones). Raises CheckerUnavailable if ECJ cannot run and
    ProjectDoesNotCompile when errors remain.
    """
    notes: dict = {"added_jars": [], "dropped_roots": []}
    for _ in range(rounds):
        level, errors, _seconds = check_project(build)
        if level is not None:
            return replace(build, source_level=level), notes
        missing = sorted({m.group(1) for c in errors.values() for (_, msg) in c for m in [_MISSING_IMPORT.match(msg)] if m})
        _install_providers(missing)
        extra = [jar for jar in _jars_providing(missing, jar_folder) if jar not in build.classpath]
        if extra:
            notes["added_jars"] += [str(j) for j in extra]
            build = replace(build, classpath=[*build.classpath, *extra])
            continue
        bad = {build.source_root_of((build.root / f).resolve()) for f in errors}
        keep = [r for r in build.source_roots if r not in bad]
        share = _files_under(build, bad - {None}) / max(1, len(build.java_files()))
        if bad and keep and None not in bad and share < 0.25:  # side modules only, never the core
            notes["dropped_roots"] += [r.relative_to(build.root).as_posix() for r in build.source_roots if r in bad]
            build = replace(build, source_roots=keep)
            continue
        break
    level, errors, _seconds = check_project(build)
    if level is not None:
        return replace(build, source_level=level), notes
    total = sum(sum(c.values()) for c in errors.values())
    path, first = next(iter(sorted(errors.items())))
    (_kind, message), _count = first.most_common(1)[0]
    raise ProjectDoesNotCompile(f"{total} ECJ errors in {len(errors)} files, e.g. {path}: {message}")


# Debian packages holding imports that Debian builds get without naming them in
# Build-Depends; installed when a project misses them, so a fresh machine finds
# the same jars as the one the dataset was built on.
KNOWN_PROVIDERS = {
    "javax.annotation": "libjsr305-java",  # @Nullable, @WillClose (jsoup)
    "org.apache.tools": "ant",  # Ant tasks shipped beside a library (jflex, jline3)
    "com.sun.jna": "libjna-java",
}


def _install_providers(missing: list[str]) -> None:
    wanted = sorted({pkg for name in missing for prefix, pkg in KNOWN_PROVIDERS.items() if (name + ".").startswith(prefix + ".")})
    if wanted and os.geteuid() == 0:
        try:
            install_packages(wanted)
        except FetchError:
            pass  # the jar search below then finds what is there


def _files_under(build, roots: set) -> int:
    return sum(1 for f in build.java_files() if build.source_root_of(f) in roots)


class ProjectDoesNotCompile(FetchError):
    """The project's own sources do not compile cleanly with ECJ."""


def _jars_providing(packages: list[str], folder: pathlib.Path) -> list[pathlib.Path]:
    """Jars directly in `folder` holding one of `packages` (a class's package, or the import's own package)."""
    import zipfile

    if not packages or not folder.is_dir():
        return []
    # ECJ names the first part of an import it cannot resolve (`org.osgi`, or a whole
    # `javax.annotation.Nullable`): a jar fits when it has that class or classes under it.
    wanted = {name.replace(".", "/") for name in packages if name.count(".") >= 1}
    found: dict[pathlib.Path, pathlib.Path] = {}
    for jar in sorted(folder.glob("*.jar"), key=lambda p: (len(p.name), p.name)):
        real = jar.resolve()
        if not wanted:
            break
        if real in found or not real.is_file():
            continue
        try:
            with zipfile.ZipFile(real) as handle:
                names = [n for n in handle.namelist() if n.endswith(".class")]
        except (zipfile.BadZipFile, OSError):
            continue
        hit = {w for w in wanted if any(n == w + ".class" or n.startswith(w + "/") for n in names)}
        if hit:
            found[real] = jar
            wanted -= hit
    return sorted(found.values())
