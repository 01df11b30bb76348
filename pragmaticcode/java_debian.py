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
import os
import pathlib
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace

from ..errors import InputError
from .fetch import FetchError, exclusive

READY = "mgd-java.json"
JAVA_SHARE = pathlib.Path("/usr/share/java")
_LINE = re.compile(r"^([a-z0-9][a-z0-9.+-]+)=([A-Za-z0-9.+~:-]+)$")
# Build-Depends that are build tooling or test frameworks, not libraries the main sources use.
_TOOLING = re.compile(
    r"^(debhelper.*|dh-.*|default-jdk.*|default-jre.*|openjdk-.*|javahelper|maven.*|ant|ant-.*|gradle.*|"
    r"junit.*|testng|libmockito-java|libeasymock-java|libjmock.*|libsurefire-java|"
    r"libassertj-core-java|libobjenesis-java|libjunit.*|libcommons-parent-java|libapache-pom-java|"
    r"libbuild-helper-maven-plugin|javacc|antlr.*|libxmlunit.*|.*-doc|libbnd-java|.*plugin.*|"
    r"libmaven.*|libplexus.*|libsisu.*|libreplacer-java|bnd|fop|xsltproc|docbook.*|.*-perl|python3?.*|quilt|libjavacc.*)$"
)
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

    @property
    def home(self) -> pathlib.Path:
        """The package's work directory (holds `source/`, `download/`, the metadata)."""
        return self.root.parent

    def java_files(self) -> list[pathlib.Path]:
        """The project's own Java files (under its source roots, no tests), sorted."""
        files: set[pathlib.Path] = set()
        for root in self.source_roots:
            for path in root.rglob("*.java"):
                if not (_SKIP_DIRS & set(path.relative_to(root).parts[:-1])):
                    files.add(path)
        return sorted(files)

    def language_server(self, **options):
        """A JDT.LS session (not started; `with` starts it) on this project's source folders and jars."""
        from ..lsp.session import LanguageServerSession

        return LanguageServerSession(
            self.root, language="java", source_paths=[str(p) for p in self.source_roots],
            classpath=[str(p) for p in self.classpath], **options,
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
            **(extra or {}),
        }
        (self.home / READY).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


# -- package lists -------------------------------------------------------------


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
    from .packages import read_package_list

    return read_package_list(path, parse_java_package_list)


def default_java_work() -> pathlib.Path:
    """Where Java packages are kept by default: $MGD_CACHE_DIR/pragmaticcode-java or ~/.cache/mgd/pragmaticcode-java."""
    from ..models import cache_root

    return cache_root() / "pragmaticcode-java"


# -- fetching --------------------------------------------------------------------


def fetch_java(
    spec: JavaSpec | str, *where: str | os.PathLike | None, timeout: float = 900.0, check: bool = True
) -> JavaProjectBuild:
    """Fetch and unpack a Debian source package and install its library jars; reuse a finished fetch.

    Called as `fetch_java(JavaSpec, work)` or `fetch_java(source, version, work)`;
    `work` None means `default_java_work()`. The package lands in `<work>/<slug>/`.
    With `check` (the default) the project is then made to compile cleanly
    with ECJ (`java_compile.settle`: release level, missing jars, modules
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
    build = JavaProjectBuild(spec, root, roots, classpath, "17", installed)
    if not check:
        build.write_metadata({"compiles": None})
        return build
    from .java_compile import settle

    found_roots = [r.relative_to(root).as_posix() for r in roots]
    build, notes = settle(build)  # raises ProjectDoesNotCompile (a FetchError)
    owners = [p for p in _owners(notes["added_jars"]) if p not in build.debian_packages]
    build = replace(build, debian_packages=[*build.debian_packages, *owners])  # reinstalled on a new machine
    build.write_metadata({"compiles": True, "found_source_roots": found_roots, **notes})
    return build


def _load_ready(spec: JavaSpec, home: pathlib.Path, ready: pathlib.Path, timeout: float) -> JavaProjectBuild | None:
    try:
        record = json.loads(ready.read_text(encoding="utf-8"))
        root = home / record["root"]
        build = JavaProjectBuild(
            spec, root, [root / r for r in record["source_roots"]], [pathlib.Path(p) for p in record["classpath"]],
            str(record["source_level"]), list(record.get("debian_packages", [])),
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


def metadata(build: JavaProjectBuild) -> dict:
    """The recorded metadata of a fetched project (`mgd-java.json`)."""
    return json.loads((build.home / READY).read_text(encoding="utf-8"))


def library_dependencies(dsc: str) -> list[str]:
    """The library packages among a .dsc's Build-Depends(-Indep/-Arch): first of each alternative, no tooling."""
    fields: list[str] = []
    current: str | None = None
    for line in dsc.splitlines():
        if line.startswith((" ", "\t")) and current is not None:
            fields[-1] += " " + line.strip()
            continue
        current = None
        name, _, value = line.partition(":")
        if name in ("Build-Depends", "Build-Depends-Indep", "Build-Depends-Arch"):
            current = name
            fields.append(value.strip())
    found: list[str] = []
    for value in fields:
        for item in value.split(","):
            first = item.split("|")[0].strip()
            if not first:
                continue
            if re.search(r"<\s*!?\s*nocheck\s*>", item):
                continue  # needed only to run the tests
            package = re.split(r"[\s(\[<:]", first, maxsplit=1)[0]
            if not _TOOLING.match(package) and package not in found:
                found.append(package)
    own = set()  # the package's own binaries (jflex build-depends on jflex): never its own classpath
    for line in dsc.splitlines():
        if line.startswith("Binary:"):
            own = {b.strip() for b in line.partition(":")[2].split(",")}
    found = [p for p in found if p not in own]
    # `lib*-java` packages, and the few libraries named otherwise (`cup`) that Debian files under Section: java
    return [p for p in found if p.endswith("-java") or _section(p) == "java"]


