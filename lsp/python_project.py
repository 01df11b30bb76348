"""Reading a Python project's layout and requirements from `pyproject.toml` and `setup.cfg` into a `ProjectModel`.

Source roots are the folders the top-level packages are imported from (`src/`
of a src layout, or the root). They come from, in this order:
setuptools' `[tool.setuptools] package-dir` and `packages.find.where`,
`setup.cfg`'s `[options] package_dir` and `[options.packages.find] where`,
poetry's `packages = [{include, from}]`, hatch's wheel `packages` and
`sources`, pdm's `package-dir`, flit's module and maturin's `python-source`;
with a build file but none of these, as setuptools discovers them: `src/`
when it holds a package, else the root; with no build file, the root.
`dependencies` are the requirement names of `[project] dependencies`,
poetry's dependencies and `install_requires`; `unresolved` those not
installed in this Python (jedi resolves imports in the Python it runs in).
Not read: `setup.py` (it is code), requirements files, optional and
development dependencies, a package mapped to a folder of another name
(`package-dir = {"mgd" = "api"}`: no source folder can import it as `mgd`).
"""

from __future__ import annotations

import configparser
import importlib.metadata
import pathlib
import re

from mgd.lsp.project import ProjectModel, existing, read_toml

__all__ = ["read_python_project", "requirement_name"]

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def requirement_name(requirement: str) -> str | None:
    """The distribution name of a PEP 508 requirement (`requests[socks]>=2; python_version>'3'` -> `requests`)."""
    match = _REQUIREMENT.match(requirement)
    return match.group(1) if match else None


def _packages_in(folder: pathlib.Path) -> list[str]:
    """The regular packages (folders with `__init__.py`) directly in `folder`."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()
                  and p.name.isidentifier())  # fmt: skip


def _importable(folder: pathlib.Path, name: str) -> bool:
    return (folder / name).is_dir() or (folder / f"{name}.py").is_file()


class _Layout:
    """Source roots and top-level package names as the build files state them."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.roots: list[pathlib.Path] = []
        self.packages: list[str] = []
        self.notes: dict[str, None] = {}

    def add_root(self, folder: str | pathlib.Path) -> None:
        self.roots.append((self.root / folder).resolve())

    def package_dir(self, mapping: dict[str, str], where: str) -> None:
        """setuptools' `package-dir`: `""` is the base of every package; a top-level name maps to its own folder."""
        for name, folder in mapping.items():
            name, folder = str(name).strip(), str(folder).strip().rstrip("/") or "."
            if not name:
                self.add_root(folder)
            elif "." in name:
                continue  # a sub-package's folder: its top-level package decides the root
            elif pathlib.PurePosixPath(folder).name == name:
                self.add_root(pathlib.PurePosixPath(folder).parent)
                self.packages.append(name)
            else:
                self.notes[f"{where}: package {name} lives in {folder}/, a folder of another name; not importable "
                           "from a source folder"] = None  # fmt: skip


def _pyproject_layout(data: dict, layout: _Layout, where: str) -> None:
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    setuptools = tool.get("setuptools") if isinstance(tool.get("setuptools"), dict) else {}
    if isinstance(setuptools.get("package-dir"), dict):
        layout.package_dir(setuptools["package-dir"], where)
    packages = setuptools.get("packages")
    if isinstance(packages, dict) and isinstance(packages.get("find"), dict):
        for folder in packages["find"].get("where") or ["."]:
            layout.add_root(folder)
    elif isinstance(packages, list):
        layout.packages += [str(p) for p in packages if "." not in str(p)]
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    for entry in poetry.get("packages") or []:
        if isinstance(entry, dict) and entry.get("include"):
            layout.add_root(entry.get("from") or ".")
            top = pathlib.PurePosixPath(str(entry["include"])).parts[0]
            layout.packages.append(top.removesuffix(".py"))
    hatch = tool.get("hatch") if isinstance(tool.get("hatch"), dict) else {}
    wheel = ((hatch.get("build") or {}).get("targets") or {}).get("wheel") or {}
    for table in (wheel, hatch.get("build") or {}):
        for folder in table.get("packages") or []:
            path = pathlib.PurePosixPath(str(folder).rstrip("/"))
            layout.add_root(path.parent)
            layout.packages.append(path.name)
        sources = table.get("sources")
        if isinstance(sources, list):
            for folder in sources:
                layout.add_root(folder)
        elif isinstance(sources, dict):
            for folder, prefix in sources.items():
                if not prefix:  # `{"src" = ""}`: the folder's contents become top-level
                    layout.add_root(folder)
    pdm = ((tool.get("pdm") or {}).get("build") or {}) if isinstance(tool.get("pdm"), dict) else {}
    if isinstance(pdm.get("package-dir"), str):
        layout.add_root(pdm["package-dir"])
    flit = ((tool.get("flit") or {}).get("module") or {}) if isinstance(tool.get("flit"), dict) else {}
    if flit.get("name"):
        name = str(flit["name"]).split(".")[0]
        layout.add_root("src" if (layout.root / "src" / name).exists() else ".")
        layout.packages.append(name)
    maturin = tool.get("maturin") if isinstance(tool.get("maturin"), dict) else {}
    if maturin.get("python-source"):
        layout.add_root(maturin["python-source"])


