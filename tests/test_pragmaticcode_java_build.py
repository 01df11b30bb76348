"""PragmaticCode-Java dataset side: package lists, the ECJ compile check, candidate selection, a real Debian fetch."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from collections import Counter

import pytest
from mgd.errors import InputError
from mgd.lsp.session import Location
from mgd.pragmaticcode.java.debian import library_dependencies
from mgd.pragmaticcode.java.project import (
    JavaProjectBuild,
    JavaSpec,
    find_source_roots,
    parse_java_package_list,
    read_java_package_list,
)
from mgd.pragmaticcode.java.select import candidates, definition_kind, select
from mgd.pragmaticcode.prompts import parse_prompt
from mgd.pragmaticcode.dataset import Limits

# -- package lists ---------------------------------------------------------------------


def test_package_list_parses_comments_and_versions():
    specs = parse_java_package_list("# a list\njsoup=1.15.3-1  # HTML\n\njackson-core=2.14.1-2~deb12u1\nxy=1:2.0+dfsg-1\n")
    assert [str(s) for s in specs] == ["jsoup=1.15.3-1", "jackson-core=2.14.1-2~deb12u1", "xy=1:2.0+dfsg-1"]
    assert specs[2].slug == "deb-xy-1_2.0+dfsg-1"


@pytest.mark.parametrize(
    "text, line",
    [
        ("jsoup=1.15.3-1\njsoup==1.0\n", 2),  # the Python form
        ("# c\n\nJsoup=1.0\n", 3),  # Debian names are lower case
        ("jsoup\n", 1),  # no version
        ("jsoup=1.0\njsoup=1.1\n", 2),  # twice
    ],
)
def test_package_list_errors_name_the_line(text, line):
    with pytest.raises(InputError, match=f"packages.txt:{line}:"):
        parse_java_package_list(text, "packages.txt")


def test_package_list_file_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_java_package_list(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="names no packages"):
        read_java_package_list(tmp_path / "empty.txt")


def test_library_dependencies_leave_out_tooling_tests_and_own_binaries():
    dsc = (
        "Source: foo\nBinary: libfoo-java, foo\n"
        "Build-Depends: debhelper-compat (= 13), default-jdk, maven-debian-helper (>= 1.5),\n"
        " libcommons-lang3-java, libfoo-java, libmaven-bundle-plugin-java, junit4,\n"
        " libbar-java | libbaz-java, libmockito-java <!nocheck>, libqux-java (>= 2) <!nocheck>\n"
        "Build-Depends-Indep: libslf4j-java\n"
    )
    assert library_dependencies(dsc) == ["libcommons-lang3-java", "libbar-java", "libslf4j-java"]


def test_source_roots_follow_package_lines(tmp_path):
    for rel, package in [
        ("core/src/main/java/org/x/A.java", "org.x"),
        ("core/src/test/java/org/x/ATest.java", "org.x"),
        ("src/java/org/y/B.java", "org.y"),
        ("debian/patches/P.java", "p"),
        ("wrong/place/C.java", "org.z"),
    ]:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* header */\npackage {package};\nclass X {{}}\n")
    assert find_source_roots(tmp_path) == [tmp_path / "core/src/main/java", tmp_path / "src/java"]


# -- a tiny project ----------------------------------------------------------------------

SHAPE = """package shop;

public class Shape {
    public int sides() { return 4; }
    public String name() { return "shape"; }
}
"""
CART = """package shop;

import java.util.List;

public class Cart {
    private final Shape shape = new Shape();
    private int count;

    public int total(List<String> items) {
        String s = "a.b.c"; // a comment with obj.dot
        char c = '.';
        double d = 1.5;
        int n = shape.sides() + items.size();
        return n + shape.name().length() + this.count;
    }