def _section(package: str) -> str | None:
    done = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True)
    match = re.search(r"^Section:\s*(\S+)", done.stdout, re.MULTILINE)
    return match.group(1) if match else None


def install_packages(packages: list[str], timeout: float = 900.0) -> list[str]:
    """Install Debian binary packages (no recommends); return those installed (missing ones are left out)."""
    if not packages:
        return []
    missing = [p for p in packages if not _installed(p)]
    if missing:
        if os.geteuid() != 0:
            raise FetchError(f"apt-get install needs root: {', '.join(missing)} not installed")
        try:
            _apt(["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "--no-install-recommends", *missing], None, "install " + " ".join(missing), timeout)
        except FetchError:
            for package in missing:  # one unknown name must not block the rest
                try:
                    _apt(["apt-get", "install", "-y", "-q", "-o", "DPkg::Lock::Timeout=600", "--no-install-recommends", package], None, f"install {package}", timeout)
                except FetchError:
                    pass
    return [p for p in packages if _installed(p)]


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.strip().endswith("installed") and "not-installed" not in done.stdout


def jars_of(packages: list[str]) -> list[pathlib.Path]:
    """Jars under /usr/share/java installed by `packages` and the `-java` packages they depend on, recursively.

    One path per jar file (versioned symlinks to the same jar dropped), sorted by name.
    """
    todo, seen = list(packages), set()
    while todo:
        package = todo.pop()
        if package in seen or not _installed(package):
            continue
        seen.add(package)
        depends = subprocess.run(["dpkg-query", "-W", "-f", "${Depends},${Pre-Depends}", package], capture_output=True, text=True).stdout
        for item in depends.split(","):
            name = re.split(r"[\s(:|]", item.strip(), maxsplit=1)[0]
            if name.endswith("-java") and name not in seen:
                todo.append(name)
    jars: dict[pathlib.Path, pathlib.Path] = {}
    for package in sorted(seen):
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout.splitlines()
        for line in listing:
            path = pathlib.Path(line)
            if path.suffix == ".jar" and path.is_relative_to(JAVA_SHARE) and path.exists():
                real = path.resolve()
                best = jars.get(real)
                # prefer the shortest name: `foo.jar` over `foo-1.2.3.jar`
                if best is None or (len(path.name), path.name) < (len(best.name), best.name):
                    jars[real] = path
    return sorted(jars.values(), key=lambda p: p.as_posix())


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


def _owners(paths: list[str]) -> list[str]:
    """The Debian packages that installed these files (`dpkg -S`), in order, once each."""
    found: list[str] = []
    for path in paths:
        done = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        for line in done.stdout.splitlines():
            package = line.split(":", 1)[0].split(",")[0].strip()
            if package and package not in found:
                found.append(package)
    return found


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.DOTALL)


# -- processes ---------------------------------------------------------------------


def _apt(command: list[str], cwd: pathlib.Path | None, what: str, timeout: float) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if shutil.which(command[0]) is None:
        raise FetchError(f"could not {what}: {command[0]} is not installed")
    return _run(command, what, timeout, cwd=cwd, env=env)


def _run(command: list[str], what: str, timeout: float, cwd=None, env=None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    except subprocess.TimeoutExpired:
        raise FetchError(f"could not {what}: no result in {timeout:.0f} s") from None
    except FileNotFoundError as err:
        raise FetchError(f"could not {what}: {err}") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr + "\n" + done.stdout).strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("E:")] or lines
        raise FetchError(f"could not {what}: {errors[0] if errors else f'exit {done.returncode}'}")
    return done.stdout
