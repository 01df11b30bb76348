"""Reading a Maven build (`pom.xml` and its modules) into a `ProjectModel`, without running Maven.

From each pom of the build (the root's, then its `<modules>`, recursively,
and those of profiles marked `activeByDefault`) it reads the source folders
(`<build><sourceDirectory>`, default `src/main/java`; `<testSourceDirectory>`,
default `src/test/java`, as a test root; folders added by
build-helper-maven-plugin's `add-source` / `add-test-source`), the Java level
(`release`, else `source`, else `target`, from the maven-compiler-plugin's
`<configuration>` over the `maven.compiler.*` properties) and the
dependencies (test scope left out; a version from `<dependencyManagement>`,
imported BOMs included, when the dependency has none). A pom inherits from
its `<parent>`: the one at `<relativePath>` (default `../pom.xml`) when that
is the parent named, else the parent's pom from the local artifact stores.
`${property}` is replaced from `<properties>` (the parent's first, then the
module's own, then those of `activeByDefault` profiles) and the `project.*`
values. When the parent is Spring Boot's `spring-boot-starter-parent` and is
not found offline, the level is what that parent would make of it: the
`java.version` property, else its default (1.8 for Boot 2, 17 for Boot 3). A dependency on another module of
the build is that module's source folders, not a jar. Not read: other
profiles, other plugins' source folders (generated sources), transitive
dependencies, system properties such as `${java.version}` when no
`<properties>` entry defines them.
"""

from __future__ import annotations

import pathlib
import re
import xml.etree.ElementTree as ET

from mgd.lsp.artifacts import ArtifactStores, find_pom
from mgd.lsp.project import (
    Dependencies,
    Module,
    ProjectModel,
    existing,
    highest_level,
    normalize_java_level,
)

__all__ = ["read_maven_project"]

_PROPERTY = re.compile(r"\$\{([^}]+)\}")
_MAX_DEPTH = 12  # parents and imported BOMs deeper than this are a cycle or not worth following


def _strip_namespaces(element: ET.Element) -> ET.Element:
    # poms may or may not declare the POM namespace; plain tag names read both the same way
    for node in element.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.rsplit("}", 1)[1]
    return element


def _text(element: ET.Element | None, path: str) -> str | None:
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


class Pom:
    """One parsed pom with its parent, and the project values `${...}` may name."""

    def __init__(self, path: pathlib.Path, element: ET.Element, parent: Pom | None, in_build: bool) -> None:
        self.path = path
        self.directory = path.parent
        self.element = element
        self.parent = parent
        self.in_build = in_build  # in the repository (not a parent or BOM from an artifact store)
        self.artifact = _text(element, "artifactId") or ""
        self.group = _text(element, "groupId") or _text(element, "parent/groupId") or ""
        self.version = _text(element, "version") or _text(element, "parent/version") or ""
        own: dict[str, str] = {}
        active = [p for p in element.findall("profiles/profile")
                  if (_text(p, "activation/activeByDefault") or "").lower() == "true"]  # fmt: skip
        for props in [element.find("properties"), *(p.find("properties") for p in active)]:
            if props is not None:
                own.update({c.tag: (c.text or "").strip() for c in props if isinstance(c.tag, str)})
        self.properties = {**(parent.properties if parent else {}), **own}
        self.missing_parent: tuple[str, str, str] | None = None  # a `<parent>` not found offline
        self._names: dict[str, str] | None = None

    def builtins(self) -> dict[str, str]:
        """The `project.*` (and old `pom.*`, `basedir`) values a pom may name."""
        values = {"groupId": self.group, "artifactId": self.artifact, "version": self.version,
                  "basedir": str(self.directory)}  # fmt: skip
        found = {f"project.{k}": v for k, v in values.items()}
        found.update({f"pom.{k}": v for k, v in values.items()})
        found["basedir"] = str(self.directory)
        found["project.baseUri"] = self.directory.as_uri()
        if self.parent is not None:
            found.update({"project.parent.groupId": self.parent.group, "project.parent.artifactId": self.parent.artifact,
                          "project.parent.version": self.parent.version})  # fmt: skip
        return found

    def interpolate(self, value: str | None) -> str | None:
        """`value` with `${...}` replaced from this pom's project values and properties (unknown ones kept)."""
        if value is None:
            return None
        if self._names is None:  # a large build interpolates thousands of values per pom
            self._names = {**self.properties, **self.builtins()}
        names = self._names
        for _ in range(10):
            replaced = _PROPERTY.sub(lambda m: names.get(m.group(1), m.group(0)), value)
            if replaced == value:
                break
            value = replaced
        return value

    def chain(self) -> list[Pom]:
        """This pom's ancestors, the farthest first, and itself."""
        found, pom = [], self
        while pom is not None and len(found) < _MAX_DEPTH:
            found.append(pom)
            pom = pom.parent
        return found[::-1]


