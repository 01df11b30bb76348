"""The real default model (SmolLM2-135M, greedy) with and without the `types` monitor, on the small projects of the types tests.

Found by trying a handful of prompts on each project (greedy, so the result
is fixed): where names-only guidance writes a real member of the wrong
type, `types` makes the expression end with a value of the right type.
"""

from __future__ import annotations

import pytest

from mgd.completion import complete_document
from mgd.lsp.session import LanguageServerSession
from mgd.monitors import monitors_by_name
from mgd.monitors.base import Document

from types_projects import java_depot, python_depot

# list's methods that return None (typeshed): a `-> bool` function may not return their value
_NONE_METHODS = ("append", "extend", "insert", "remove", "clear", "sort", "reverse")


@pytest.fixture(scope="module")
def pydepot(tmp_path_factory):
    return python_depot(tmp_path_factory)


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return java_depot(tmp_path_factory)


def _both(document, model, tokenizer, session, names_only: str) -> tuple[str, str]:
    """(names-only guided text, guided text with `types` added), greedy."""
    found = []
    for spec in (names_only, names_only + ",types"):
        monitors = monitors_by_name(spec, session.language)
        done = complete_document(document, model=model, tokenizer=tokenizer, session=session, monitors=monitors, max_new_tokens=14)
        found.append(done[0].text)
    return found[0], found[1]


def _python_both(real_model, pydepot, prefix: str) -> tuple[str, str]:
    """`_both` for a new module `depot/yard.py` of the Python depot that starts with `prefix`."""
    model, tokenizer = real_model
    document = Document(str(pydepot / "depot" / "yard.py"), prefix, "\n")
    with LanguageServerSession(pydepot) as session:
        return _both(document, model, tokenizer, session, "deref,imports,classes,args")


def test_python_a_bool_function_stops_returning_a_none_method(real_model, pydepot):
    prefix = (
        '"""The yard: bays of crates."""\n\nfrom depot.bay import Bay, Crate\n\n\nclass Yard:\n'
        "    def __init__(self, bay: Bay) -> None:\n        self.bay = bay\n\n"
        "    def add(self, crate: Crate) -> bool:\n        return self.bay."
    )
    names, typed = _python_both(real_model, pydepot, prefix)
    assert names.startswith("crates.append("), names  # list.append returns None: a `reportReturnType` error
    assert typed.startswith("crates.") and not typed.startswith(tuple(f"crates.{m}" for m in _NONE_METHODS)), typed
    assert typed.startswith("crates.count(crate) =="), typed  # an int compared: a bool


def test_python_an_optional_attribute_is_tested_before_its_member_is_read(real_model, pydepot):
    prefix = (
        '"""The yard: bays of crates."""\n\nfrom typing import Optional\n\nfrom depot.bay import Bay, Crate\n\n\n'
        "class Yard:\n    def __init__(self) -> None:\n        self.crate: Optional[Crate] = None\n\n"
        '    def weight(self) -> int:\n        """The weight of the crate."""\n        return self.'
    )
    names, typed = _python_both(real_model, pydepot, prefix)
    assert names.startswith("crate.weight"), names  # `self.crate` may be None: a `reportOptionalMemberAccess` error
    assert typed.startswith("crate is not None and self.crate.weight"), typed  # narrowed first, then read


def test_java_a_string_variable_ends_with_a_string(real_model, depot):
    model, tokenizer = real_model
    prefix = (
        "package org.depot;\n\n/** A depot of shelves. */\npublic class Depot {\n"
        "    private final Shelf shelf = new Shelf();\n\n"
        "    /** The shelf's label. */\n    public String name() {\n        String label = shelf."
    )
    document = Document(str(depot / "src/main/java/org/depot/Depot.java"), prefix, "\n        return null;\n    }\n}\n")
    with LanguageServerSession(depot, language="java") as session:
        names, typed = _both(document, model, tokenizer, session, "deref,args,enums,new")
    assert names == "getClass();", names  # a Class<?> into a String: ECJ's TypeMismatch
    assert typed == "getClass().getName();", typed  # the chain goes on to a String


def test_python_a_dotted_argument_of_the_wrong_type_is_not_ended_with_the_checker(real_model, pydepot):
    prefix = (
        '"""The yard: bays of crates."""\n\nimport weakref\n\nfrom depot.bay import Bay, Crate\n\n\n'
        "def count(bay: Bay) -> int:\n    return bay.count()\n\n\nclass Yard:\n"
        "    def __init__(self, bay: Bay, crate: Crate) -> None:\n        self._crate = crate\n        self._bay = bay\n\n"
        "    def size(self) -> int:\n        return count(self._"
    )
    names, typed = _python_both(real_model, pydepot, prefix)
    assert names.startswith("crate)"), names  # a `Crate` for `bay: Bay`: a `reportArgumentType` error
    # basedpyright types `self._crate` a `Crate` there: the argument may not end with it (the small model goes on
    # with `.weight...` instead, still no `Bay`: guidance does not take back what was written)
    assert typed.startswith("crate.") and "_crate)" not in typed and "_crate," not in typed, typed
