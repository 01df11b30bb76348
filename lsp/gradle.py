"""Reading a Gradle build (Groovy or Kotlin DSL) into a `ProjectModel`, by pattern, without running Gradle.

From `settings.gradle(.kts)` it reads the included projects (`include 'a',
':b:c'`, `include("a")`, `includeFlat`) and `project(':x').projectDir =
file('...')`; from each project's `build.gradle(.kts)` the source folders
(`src/main/java`, or a literal `sourceSets { main { java { srcDirs ... } } }`;
`src/test/java` as a test root), the Java level (`options.release`, else
`sourceCompatibility`, else the toolchain's `JavaLanguageVersion.of(N)` or
`jvmToolchain(N)`, else `targetCompatibility`; the root's for a project that
names none) and the dependencies of
`implementation`, `api`, `compileOnly`, `runtimeOnly` (and the old
`compile`/`runtime`) as `'g:a:v'`, `("g:a:v")`, `group: 'g', name: 'a',
version: 'v'`, the version catalog `gradle/libs.versions.toml`
(`libs.x.y`), `files(...)` and `fileTree(...)` jars, `project(':x')` (another
project's source folders, not a jar). `$name` in strings is filled from
`gradle.properties` and literal `ext`/`def`/`val` assignments. Convention
plugins written as scripts (`buildSrc/src/main/{kotlin,groovy}/X.gradle(.kts)`
and the same in builds named by `includeBuild`) count for the projects that
apply them (`id("X")`, `apply plugin: 'X'`) where the project says nothing
itself. What is built by code (loops, functions, conditions, binary plugins,
other catalogs, `buildscript` classpaths) is left out and noted.
"""

from __future__ import annotations

import bisect
import fnmatch
import os
import pathlib
import re

from mgd.lsp.artifacts import ArtifactStores
from mgd.lsp.project import (
    Dependencies,
    Module,
    ProjectModel,
    existing,
    highest_level,
    normalize_java_level,
    read_toml,
)

__all__ = ["read_gradle_project", "strip_comments"]

CONFIGURATIONS = ("implementation", "api", "compileOnly", "compileOnlyApi", "runtimeOnly", "compile", "runtime",
                  "provided", "providedCompile")  # fmt: skip
# `${...}` inside a double-quoted string may hold quotes of its own (`"${property("v")}"`)
_STRING = re.compile(r"""'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|\$\{[^}\n]*\}|[^"\\\n])*\"""", re.DOTALL)


def strip_comments(text: str) -> str:
    """Groovy/Kotlin text without `//` and `/* */` comments (strings, which may hold `//` as in URLs, kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            match = _STRING.match(text, i)
            end = match.end() if match else i + 1
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _block_end(text: str, open_brace: int) -> int:
    """Index just past the `}` that closes the `{` at `open_brace` (strings skipped), or the end of the text."""
    depth, i = 0, open_brace
    while i < len(text):
        c = text[i]
        if c in "'\"":
            match = _STRING.match(text, i)
            i = match.end() if match else i + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _string_spans(text: str) -> list[tuple[int, int]]:
    """Where the string literals of `text` lie, read from the start as Groovy/Kotlin would."""
    spans, i = [], 0
    while i < len(text):
        if text[i] in "'\"":
            match = _STRING.match(text, i)
            end = match.end() if match else i + 1
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


def _in_code(spans: list[tuple[int, int]], at: int) -> bool:
    """Whether offset `at` lies outside every string literal of `spans`."""
    index = bisect.bisect_right(spans, (at, float("inf"))) - 1
    return index < 0 or not spans[index][0] <= at < spans[index][1]


def _blocks(text: str, head: str) -> list[str]:
    """The bodies of every `head { ... }` block in `text` (`head` a regex)."""
    bodies = []
    for match in re.finditer(rf"(?<![\w.]){head}\s*\{{", text):
        start = match.end() - 1
        bodies.append(text[start + 1 : _block_end(text, start) - 1])
    return bodies


def _without_blocks(text: str, head: str) -> str:
    while True:
        match = re.search(rf"(?<![\w.]){head}\s*\{{", text)
        if not match:
            return text
        text = text[: match.start()] + text[_block_end(text, match.end() - 1) :]


def _strings(text: str) -> list[tuple[str, str]]:
    """The string literals of `text` as (quote, content)."""
    found = []
    for match in _STRING.finditer(text):
        literal = match.group(0)
        quote = literal[:3] if literal[:3] in ("'''", '"""') else literal[0]
        found.append((quote, literal[len(quote) : -len(quote)]))
    return found


