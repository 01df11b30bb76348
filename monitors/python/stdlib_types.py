"""The standard library's classes, read from the typeshed stubs basedpyright ships: which of them surely are no project class.

A standard-library class cannot inherit from a class of the project, so a
value of one (`weakref.ReferenceType`, `pathlib.Path`) is no instance of a
project class (unless that class is a `Protocol`, which the rules never
judge). Two exceptions make the set smaller: a class with `Any` among its
bases (`unittest.mock.NonCallableMock`) is assignable to anything, and a
name declared twice in the stubs, or also in the project, is not known by
name. The stubs are read once per process (about 0.3 s).
"""

from __future__ import annotations

import os
import sysconfig

from mgd.monitors.types import DeclaredTypes

__all__ = ["closed_stdlib_class", "stdlib_supertypes"]


def _stubs_folder() -> str | None:
    """typeshed's `stdlib` folder inside the installed basedpyright, if there is one."""
    for root in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        folder = os.path.join(root, "basedpyright", "dist", "typeshed-fallback", "stdlib")
        if os.path.isdir(folder):
            return folder
    return None


def _stub_files(folder: str):
    for where, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".pyi"):
                yield os.path.join(where, name)


def _stdlib() -> DeclaredTypes | None:
    from mgd.monitors.python.types import class_statements

    folder = _stubs_folder()
    return None if folder is None else DeclaredTypes.read(("python-stdlib", folder), _stub_files(folder), class_statements, "object")


def closed_stdlib_class(name: str) -> bool:
    """True if `name` is one standard-library class (declared once in the stubs) with no `Any` among its bases, however far up."""
    stdlib = _stdlib()
    return stdlib is not None and stdlib.declares(name) and "Any" not in stdlib.supertypes(name)


def stdlib_supertypes(name: str) -> frozenset[str]:
    """The classes a closed standard-library class (`closed_stdlib_class`) derives from, however far up (empty for any other name)."""
    stdlib = _stdlib()
    return stdlib.supertypes(name) if stdlib is not None and closed_stdlib_class(name) else frozenset()
