"""Debian's side of a Java project: which library packages it build-depends on, installing them, and their jars."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

from mgd.pragmaticcode.errors import FetchError

JAVA_SHARE = pathlib.Path("/usr/share/java")


# Build-Depends that are build tooling or test frameworks, not libraries the main sources use.
_TOOLING = re.compile(
    r"^(debhelper.*|dh-.*|default-jdk.*|default-jre.*|openjdk-.*|javahelper|maven.*|ant|ant-.*|gradle.*|"
    r"junit.*|testng|libmockito-java|libeasymock-java|libjmock.*|libsurefire-java|"
    r"libassertj-core-java|libobjenesis-java|libjunit.*|libcommons-parent-java|libapache-pom-java|"
    r"libbuild-helper-maven-plugin|javacc|antlr.*|libxmlunit.*|.*-doc|libbnd-java|.*plugin.*|"
    r"libmaven.*|libplexus.*|libsisu.*|libreplacer-java|bnd|fop|xsltproc|docbook.*|.*-perl|python3?.*|quilt|libjavacc.*)$"
)


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