class _Reader:
    """Reads the poms of one build, each once, and what each module says."""

    def __init__(self, root: pathlib.Path, stores: ArtifactStores) -> None:
        self.root = root
        self.stores = stores
        self.notes: dict[str, None] = {}
        self.build_files: dict[str, None] = {}
        self._poms: dict[pathlib.Path, Pom | None] = {}
        self._loading: set[pathlib.Path] = set()
        self.reactor: dict[tuple[str, str], Pom] = {}

    def note(self, text: str) -> None:
        """Record something the build holds that was not read."""
        self.notes[text] = None

    def load(self, path: pathlib.Path, in_build: bool, depth: int = 0) -> Pom | None:
        """The pom at `path` with its parents (None when it cannot be read); `in_build`: in the repository."""
        path = path.resolve()
        if path in self._poms:
            return self._poms[path]
        if path in self._loading or depth > _MAX_DEPTH:
            self.note(f"{path}: a parent cycle; not followed")
            return None
        self._loading.add(path)
        try:
            element = _strip_namespaces(ET.parse(path).getroot())
        except (OSError, ET.ParseError) as err:
            self.note(f"{path}: not read ({err})")
            self._poms[path] = None
            self._loading.discard(path)
            return None
        parent = self._parent(path, element, in_build, depth)
        pom = Pom(path, element, parent, in_build)
        declared = element.find("parent")
        if parent is None and declared is not None:
            pom.missing_parent = tuple(_text(declared, k) or "" for k in ("groupId", "artifactId", "version"))
        self._loading.discard(path)
        self._poms[path] = pom
        if in_build:
            self.build_files[str(path)] = None
        return pom

    def _parent(self, path: pathlib.Path, element: ET.Element, in_build: bool, depth: int) -> Pom | None:
        declared = element.find("parent")
        if declared is None:
            return None
        group, artifact, version = (_text(declared, k) or "" for k in ("groupId", "artifactId", "version"))
        relative = declared.find("relativePath")
        if in_build and not (relative is not None and not (relative.text or "").strip()):
            candidate = path.parent / ((relative.text or "").strip() if relative is not None else "../pom.xml")
            if candidate.is_dir():
                candidate = candidate / "pom.xml"
            if candidate.is_file() and candidate.resolve().is_relative_to(self.root):
                try:
                    named = _text(_strip_namespaces(ET.parse(candidate).getroot()), "artifactId")
                except (OSError, ET.ParseError):
                    named = None
                if named == artifact:
                    return self.load(candidate, True, depth + 1)
        found = find_pom(self.stores, group, artifact, version)
        if found is None:
            self.note(f"{path}: parent {group}:{artifact}:{version} not found offline; its properties are not read")
            return None
        if found.version != version:
            self.note(f"{path}: parent {group}:{artifact}:{version} read as Debian's version {found.version}")
        return self.load(pathlib.Path(found.path), False, depth + 1)

    # -- modules ----------------------------------------------------------------

    def modules(self, pom: Pom, seen: set[pathlib.Path]) -> list[Pom]:
        """`pom` and every module below it, depth first, each once."""
        if pom.path in seen:
            return []
        seen.add(pom.path)
        found = [pom]
        names = [m.text.strip() for m in pom.element.findall("modules/module") if m.text and m.text.strip()]
        for profile in pom.element.findall("profiles/profile"):
            if (_text(profile, "activation/activeByDefault") or "").lower() == "true":
                names += [m.text.strip() for m in profile.findall("modules/module") if m.text and m.text.strip()]
        for name in names:
            target = pom.directory / (pom.interpolate(name) or name)
            if target.is_dir():
                target = target / "pom.xml"
            if not target.is_file():
                self.note(f"{pom.path}: module {name} has no pom; left out")
                continue
            module = self.load(target, True)
            if module is not None:
                found += self.modules(module, seen)
        return found

    # -- what one module says ----------------------------------------------------------

    def _inherited_text(self, pom: Pom, path: str) -> str | None:
        """The text at `path` of the nearest pom along the parent chain that sets it."""
        for ancestor in reversed(pom.chain()):
            value = _text(ancestor.element, path)
            if value is not None:
                return value
        return None

    def folder(self, pom: Pom, value: str | None, default: str) -> pathlib.Path:
        """A folder the pom names (relative to its own folder), `default` when it names none or an unknown property."""
        text = pom.interpolate(value) if value else default
        if "${" in text:
            self.note(f"{pom.path}: source folder {text} names an unknown property; using {default}")
            text = default
        return (pom.directory / text).resolve()

    def source_roots(self, pom: Pom) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
        """The module's main and test source folders, whether they exist or not."""
        main = [self.folder(pom, self._inherited_text(pom, "build/sourceDirectory"), "src/main/java")]
        test = [self.folder(pom, self._inherited_text(pom, "build/testSourceDirectory"), "src/test/java")]
        for plugin in self._plugins(pom, "build-helper-maven-plugin"):
            for execution in plugin.findall("executions/execution"):
                goals = {g.text.strip() for g in execution.findall("goals/goal") if g.text}
                sources = [s.text.strip() for s in execution.findall("configuration/sources/source") if s.text]
                target = test if "add-test-source" in goals else main if "add-source" in goals else None
                if target is not None:
                    target += [self.folder(pom, s, s) for s in sources]
        return main, test

    def compiler_excludes(self, pom: Pom, roots: tuple[str, ...]) -> list[str]:
        """maven-compiler-plugin `<excludes>` of main compilation (plugin or `compile` execution), under each root."""
        patterns: list[str] = []
        for plugin in self._plugins(pom, "maven-compiler-plugin"):
            configurations = [plugin.find("configuration")] + [
                e.find("configuration") for e in plugin.findall("executions/execution")
                if not {g.text.strip() for g in e.findall("goals/goal") if g.text} & {"testCompile"}
            ]  # fmt: skip
            for configuration in (c for c in configurations if c is not None):
                patterns += [pom.interpolate(x.text.strip()) for x in configuration.findall("excludes/exclude") if x.text]
        return [f"{root}/{pattern.lstrip('/')}" for root in roots for pattern in dict.fromkeys(patterns)]

    def _plugins(self, pom: Pom, artifact: str) -> list[ET.Element]:
        """The `<plugin>` elements for `artifact` along the parent chain, the farthest first, management before use."""
        found = []
        for ancestor in pom.chain():
            for where in ("build/pluginManagement/plugins/plugin", "build/plugins/plugin"):
                found += [p for p in ancestor.element.findall(where) if _text(p, "artifactId") == artifact]
        return found

    def java_level(self, pom: Pom) -> str | None:
        """The module's Java level: `release`, else `source`, else `target`; plugin configuration over properties."""
        configured: dict[str, str] = {}
        for plugin in self._plugins(pom, "maven-compiler-plugin"):
            for key in ("release", "source", "target"):
                value = _text(plugin, f"configuration/{key}")
                if value is not None:
                    configured[key] = value  # a nearer pom's setting overrides a farther one's
        for key in ("release", "source", "target"):
            raw = configured.get(key) or pom.properties.get(f"maven.compiler.{key}") or None
            if raw is None:
                continue
            value = pom.interpolate(raw)
            level = normalize_java_level(value)
            if level is None:
                self.note(f"{pom.path}: Java {key} {value!r} is not a level this reads")
                continue
            return level
        return self._spring_boot_level(pom)

    def _spring_boot_level(self, pom: Pom) -> str | None:
        """Spring Boot's parent pom, when not found offline, sets the compiler level from `java.version`:
        the project's own, else its default (Boot 2.x: 1.8, Boot 3.x and later: 17)."""
        top = pom.chain()[0]
        if top.missing_parent is None or top.missing_parent[:2] != ("org.springframework.boot", "spring-boot-starter-parent"):
            return None
        version = top.missing_parent[2]
        raw = pom.properties.get("java.version")
        level = normalize_java_level(pom.interpolate(raw)) if raw else None
        if level is None:
            major = re.match(r"\d+", version)
            level = None if major is None else "1.8" if int(major.group()) < 3 else "17"
        if level:
            self.note(f"{top.path}: Java {level}, as spring-boot-starter-parent {version} sets it from java.version")
        return level

    def managed(self, pom: Pom, context: Pom, depth: int = 0) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """`<dependencyManagement>` of `pom` and its parents as (group, artifact) -> (version, scope), read in `context`."""
        result: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        if depth > _MAX_DEPTH:
            return result
        if pom.parent is not None:
            result.update(self.managed(pom.parent, context, depth + 1))
        imports = []
        for dep in pom.element.findall("dependencyManagement/dependencies/dependency"):
            group, artifact, version, scope, kind = (
                context.interpolate(_text(dep, k)) for k in ("groupId", "artifactId", "version", "scope", "type")
            )
            if not group or not artifact:
                continue
            if scope == "import" and kind == "pom":
                imports.append((group, artifact, version))
            else:
                result[(group, artifact)] = (version, scope)
        for group, artifact, version in imports:
            bom = self._bom(group, artifact, version, pom, depth)
            if bom is not None:
                for key, value in self.managed(bom, bom, depth + 1).items():
                    result.setdefault(key, value)  # explicit entries win over imported ones
        return result

    def _bom(self, group: str, artifact: str, version: str | None, importer: Pom, depth: int) -> Pom | None:
        if (group, artifact) in self.reactor:
            return self.reactor[(group, artifact)]
        found = find_pom(self.stores, group, artifact, version)
        if found is None:
            self.note(f"{importer.path}: imported BOM {group}:{artifact}:{version} not found offline")
            return None
        return self.load(pathlib.Path(found.path), False, depth + 1)

    def dependencies(self, pom: Pom, deps: Dependencies) -> list[str]:
        """Add `pom`'s dependencies (its parents' included) to `deps`; the build's own modules it names."""
        managed = self.managed(pom, pom)
        internal: list[str] = []
        for ancestor in pom.chain():
            for dep in ancestor.element.findall("dependencies/dependency"):
                group, artifact, version, scope, kind, classifier, system_path = (
                    pom.interpolate(_text(dep, k))
                    for k in ("groupId", "artifactId", "version", "scope", "type", "classifier", "systemPath")
                )
                if not group or not artifact:
                    continue
                managed_version, managed_scope = managed.get((group, artifact), (None, None))
                version = version or managed_version
                scope = scope or managed_scope or "compile"
                if scope in ("test", "import") or kind in ("pom", "test-jar"):
                    continue
                if (group, artifact) in self.reactor:
                    internal.append(f"{group}:{artifact}")
                    continue
                if scope == "system" and system_path:
                    deps.add_jar(str((pom.directory / system_path).resolve()), f"{group}:{artifact}:{version or ''}")
                    continue
                if version and "${" in version:
                    self.note(f"{pom.path}: version {version} of {group}:{artifact} names an unknown property")
                    version = None
                deps.add(group, artifact, version, classifier)
        return internal