    public Object broken() {
        return shape.volume();
    }
}
"""


def _project(tmp_path) -> JavaProjectBuild:
    src = tmp_path / "src"
    (src / "shop").mkdir(parents=True)
    (src / "shop" / "Shape.java").write_text(SHAPE, encoding="utf-8")
    (src / "shop" / "Cart.java").write_text(CART, encoding="utf-8")
    return JavaProjectBuild(JavaSpec("tiny", "1.0-1"), tmp_path, [src], [], "17")


def test_candidates_skip_strings_comments_and_package_names():
    found = list(candidates(CART))
    names = [(c.function, c.name) for c in found]
    assert names == [
        ("Cart.total", "sides"), ("Cart.total", "size"), ("Cart.total", "name"),
        ("Cart.total", "length"), ("Cart.total", "count"), ("Cart.broken", "volume"),
    ]  # fmt: skip
    for cand in found:
        assert CART[cand.dot] == "." and CART[cand.dot + 1 :].startswith(cand.name)
    total = found[0]
    assert CART[total.start :].startswith("public int total") and CART[: total.end].endswith("}")
    assert total.indent == 4
    text = "class A { void f() { java.util.List.of(); x.<T>g(); Outer.this.h(); String.class.getName(); } }"
    assert [c.name for c in candidates(text)] == ["of", "h", "getName"]


def test_candidates_offsets_count_characters_not_bytes():
    text = 'class A { /* é€ */ void f() { String s = "ü"; s.trim(); } }'
    (cand,) = candidates(text)
    assert text[cand.dot : cand.dot + 5] == ".trim"


class _FakeSession:
    """Every name is defined in Shape.java; counts the queries."""

    def __init__(self, target: pathlib.Path) -> None:
        self.target, self.queries = target, 0

    def definition(self, path, text, offset):
        self.queries += 1
        return [Location(str(self.target), 3, 4)]


def test_select_caps_per_method_and_builds_valid_records(tmp_path):
    build = _project(tmp_path)
    session = _FakeSession(tmp_path / "src" / "shop" / "Shape.java")
    prompts = select(build, session, Limits(per_package=10, per_function=2))
    per_method = Counter(p.function["name"] for p in prompts)
    assert per_method == {"Cart.total": 2, "Cart.broken": 1}
    text = (tmp_path / "src/shop/Cart.java").read_text()
    for prompt in prompts:
        record = parse_prompt(prompt.to_json(), "test")
        assert record == prompt and record.language == "java"
        assert prompt.definition == {"kind": "project", "file": "src/shop/Shape.java"}
        assert text[prompt.dot_offset + 1 :].startswith(prompt.next_identifier)
        assert prompt.ground_truth_identifiers[0] == prompt.next_identifier
    # deterministic: the same prompts in the same order
    assert [p.id for p in select(build, _FakeSession(session.target), Limits(per_function=2))] == [p.id for p in prompts]


def test_definition_kinds(tmp_path):
    build = _project(tmp_path)
    jar = tmp_path / "dep.jar"
    jar.write_bytes(b"")
    build = JavaProjectBuild(build.spec, build.root, build.source_roots, [jar])
    cart = tmp_path / "src/shop/Cart.java"
    assert definition_kind(build, str(cart), cart) is None
    assert definition_kind(build, str(tmp_path / "src/shop/Shape.java"), cart) == ("project", "src/shop/Shape.java")
    escaped = str(jar).replace("/", "%5C/")
    uri = f"jdt://contents/dep.jar/org.dep/Thing.java?=mgd-source/{escaped}%3Corg.dep%28Thing.class"
    assert definition_kind(build, uri, cart) == ("dependency", "dep.jar/org/dep/Thing.class")
    jdk = "jdt://contents/java.base/java.lang/String.class?=mgd-source/%5C/opt%5C/java%5C/lib%5C/jrt-fs.jar%60java.base"
    assert definition_kind(build, jdk, cart) is None


# -- the ECJ compile check ---------------------------------------------------------------


def _ecj_or_skip():
    from mgd.pragmaticcode.java.check import CheckerUnavailable, find_ecj, find_java

    try:
        return find_ecj(), find_java()
    except CheckerUnavailable as err:
        pytest.skip(f"no ECJ to run: {err}")


def test_compile_check_counts_only_new_errors(tmp_path):
    from mgd.pragmaticcode.java.check import compile_errors, compiles, new_errors

    _ecj_or_skip()
    build = _project(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    start = CART.index("shape.sides()") + len("shape")
    end = CART.index("    public Object broken")

    def variant(body: str) -> str:
        return CART[: start + 1] + body + CART[end:]

    good = variant("name().length();\n        return n;\n    }\n\n")
    bad = variant("perimeter();\n        return n;\n    }\n\n")
    syntax = variant("sides( + ;\n    }\n\n")
    original, *found = compile_errors(build, "src/shop/Cart.java", [CART, good, bad, syntax])
    # the original's own error (shape.volume()) is there, and not counted against variants
    assert sum(original.values()) == 1 and "volume" in next(iter(original))[1]
    assert compiles(original, found[0])
    assert new_errors(original, found[1]) == [("UndefinedMethod", "The method perimeter() is undefined for the type Shape")]
    assert new_errors(original, found[2]) is None  # a syntax error
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before  # the project is untouched


def test_project_check_finds_the_level_and_errors(tmp_path):
    from mgd.pragmaticcode.java.check import check_project

    _ecj_or_skip()
    build = _project(tmp_path)
    level, errors, _ = check_project(build, levels=("17",))
    assert level is None and list(errors) == ["src/shop/Cart.java"]
    (tmp_path / "src/shop/Cart.java").write_text(CART.replace("shape.volume()", "shape.sides()"))
    level, errors, _ = check_project(build, levels=("17",))
    assert level == "17" and errors == {}


# -- a real Debian source package ----------------------------------------------------------


def _apt_or_skip():
    if shutil.which("apt-get") is None or shutil.which("dpkg-source") is None:
        pytest.skip("apt-get/dpkg-source not installed: not a Debian machine")
    if os.geteuid() != 0:
        pytest.skip("apt-get install needs root")
    shown = subprocess.run(["apt-cache", "showsrc", "json-simple"], capture_output=True, text=True)
    if "Version:" not in shown.stdout:
        pytest.skip("no deb-src entry for this suite (see pragmaticcode/java/fetch.py), or apt-get update not run")


def test_real_debian_fetch_and_compile(tmp_path):
    from mgd.pragmaticcode.java.check import compile_errors
    from mgd.pragmaticcode.java.fetch import fetch_java
    from mgd.pragmaticcode.java.project import metadata

    _apt_or_skip()
    _ecj_or_skip()
    spec = JavaSpec("json-simple", "2.3.0-1")
    build = fetch_java(spec, tmp_path)
    record = metadata(build)
    assert record["compiles"] is True and record["source_roots"] == ["src/main/java"]
    assert build.source_level == "17" and len(build.java_files()) >= 10
    again = fetch_java("json-simple", "2.3.0-1", tmp_path)  # cached
    assert again == build
    rel = "src/main/java/org/json/simple/Jsoner.java"
    text = (build.root / rel).read_text(encoding="utf-8")
    (errors,) = compile_errors(build, rel, [text])
    assert errors == Counter()


def test_settle_adds_a_missing_jar_and_drops_a_side_module(tmp_path):
    import zipfile

    from mgd.pragmaticcode.java.check import run_ecj
    from mgd.pragmaticcode.java.fetch import ProjectDoesNotCompile, settle

    _ecj_or_skip()
    # a jar with org.dep.Thing, compiled with ECJ itself
    dep = tmp_path / "dep-src" / "org" / "dep"
    dep.mkdir(parents=True)
    (dep / "Thing.java").write_text("package org.dep;\npublic class Thing { public int size() { return 1; } }\n")
    classes = tmp_path / "classes"
    run_ecj([["-17", "-nowarn", "-d", str(classes), str(dep / "Thing.java")]])
    jars = tmp_path / "jars"
    jars.mkdir()
    with zipfile.ZipFile(jars / "dep.jar", "w") as handle:
        handle.write(classes / "org/dep/Thing.class", "org/dep/Thing.class")
    root = tmp_path / "project"
    core, side = root / "core/src/main/java", root / "side/src/main/java"
    for i in range(5):
        (core / "app").mkdir(parents=True, exist_ok=True)
        (core / "app" / f"A{i}.java").write_text(
            f"package app;\nimport org.dep.Thing;\npublic class A{i} {{ int f() {{ return new Thing().size(); }} }}\n"
        )
    (side / "extra").mkdir(parents=True)
    (side / "extra" / "Win.java").write_text("package extra;\nimport com.nowhere.Native;\npublic class Win { Native n; }\n")
    build = JavaProjectBuild(JavaSpec("tiny", "1.0-1"), root, [core, side], [], "17")
    settled, notes = settle(build, jar_folder=jars)
    assert settled.classpath == [jars / "dep.jar"] and settled.source_roots == [core]
    assert notes == {"added_jars": [str(jars / "dep.jar")], "dropped_roots": ["side/src/main/java"]}
    # the core itself broken: no way out
    (core / "app" / "A0.java").write_text("package app;\npublic class A0 { int f() { return missing(); } }\n")
    with pytest.raises(ProjectDoesNotCompile, match="A0.java"):
        settle(build, jar_folder=jars)
