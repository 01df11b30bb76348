"""Never constrain on a guess (Java, real JDT.LS): unresolved receivers stay free, `new` offers only types the file can name."""

from __future__ import annotations

import pathlib

import pytest

from mgd.lsp.jdtls import guessed_receiver
from mgd.lsp.session import LanguageServerSession
from mgd.monitors.base import Document
from mgd.monitors.dereference import DereferenceMonitor
from mgd.monitors.java.monitors import FileScope, NewMonitor

USE = """package com.acme;

import org.missing.lib.Client;
import com.other.Listed;

public class Use {
    void resolved(Shelf s) {
        s.
    }
    void built() {
        new Shelf().
    }
    void unresolved_new() {
        new Builder().
    }
    void unresolved_parameter(Builder b) {
        b.
    }
    void same_named_jdk_type() {
        new Client.Builder().
    }
    void make() {
        Object o = new
    }
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> pathlib.Path:
    """Two packages: `com.acme` (Shelf, Crate, the file under test) and `com.other` (Zola, Listed); one import is missing."""
    root = tmp_path_factory.mktemp("soundness")
    acme, other = root / "src" / "com" / "acme", root / "src" / "com" / "other"
    acme.mkdir(parents=True)
    other.mkdir(parents=True)
    (acme / "Shelf.java").write_text(
        "package com.acme;\n\npublic class Shelf {\n    public int totalUnits() { return 1; }\n"
        "    public Shelf stackCrate(int n) { return this; }\n}\n"
    )
    (acme / "Crate.java").write_text("package com.acme;\n\npublic class Crate {}\n")
    (other / "Zola.java").write_text("package com.other;\n\npublic class Zola {\n    public static class Part {}\n}\n")
    (other / "Listed.java").write_text("package com.other;\n\npublic class Listed {}\n")
    (acme / "Use.java").write_text(USE)
    return root


@pytest.fixture(scope="module")
def jdtls(project):
    with LanguageServerSession(project, language="java", source_paths=["src"]) as running:
        yield running


def _at(project: pathlib.Path, marker: str) -> Document:
    path = project / "src" / "com" / "acme" / "Use.java"
    at = USE.index(marker) + len(marker)
    return Document(str(path), USE[:at], USE[at:])


def test_a_resolved_receiver_is_constrained(project, jdtls):
    for marker in ("        s.", "new Shelf()."):
        names = DereferenceMonitor().allowed_names(jdtls, _at(project, marker), "")
        assert names is not None and {"totalUnits", "stackCrate"} <= names and "build" not in names


@pytest.mark.parametrize("marker", ["new Builder().", "        b.", "new Client.Builder()."])
def test_an_unresolved_receiver_leaves_decoding_free(project, jdtls, marker):
    document = _at(project, marker)
    items = jdtls.completions(document.path, document.prefix + document.suffix, len(document.prefix))
    # JDT.LS does answer, with members of JDK types that share the simple name: a guess
    assert items and items.receiver_guessed
    assert DereferenceMonitor().allowed_names(jdtls, document, "") is None


def test_guessed_lists_are_told_by_their_qualified_owners():
    assert guessed_receiver(["java.net.http.HttpRequest.Builder.GET() : Builder", "java.lang.Object.hashCode() : int"])
    assert not guessed_receiver(["Object.hashCode() : int", "Shelf.totalUnits() : int", "Map.Entry.getKey() : K"])
    assert not guessed_receiver(["", "class : Class<com.acme.Shelf>"])


def test_new_offers_only_types_the_file_can_name(project, jdtls):
    names = NewMonitor().allowed_names(jdtls, _at(project, "Object o = new"), " ")
    assert names is not None
    assert {"Shelf", "Crate", "Listed", "StringBuilder"} <= names  # own package, imported, java.lang
    assert "Zola" not in names  # another package, not imported: generated text cannot add the import
    assert "ArrayList" not in names  # java.util is not imported here
    assert "java" in names  # a qualified name may still be written out: `new java.util.ArrayList<>()`


def test_file_scope_reads_package_and_imports():
    scope = FileScope.of("package a.b;\n\nimport java.util.*;\nimport c.d.E;\nimport static f.G.h;\n\nclass X {")
    assert scope.can_name("a.b.Y") and scope.can_name("java.util.List") and scope.can_name("c.d.E")
    assert scope.can_name("java.lang.String") and scope.can_name("java.util.Map.Entry") and scope.can_name("Bare")
    assert not scope.can_name("c.d.F") and not scope.can_name("java.util.concurrent.Executor") and not scope.can_name("f.G")


LAST = "package demo;\n\nimport java.util.List;\n\npublic class L {\n    String last(List<String> items) {\n        return items.\n    }\n}\n"


@pytest.mark.parametrize("level, offered", [("17", False), (None, True)])
def test_a_java_21_method_is_not_offered_at_level_17(tmp_path, level, offered):
    folder = tmp_path / "src" / "demo"
    folder.mkdir(parents=True)
    (folder / "L.java").write_text(LAST)
    at = LAST.index("items.") + len("items.")
    with LanguageServerSession(tmp_path, language="java", source_paths=["src"], java_level=level) as jdtls:
        names = DereferenceMonitor().allowed_names(jdtls, Document(str(folder / "L.java"), LAST[:at], LAST[at:]), "")
    assert names is not None and {"get", "isEmpty", "size"} <= names
    assert ("getLast" in names) is offered  # List.getLast() came with Java 21; the running JDK is newer