def _read(path: pathlib.Path) -> str:
    try:
        return strip_comments(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""


def _properties_file(path: pathlib.Path) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]\s*(.*)", line)
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


_ASSIGNED = re.compile(
    r"""(?:\b(?:def|val|var|String)\s+|\b(?:project\.|rootProject\.)?ext\.|(?<![\w.]))([A-Za-z_]\w*)\s*=\s*(['"])([^'"$\n]*)\2"""
)
_EXTRA_SET = re.compile(r"""(?:extra|ext)\s*(?:\[\s*|\.set\(\s*)(['"])(\w+)\1\s*(?:\]\s*=\s*|,\s*)(['"])([^'"$\n]*)\3""")
_MAP_ENTRY = re.compile(r"""(?<![\w.])([A-Za-z_][\w-]*)\s*:\s*(['"])([^'"$\n]*)\2""")


class _Values:
    """The names `$x` may refer to: gradle.properties, literal assignments, map entries (for `${versions.x}`)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.map_entries: dict[str, str] = {}

    def read(self, text: str, override: bool = False) -> None:
        """Add the literal values `text` assigns (a project's own shadow the root's: `override`)."""
        found = [(m.group(1), m.group(3)) for m in _ASSIGNED.finditer(text)]
        found += [(m.group(2), m.group(4)) for m in _EXTRA_SET.finditer(text)]
        own: dict[str, str] = {}
        for name, value in found:
            own.setdefault(name, value)
        self.names = {**self.names, **own} if override else {**own, **self.names}
        for match in _MAP_ENTRY.finditer(text):
            self.map_entries.setdefault(match.group(1), match.group(3))

    def child(self, **fixed: str) -> _Values:
        """A copy for one project, with its own fixed names (`projectDir`, `rootDir`)."""
        values = _Values()
        values.names = {**self.names, **fixed}
        values.map_entries = dict(self.map_entries)
        return values

    def lookup(self, expression: str) -> str | None:
        """The value of a name as a string may use it (`v`, `project.v`, `property("v")`, `versions.v`), or None."""
        expression = expression.strip()
        quoted = re.search(r"""(?:property|findProperty|extra|ext|get)\s*[\[(]\s*['"]([\w.-]+)['"]""", expression)
        if quoted:
            expression = quoted.group(1)
        expression = re.sub(r"^(?:project|rootProject)\.(?:ext\.|extra\.)?", "", expression)
        if expression in self.names:
            return self.names[expression]
        if "." in expression:
            last = expression.rsplit(".", 1)[1]
            return self.map_entries.get(last)
        return None

    def fill(self, quote: str, text: str) -> str | None:
        """A string literal's value: `$x` / `${x}` replaced in double-quoted ones; None if a name is unknown."""
        if quote.startswith("'") or "$" not in text:
            return text
        unknown = False

        def replace(match: re.Match) -> str:
            nonlocal unknown
            value = self.lookup(match.group(1) or match.group(2))
            if value is None:
                unknown = True
                return match.group(0)
            return value

        filled = re.sub(r"\$\{([^}]*)\}|\$([A-Za-z_][\w.]*)", replace, text)
        return None if unknown else filled


# -- settings ------------------------------------------------------------------------


def _string_list(text: str, at: int) -> tuple[list[tuple[str, str]], int]:
    """Comma-separated string literals starting at `at` (an optional `(` first); where they end."""
    found = []
    i = at
    match = re.compile(r"\s*\(?\s*(?:(?:listOf|arrayOf)\s*\(\s*)?").match(text, i)
    i = match.end()
    while True:
        literal = _STRING.match(text, i)
        if not literal:
            break
        found += _strings(literal.group(0))
        i = literal.end()
        comma = re.compile(r"\s*,\s*").match(text, i)
        if not comma:
            break
        i = comma.end()
    return found, i


def _projects(root: pathlib.Path, settings: str, values: _Values, notes: dict) -> dict[str, pathlib.Path]:
    """Gradle project path -> folder, the root (`:`) first."""
    projects: dict[str, pathlib.Path] = {":": root}
    spans = _string_spans(settings)
    for match in re.finditer(r"(?<![\w.])(include|includeFlat)\b(?!\s*[.=])", settings):
        if not _in_code(spans, match.start()):
            continue
        names, _ = _string_list(settings, match.end())
        if not names:
            notes[f"settings: an `{match.group(1)}` whose projects are computed; not read"] = None
        for quote, raw in names:
            name = values.fill(quote, raw)
            if not name:
                notes[f"settings: project name {raw!r} not read"] = None
                continue
            path = name if name.startswith(":") else ":" + name
            parts = [p for p in path.split(":") if p]
            if match.group(1) == "includeFlat":
                projects[path] = (root.parent / parts[-1]).resolve()
                continue
            for depth in range(1, len(parts)):  # `:b:c` makes `:b` a project too
                projects.setdefault(":" + ":".join(parts[:depth]), root.joinpath(*parts[:depth]))
            projects[path] = root.joinpath(*parts)
    folder = r"""(?:file\s*\(\s*|(?:new\s+)?File\s*\(\s*(?:rootDir|settingsDir|rootProject\.projectDir)\s*,\s*)(['"])([^'"$]+)\3"""
    for match in re.finditer(rf"""project\s*\(\s*(['"])([^'"]+)\1\s*\)\s*\.projectDir\s*=\s*{folder}""", settings):
        path = match.group(2) if match.group(2).startswith(":") else ":" + match.group(2)
        projects[path] = (root / match.group(4)).resolve()
    literal = len(re.findall(rf"""project\s*\(\s*(['"])([^'"]+)\1\s*\)\s*\.projectDir\s*=\s*{folder}""", settings))
    if "rootProject.children" in settings or len(re.findall(r"\.projectDir\s*=", settings)) > literal:
        notes["settings: project folders set by code; only literal ones read"] = None
    if "includeBuild" in settings:
        notes["settings: included builds (`includeBuild`) are read only for their convention plugins"] = None
    return projects


# -- one build file ------------------------------------------------------------------------


_JAVA_VERSION_ENUM = re.compile(r"JavaVersion\.VERSION_(\w+)")


def _level(expression: str, values: _Values) -> str | None:
    expression = re.sub(r"[\s)}]+$", "", expression.strip())
    enum = _JAVA_VERSION_ENUM.search(expression)
    if enum:
        return normalize_java_level(enum.group(1).replace("_", "."))
    inner = re.search(r"(?:JavaVersion\.toVersion|JavaLanguageVersion\.of)\s*\(\s*(.+)", expression)
    if inner:
        expression = inner.group(1).rstrip(")").strip()
    literal = re.fullmatch(r"""(['"])(.*)\1""", expression)
    if literal:
        value = values.fill(literal.group(1), literal.group(2))
        return normalize_java_level(value) if value else None
    if re.fullmatch(r"[\d.]+", expression):
        return normalize_java_level(expression)
    value = values.lookup(expression)
    return normalize_java_level(value) if value else None


_LEVEL_SETTINGS = (
    ("release", r"""options\s*\.\s*release\s*(?:\.set\s*\(|=)\s*([^\n;]+)"""),
    ("release", r"""\brelease\s*\.set\s*\(\s*([^\n;]+)"""),
    ("sourceCompatibility", r"""(?<![\w])sourceCompatibility\s*(?:=|\(|\s)\s*([^\n;]+)"""),
    ("toolchain", r"""languageVersion\s*(?:\.set\s*\(|=)\s*(JavaLanguageVersion\.of\s*\([^)\n]*\))"""),
    ("toolchain", r"""jvmToolchain\s*\(\s*(\d+)\s*\)"""),
    ("targetCompatibility", r"""(?<![\w])targetCompatibility\s*(?:=|\(|\s)\s*([^\n;]+)"""),
)


def _java_level(text: str, values: _Values, where: str, notes: dict) -> str | None:
    for name, pattern in _LEVEL_SETTINGS:
        for match in re.finditer(pattern, text):
            level = _level(match.group(1), values)
            if level:
                return level
            notes[f"{where}: {name} {match.group(1).strip()!r} is not a level this reads"] = None
    return None


_SRC_STATEMENT = re.compile(r"(?<![\w])(setSrcDirs|srcDirs|srcDir)\b\s*(\+=|=|\(|\s)")


def _source_dirs(text: str, set_name: str, default: str, project_dir: pathlib.Path, values: _Values,
                 where: str, notes: dict) -> list[pathlib.Path]:  # fmt: skip
    """A source set's Java folders from literal `srcDirs` / `srcDir` statements, else `default`."""
    named = rf"""(?:{set_name}|named\s*\(\s*['"]{set_name}['"]\s*\)|getByName\s*\(\s*['"]{set_name}['"]\s*\))"""
    statements: list[str] = []
    for body in _blocks(text, "sourceSets"):
        for inner in _blocks(body, named):
            for java in _blocks(inner, "java"):
                statements += _statements(java)
            statements += _statements(inner, prefix=r"java\s*\.\s*")
        statements += _statements(body, prefix=rf"{set_name}\s*\.\s*java\s*\.\s*")
    access = rf"""sourceSets\s*(?:\.\s*{set_name}|\[\s*['"]{set_name}['"]\s*\]|\.\s*getByName\s*\(\s*['"]{set_name}['"]\s*\))"""
    statements += _statements(text, prefix=rf"{access}\s*\.\s*java\s*\.\s*")
    folders: list[pathlib.Path] = [project_dir / default]
    for statement in statements:
        match = _SRC_STATEMENT.match(statement)
        replace = match.group(1) == "setSrcDirs" or match.group(2) == "="
        after = statement[match.end() :]
        if match.group(2) == "(":
            argument = _argument_text(after, True)
        elif opening := re.match(r"\s*(?:\[|(?:files|listOf|setOf)\s*\()", after):
            # a list may run over several lines: up to its closing bracket
            close = {"[": "]"}.get(after[opening.end() - 1], ")")
            argument = after[: after.find(close, opening.end()) + 1 or len(after)]
        else:
            argument = after.split("\n", 1)[0]
        literals = _strings(argument)
        named_folders = []
        for quote, raw in literals:
            value = values.fill(quote, raw)
            if value is None:
                notes[f"{where}: source folder {raw!r} names an unknown value; left out"] = None
                continue
            named_folders.append((project_dir / value).resolve())
        if not literals:
            notes[f"{where}: a `{match.group(1)}` without literal folders; not read"] = None
            continue
        folders = named_folders if replace else folders + named_folders
    return folders


def _statements(text: str, prefix: str = "") -> list[str]:
    """The text from each `srcDirs`-like word (after `prefix`) to the end of `text`."""
    return [text[m.end() :] for m in re.finditer(rf"(?<![\w.]){prefix}(?=(?:setSrcDirs|srcDirs|srcDir)\b)", text)]


def _argument_text(text: str, parenthesised: bool) -> str:
    """The argument of a call whose `(` was just read: up to the matching `)`."""
    if not parenthesised:
        return text
    depth = 1
    for i, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if depth == 0:
            return text[:i]
    return text


_CONFIGURATION = re.compile(rf"(?<![\w.$])({'|'.join(CONFIGURATIONS)})\b(?!\s*[.{{=])\s*(\(\s*)?")


class _Catalog:
    """`gradle/libs.versions.toml`: accessor (`foo.bar` of `libs.foo.bar`) -> coordinate, and bundles."""

    def __init__(self, path: pathlib.Path, notes: dict) -> None:
        self.libraries: dict[str, tuple[str, str, str | None]] = {}
        self.bundles: dict[str, list[str]] = {}
        self.path = path
        if not path.is_file():
            return
        data = read_toml(path)
        if isinstance(data, str):
            notes[f"{path}: not read ({data})"] = None
            return
        versions = data.get("versions", {}) if isinstance(data.get("versions"), dict) else {}

        def version_of(value) -> str | None:
            if isinstance(value, str):
                return value
            if isinstance(value, dict):
                if "ref" in value:
                    return version_of(versions.get(value["ref"]))
                for key in ("strictly", "require", "prefer"):
                    if isinstance(value.get(key), str):
                        return value[key]
            return None

        for alias, value in (data.get("libraries") or {}).items():
            key = re.sub(r"[-_]", ".", alias)
            if isinstance(value, str):
                parts = value.split(":")
                if len(parts) >= 2:
                    self.libraries[key] = (parts[0], parts[1], parts[2] if len(parts) > 2 else None)
                continue
            if not isinstance(value, dict):
                continue
            if "module" in value and ":" in str(value["module"]):
                group, artifact = str(value["module"]).split(":", 1)
            elif "group" in value and "name" in value:
                group, artifact = str(value["group"]), str(value["name"])
            else:
                notes[f"{path}: library {alias} not read"] = None
                continue
            self.libraries[key] = (group, artifact, version_of(value.get("version")))
        for name, members in (data.get("bundles") or {}).items():
            if isinstance(members, list):
                self.bundles[re.sub(r"[-_]", ".", name)] = [re.sub(r"[-_]", ".", str(m)) for m in members]

    def lookup(self, accessor: str) -> list[tuple[str, str, str | None]] | None:
        accessor = re.sub(r"\.get$", "", accessor)
        if accessor.startswith("bundles."):
            members = self.bundles.get(accessor[len("bundles.") :])
            if members is None:
                return None
            return [self.libraries[m] for m in members if m in self.libraries]
        found = self.libraries.get(accessor)
        return [found] if found else None


def _dependencies(text: str, project_dir: pathlib.Path, values: _Values, catalog: _Catalog, deps: Dependencies,
                  where: str, notes: dict) -> list[str]:  # fmt: skip
    """Add the file's declared dependencies to `deps`; the projects of the build it depends on."""
    internal: list[str] = []
    text = _without_blocks(text, "buildscript")  # the build's own plugins' classpath, not the project's
    for body in _blocks(text, "dependencies"):
        body = _without_blocks(body, "constraints")
        spans = _string_spans(body)
        for match in _CONFIGURATION.finditer(body):
            if not _in_code(spans, match.start()):
                continue  # `api` of `project(":x-api")`
            rest = body[match.end() :]
            parenthesised = bool(match.group(2))
            if _STRING.match(rest):
                literals, _ = _string_list(rest, 0)
                for quote, raw in literals:
                    _add_notation(raw, quote, values, deps, where, notes)
            elif re.match(r"group\s*[:=]", rest):
                line = _argument_text(rest, True) if parenthesised else rest.split("\n", 1)[0]
                fields = {m.group(1): (m.group(2), m.group(3)) for m in
                          re.finditer(r"""\b(group|name|version|classifier)\s*[:=]\s*(['"])([^'"]*)\2""", line)}  # fmt: skip
                filled = {k: values.fill(q, v) for k, (q, v) in fields.items()}
                if not filled.get("group") or not filled.get("name"):
                    notes[f"{where}: dependency {line.strip()[:80]!r} not read"] = None
                    continue
                version = filled.get("version")
                if "version" in fields and version is None:
                    notes[f"{where}: version {fields['version'][1]!r} names an unknown value"] = None
                deps.add(filled["group"], filled["name"], _clean_version(version), filled.get("classifier"))
            elif project := re.match(r"""project\s*\(\s*(?:path\s*[:=]\s*)?(['"])([^'"]+)\1""", rest):
                name = project.group(2)
                internal.append(name if name.startswith(":") else ":" + name)
            elif re.match(r"files\s*\(", rest):
                arguments = _argument_text(rest[rest.index("(") + 1 :], True)
                for quote, raw in _strings(arguments):
                    value = values.fill(quote, raw)
                    if value is None:
                        notes[f"{where}: jar {raw!r} names an unknown value"] = None
                        continue
                    deps.add_jar(str((project_dir / value).resolve()), f"files({value})")
            elif re.match(r"fileTree\s*\(", rest):
                _file_tree(rest[rest.index("(") + 1 :], project_dir, values, deps, where, notes)
            elif accessor := re.match(r"libs\.([\w.]+)", rest):
                found = catalog.lookup(accessor.group(1))
                if found is None:
                    notes[f"{where}: libs.{accessor.group(1)} is not in {catalog.path.name}"] = None
                for group, artifact, version in found or ():
                    deps.add(group, artifact, _clean_version(version))
            elif re.match(r"(?:platform|enforcedPlatform)\s*\(", rest):
                continue  # a BOM constrains versions; it puts no jar of its own on the classpath
            else:
                notes[f"{where}: dependency {(match.group(0) + rest).split(chr(10), 1)[0].strip()[:80]!r} not read"] = None
    return internal


def _clean_version(version: str | None) -> str | None:
    """A version Gradle resolves by itself (`1.+`, `latest.release`, ranges) counts as none; `!!` is dropped."""
    if not version:
        return None
    version = version.removesuffix("!!")
    if "+" in version or version.startswith("latest.") or version[:1] in "[(]":
        return None
    return version


def _add_notation(raw: str, quote: str, values: _Values, deps: Dependencies, where: str, notes: dict) -> None:
    value = values.fill(quote, raw)
    if value is None:
        notes[f"{where}: dependency {raw!r} names an unknown value"] = None
        value = re.sub(r":[^:]*\$[^:]*$", "", raw)  # keep group:artifact, drop the version we cannot read
        if "$" in value:
            return
    value = value.split("@", 1)[0]
    parts = value.split(":")
    if len(parts) < 2 or not all(parts[:2]):
        notes[f"{where}: dependency {raw!r} not read"] = None
        return
    version = _clean_version(parts[2]) if len(parts) > 2 else None
    deps.add(parts[0], parts[1], version, parts[3] if len(parts) > 3 and parts[3] else None)


def _file_tree(arguments: str, project_dir: pathlib.Path, values: _Values, deps: Dependencies, where: str,
               notes: dict) -> None:  # fmt: skip
    text = _argument_text(arguments, True)
    # a trailing `{ include("*.jar") }` configures the tree too
    closure = re.match(r"\s*\{", arguments[len(text) + 1 :])
    if closure:
        start = len(text) + 1 + closure.end() - 1
        text += " " + arguments[start : _block_end(arguments, start)]
    literals = [(q, values.fill(q, v)) for q, v in _strings(text)]
    named_dir = re.search(r"""dir['"]?\s*(?::|=|to)\s*(?:file\s*\(\s*)?(['"])([^'"]+)\1""", text)
    directory = values.fill(named_dir.group(1), named_dir.group(2)) if named_dir else (literals[0][1] if literals else None)
    if not directory:
        notes[f"{where}: fileTree({text.strip()[:60]}) not read"] = None
        return
    patterns = [v for _q, v in literals if v and v != directory and ("*" in v or v.endswith(".jar"))]
    folder = (project_dir / directory).resolve()
    jars = sorted(str(p) for p in folder.rglob("*.jar")) if folder.is_dir() else []
    if patterns:
        jars = [j for j in jars if any(fnmatch.fnmatch(os.path.relpath(j, folder), p) or
                                       fnmatch.fnmatch(os.path.basename(j), p) for p in patterns)]  # fmt: skip
    if not jars:
        deps.add_jar(str(folder / "*.jar"), f"fileTree({directory})")
    for jar in jars:
        deps.add_jar(jar, f"fileTree({directory})/{os.path.basename(jar)}")


_PLUGIN_ID = re.compile(r"""(?<![\w.])(?:id\s*\(?\s*|apply\s*\(?\s*plugin\s*[:=]\s*)(['"])([\w.-]+)\1""")


def _convention_plugins(root: pathlib.Path, settings: str) -> dict[str, pathlib.Path]:
    """Precompiled script plugins of `buildSrc/` and included plugin builds: plugin id -> script."""
    builds = [root / "buildSrc"]
    builds += [(root / raw).resolve() for _q, raw in
               (s for m in re.finditer(r"includeBuild\s*\(?", settings) for s in _string_list(settings, m.end())[0])]  # fmt: skip
    found: dict[str, pathlib.Path] = {}
    for build in builds:
        for language in ("kotlin", "groovy"):
            folder = build / "src" / "main" / language
            if not folder.is_dir():
                continue
            for script in sorted(folder.rglob("*.gradle*")):
                name = script.name.removesuffix(".kts").removesuffix(".gradle")
                if script.name.endswith((".gradle", ".gradle.kts")) and not name.startswith("settings"):
                    found.setdefault(name, script)
    return found


def _applied(text: str, plugins: dict[str, pathlib.Path], seen: set[str] | None = None) -> list[pathlib.Path]:
    """The convention scripts `text` applies, and those they apply in turn, nearest first."""
    seen = set() if seen is None else seen
    found = []
    for match in _PLUGIN_ID.finditer(text):
        name = match.group(2)
        if name in plugins and name not in seen:
            seen.add(name)
            found.append(plugins[name])
            found += _applied(_read(plugins[name]), plugins, seen)
    return found


def _build_file(folder: pathlib.Path) -> pathlib.Path | None:
    for name in ("build.gradle", "build.gradle.kts"):
        if (folder / name).is_file():
            return folder / name
    return None


def read_gradle_project(root: pathlib.Path, stores: ArtifactStores) -> ProjectModel:
    """The Gradle build at `root` (absolute), its jars looked for in `stores`."""
    notes: dict[str, None] = {}
    build_files: list[str] = []
    settings_path = next((root / n for n in ("settings.gradle", "settings.gradle.kts") if (root / n).is_file()), None)
    values = _Values()
    values.names.update(_properties_file(root / "gradle.properties"))
    settings = _read(settings_path) if settings_path else ""
    if settings_path:
        build_files.append(str(settings_path))
        values.read(settings)
    projects = _projects(root, settings, values, notes)
    root_build = _build_file(root)
    root_text = _read(root_build) if root_build else ""
    values.read(root_text)
    catalog = _Catalog(root / "gradle" / "libs.versions.toml", notes)
    if catalog.libraries:
        build_files.append(str(catalog.path))
    root_level = _java_level(root_text, values, str(root_build), notes) if root_build else None
    plugins = _convention_plugins(root, settings)
    deps = Dependencies(stores)
    modules, main, tests = [], [], []
    for path, folder in projects.items():
        build = _build_file(folder)
        text = _read(build) if build else ""
        where = str(build or folder)
        if build:
            build_files.append(str(build))
        local = values.child(projectDir=str(folder), rootDir=str(root), buildDir=str(folder / "build"))
        local.names.update(_properties_file(folder / "gradle.properties") if folder != root else {})
        local.read(text, override=True)
        level = _java_level(text, local, where, notes) if path != ":" else root_level
        # what the project's convention plugins (buildSrc, included builds) say, where it says nothing itself
        for script in _applied(text, plugins):
            convention = _read(script)
            build_files.append(str(script))
            level = level or _java_level(convention, local, str(script), notes)
            _dependencies(convention, folder, local, catalog, deps, str(script), notes)
        source = _source_dirs(text, "main", "src/main/java", folder, local, where, notes)
        test = _source_dirs(text, "test", "src/test/java", folder, local, where, notes)
        internal = _dependencies(text, folder, local, catalog, deps, where, notes)
        source, test = existing(p.resolve() for p in source), existing(p.resolve() for p in test)
        main += source
        tests += test
        modules.append(Module(path, str(folder), str(build) if build else None, source, test, level or root_level,
                              tuple(dict.fromkeys(internal))))  # fmt: skip
    missing = [m.name for m in modules if not os.path.isdir(m.directory)]
    if missing:
        notes[f"projects without a folder: {', '.join(missing)}"] = None
    levels = {m.java_level for m in modules if m.java_level and (m.source_roots or m.test_roots)} or {
        m.java_level for m in modules if m.java_level
    }
    if len(levels) > 1:
        notes[f"projects compile at different Java levels ({', '.join(sorted(levels))}); the newest is used"] = None
    main_roots = existing(main)
    return ProjectModel(
        root=str(root), language="java", build_system="gradle", build_files=tuple(dict.fromkeys(build_files)),
        source_roots=main_roots, test_roots=tuple(t for t in existing(tests) if t not in main_roots),
        java_level=highest_level(levels), dependencies=tuple(deps.declared), classpath=tuple(deps.classpath),
        unresolved=tuple(deps.unresolved), version_differs=dict(deps.version_differs), modules=tuple(modules),
        notes=tuple(notes),
    )  # fmt: skip
