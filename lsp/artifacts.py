"""Finding a Maven coordinate's jar (or pom) on this machine, never over the network.

A coordinate `group:artifact:version` is looked up, in this order, in the
user's Maven repository (`~/.m2/repository`, or the `<localRepository>` of
`~/.m2/settings.xml`), Gradle's cache (`$GRADLE_USER_HOME`, default
`~/.gradle`, under `caches/modules-2/files-2.1/<group>/<artifact>/<version>/<hash>/`)
and Debian's `/usr/share/maven-repo`, each at exactly that version. When none
holds that version, Debian's `debian` folder (the one version Debian packages
each artifact at) is taken and the version it really is recorded, so callers
can say the version differs. Nothing is downloaded.
"""

from __future__ import annotations

import glob
import os
import pathlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

__all__ = ["ArtifactStores", "Found", "find_jar", "find_pom"]

DEBIAN_REPOSITORY = "/usr/share/maven-repo"
DEBIAN_VERSION = "debian"  # the folder Debian keeps beside each artifact's real version


@dataclass(frozen=True)
class ArtifactStores:
    """Where artifacts are looked for (None: that store is not used)."""

    maven_local: str | None = None  # a Maven repository layout: <group path>/<artifact>/<version>/
    gradle_cache: str | None = None  # Gradle's files-2.1: <group>/<artifact>/<version>/<hash>/
    debian: str | None = None  # Debian's maven-repo, with its `debian` version folders

    @classmethod
    def default(cls) -> ArtifactStores:
        """The stores of this user and machine (only those that exist)."""
        home = pathlib.Path.home()
        gradle_home = pathlib.Path(os.environ.get("GRADLE_USER_HOME") or home / ".gradle")
        stores = (
            _maven_local_repository(home),
            str(gradle_home / "caches" / "modules-2" / "files-2.1"),
            DEBIAN_REPOSITORY,
        )
        maven, gradle, debian = (s if s and os.path.isdir(s) else None for s in stores)
        return cls(maven, gradle, debian)


@dataclass(frozen=True)
class Found:
    """Where a coordinate's file was found: the absolute path, the store, and the version the file is."""

    path: str
    store: str  # "maven-local", "gradle", "debian"
    version: str  # equals the version asked for unless Debian's `debian` folder stood in


def _maven_local_repository(home: pathlib.Path) -> str:
    """`<localRepository>` of ~/.m2/settings.xml when it names one, else ~/.m2/repository."""
    settings = home / ".m2" / "settings.xml"
    try:
        tree = ET.parse(settings)
    except (OSError, ET.ParseError):
        return str(home / ".m2" / "repository")
    for element in tree.getroot().iter():
        if element.tag.rsplit("}", 1)[-1] == "localRepository" and (element.text or "").strip():
            value = element.text.strip().replace("${user.home}", str(home))
            return str(pathlib.Path(value).expanduser())
    return str(home / ".m2" / "repository")


def _file_name(artifact: str, version: str, classifier: str | None, extension: str) -> str:
    return f"{artifact}-{version}" + (f"-{classifier}" if classifier else "") + f".{extension}"


def _exact(stores: ArtifactStores, group: str, artifact: str, version: str, classifier: str | None, extension: str):
    name = _file_name(artifact, version, classifier, extension)
    group_path = group.replace(".", "/")
    if stores.maven_local:
        path = os.path.join(stores.maven_local, group_path, artifact, version, name)
        if os.path.isfile(path):
            return Found(os.path.abspath(path), "maven-local", version)
    if stores.gradle_cache:
        matches = sorted(glob.glob(os.path.join(glob.escape(stores.gradle_cache), glob.escape(group),
                                                glob.escape(artifact), glob.escape(version), "*", glob.escape(name))))  # fmt: skip
        if matches:
            return Found(os.path.abspath(matches[0]), "gradle", version)
    if stores.debian:
        path = os.path.join(stores.debian, group_path, artifact, version, name)
        if os.path.isfile(path):
            return Found(os.path.abspath(path), "debian", version)
    return None


def _debian_stand_in(stores: ArtifactStores, group: str, artifact: str, classifier: str | None, extension: str):
    """Debian's `debian` file for the artifact, with the real version whose folder holds the same file."""
    if not stores.debian:
        return None
    folder = os.path.join(stores.debian, group.replace(".", "/"), artifact)
    path = os.path.join(folder, DEBIAN_VERSION, _file_name(artifact, DEBIAN_VERSION, classifier, extension))
    if not os.path.isfile(path):
        return None
    real = os.path.realpath(path)
    version = DEBIAN_VERSION
    for sibling in sorted(os.listdir(folder)):
        candidate = os.path.join(folder, sibling, _file_name(artifact, sibling, classifier, extension))
        # Debian links the `debian` file and the real version's to one jar in /usr/share/java
        if sibling != DEBIAN_VERSION and os.path.isfile(candidate) and os.path.realpath(candidate) == real:
            version = sibling
            break
    return Found(os.path.abspath(path), "debian", version)


_RANGE = re.compile(r"^[\[(].*[\])]$")


def find_jar(
    stores: ArtifactStores, group: str, artifact: str, version: str | None, classifier: str | None = None
) -> Found | None:
    """The jar of `group:artifact:version` (exact first, else Debian's `debian` one), or None; `version` None: any."""
    exact = version and not _RANGE.match(version)
    if exact:
        found = _exact(stores, group, artifact, version, classifier, "jar")
        if found:
            return found
    return _debian_stand_in(stores, group, artifact, classifier, "jar")


def find_pom(stores: ArtifactStores, group: str, artifact: str, version: str | None) -> Found | None:
    """The pom of `group:artifact:version` (exact first, else Debian's `debian` one), or None."""
    if version and not _RANGE.match(version):
        found = _exact(stores, group, artifact, version, None, "pom")
        if found:
            return found
    return _debian_stand_in(stores, group, artifact, None, "pom")