def read_maven_project(root: pathlib.Path, stores: ArtifactStores) -> ProjectModel:
    """The Maven build at `root` (absolute, holding `pom.xml`), its jars looked for in `stores`."""
    reader = _Reader(root, stores)
    top = reader.load(root / "pom.xml", True)
    poms = reader.modules(top, set()) if top is not None else []
    for pom in poms:
        reader.reactor.setdefault((pom.group, pom.artifact), pom)
    deps = Dependencies(stores)
    modules, main, tests, excluded = [], [], [], []
    for pom in poms:
        source, test = reader.source_roots(pom)
        internal = reader.dependencies(pom, deps)
        level = reader.java_level(pom)
        source, test = existing(source), existing(test)
        excluded += reader.compiler_excludes(pom, source)
        main += source
        tests += test
        modules.append(Module(f"{pom.group}:{pom.artifact}", str(pom.directory), str(pom.path), source, test, level,
                              tuple(dict.fromkeys(internal))))  # fmt: skip
    levels = {m.java_level for m in modules if m.java_level and (m.source_roots or m.test_roots)} or {
        m.java_level for m in modules if m.java_level
    }
    if len(levels) > 1:
        reader.note(f"modules compile at different Java levels ({', '.join(sorted(levels))}); the newest is used")
    main_roots = existing(main)
    return ProjectModel(
        root=str(root), language="java", build_system="maven", build_files=tuple(reader.build_files),
        source_roots=main_roots, test_roots=tuple(t for t in existing(tests) if t not in main_roots),
        java_level=highest_level(levels), dependencies=tuple(deps.declared), classpath=tuple(deps.classpath),
        unresolved=tuple(deps.unresolved), version_differs=dict(deps.version_differs), modules=tuple(modules),
        notes=tuple(reader.notes), excluded=tuple(dict.fromkeys(excluded)),
    )  # fmt: skip