def _setup_cfg_layout(config: configparser.ConfigParser, layout: _Layout, where: str) -> None:
    if not config.has_section("options"):
        return
    options = config["options"]
    raw = options.get("package_dir", "").strip()
    if raw:
        mapping = {}
        for line in raw.splitlines():
            if "=" in line:
                name, folder = line.split("=", 1)
                mapping[name.strip()] = folder.strip()
            elif line.strip():
                mapping[""] = line.strip()
        layout.package_dir(mapping, where)
    packages = options.get("packages", "").strip()
    if packages in ("find:", "find_namespace:"):
        section = "options.packages.find"
        where_dirs = config.get(section, "where", fallback="").split() if config.has_section(section) else []
        for folder in where_dirs or ([] if raw else ["."]):
            layout.add_root(folder)
    elif packages:
        layout.packages += [p.strip() for p in re.split(r"[\s,]+", packages) if p.strip() and "." not in p]


def _requirements(pyproject: dict | None, config: configparser.ConfigParser | None) -> list[str]:
    names: list[str] = []
    project = (pyproject or {}).get("project")
    if isinstance(project, dict):
        names += [n for n in map(requirement_name, project.get("dependencies") or []) if n]
    poetry = (((pyproject or {}).get("tool") or {}).get("poetry") or {}) if pyproject else {}
    if isinstance(poetry.get("dependencies"), dict):
        names += [str(n) for n in poetry["dependencies"] if str(n).lower() != "python"]
    if config is not None and config.has_section("options"):
        lines = config["options"].get("install_requires", "").splitlines()
        names += [n for n in (requirement_name(x) for x in lines if not x.strip().startswith("#")) if n]
    return list(dict.fromkeys(names))


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def read_python_project(root: pathlib.Path) -> ProjectModel:
    """The Python project at `root` (absolute)."""
    layout = _Layout(root)
    build_files: list[str] = []
    pyproject = config = None
    if (root / "pyproject.toml").is_file():
        build_files.append(str(root / "pyproject.toml"))
        data = read_toml(root / "pyproject.toml")
        if isinstance(data, str):
            layout.notes[f"{root / 'pyproject.toml'}: not read ({data})"] = None
        else:
            pyproject = data
            _pyproject_layout(data, layout, str(root / "pyproject.toml"))
    if (root / "setup.cfg").is_file():
        config = configparser.ConfigParser(interpolation=None)  # setup.cfg values may hold `%`
        try:
            config.read(root / "setup.cfg", encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as err:
            layout.notes[f"{root / 'setup.cfg'}: not read ({err})"] = None
            config = None
        if config is not None and (config.has_section("options") or config.has_section("metadata")):
            build_files.append(str(root / "setup.cfg"))
            _setup_cfg_layout(config, layout, str(root / "setup.cfg"))
    if not layout.roots and build_files:
        # setuptools' own discovery: a src layout when src/ holds a package, else the flat layout
        layout.add_root("src" if _packages_in(root / "src") else ".")
    if not layout.roots:
        layout.add_root(".")
    roots = existing(layout.roots)
    missing = [str(r) for r in layout.roots if not r.is_dir()]
    if missing:
        layout.notes[f"source folders that do not exist: {', '.join(dict.fromkeys(missing))}"] = None
    # a name the build lists counts only where a source folder holds it (`mgd` of `package-dir = {"mgd" = "api"}` does not)
    packages = [p for p in layout.packages if any(_importable(pathlib.Path(r), p) for r in roots)]
    for folder in roots:
        packages += _packages_in(pathlib.Path(folder))
    requirements = _requirements(pyproject, config)
    return ProjectModel(
        root=str(root), language="python", build_system="python" if build_files else "none",
        build_files=tuple(build_files), source_roots=roots or (str(root),), dependencies=tuple(requirements),
        unresolved=tuple(n for n in requirements if not _installed(n)), packages=tuple(dict.fromkeys(packages)),
        notes=tuple(layout.notes),
    )  # fmt: skip
