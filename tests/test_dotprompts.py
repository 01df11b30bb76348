"""The paper's DotPrompts `dataset.csv`: checking it, reading rows against repositories, Java identifiers."""

from __future__ import annotations

import csv
import hashlib
import json
import pathlib

import pytest

from mgd.errors import InputError
from mgd.pragmaticcode.java.dotprompts import (
    COLUMNS,
    _declaration,
    _File,
    dotprompts_summary,
    read_dotprompts,
    validate_csv,
)
from mgd.pragmaticcode.java.lexer import identifiers
from mgd.pragmaticcode.prompts import parse_prompt

# The shared data sit beside the project's checkout; a fresh clone elsewhere (CI) has none.
SHARED = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dotprompts"
DATASET = SHARED / "dataset.csv"
needs_shared = pytest.mark.skipif(
    not DATASET.is_file(), reason=f"the paper's DotPrompts copy is not at {SHARED} (only beside the main checkout)"
)

# Two real rows (repo, classFileName, methodStartIdx, methodStopIdx, dot_idx).
EVENT = (
    "maciejwalkowiak/spring-boot-startup-report",
    "startup-report/src/main/java/com/maciejwalkowiak/spring/boot/startup/Event.java",
    729, 1455, 935,
)  # fmt: skip
GIF = ("nackily/imglib", "pipe/src/main/java/cn/pipe/in/AbstractGifSource.java", 2169, 2749, 2560)


def pad(text: str, length: int) -> str:
    """`text` grown with line breaks to exactly `length` characters."""
    assert len(text) <= length, (len(text), length)
    return text + "\n" * (length - len(text))


def event_java(start: int, stop: int, dot: int) -> str:
    """A Java file whose method body `{`, closing `}` and dereference `.` sit at the given offsets."""
    decl = '    @SuppressWarnings({"unchecked"})\n    public String toJson(List<String> names) throws java.io.IOException {'
    text = pad("package demo;\n\nimport java.util.List;\n\npublic class Event {\n    private int x;\n", start + 1 - len(decl))
    text += decl
    assert text[start] == "{"
    text += '\n        StringBuilder sb = new StringBuilder("{");\n'
    text = pad(text, dot - len("        sb")) + "        sb."
    text += "append(\"a.b\").append('.') // x.y\n            .append(names.size());\n        return sb.toString();\n"
    text = pad(text, stop - 4) + "    }\n}\n"
    assert text[dot] == "." and text[stop] == "}"
    return text


def gif_java(start: int, stop: int, dot: int) -> str:
    """Another such file, with a Javadoc, a text block and a char literal before the dot."""
    decl = "    /** Reads frames. */\n    protected static int read(int frames) {"
    text = pad("package cn.pipe.in;\n\npublic abstract class AbstractGifSource {\n", start + 1 - len(decl)) + decl
    text += '\n        String tb = """\n            a.b "quoted" c\n            """;\n        char c = \'.\';\n'
    text = pad(text, dot - len("        this")) + "        this."
    text += "decoder.next(1.5e3f, 0x1.8p3, frames); /* this.hidden() */ return Frames.COUNT;\n"
    text = pad(text, stop - 4) + "    }\n}\n"
    assert text[start] == "{" and text[dot] == "." and text[stop] == "}"
    return text


def write_csv(path: pathlib.Path, rows, header=COLUMNS) -> pathlib.Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def put(root: pathlib.Path, repo: str, file: str, data: bytes) -> None:
    path = root / repo / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


# --- the real file -------------------------------------------------------------------------


@needs_shared
def test_real_dataset_validates():
    rows = validate_csv(DATASET)
    assert len(rows) == 10538
    assert len({r.repo for r in rows}) == 100
    assert len({(r.repo, r.file, r.start, r.stop) for r in rows}) == 1420
    assert rows[0].line == 2 and rows[0][1:] == EVENT
    assert all(r.start <= r.dot <= r.stop for r in rows)


@needs_shared
def test_real_dataset_without_repositories_is_all_missing(tmp_path):
    load = read_dotprompts(DATASET, tmp_path)
    assert load.prompts == [] and load.bad == []
    assert sum(load.missing.values()) == 10538 and len(load.missing) == 100
    assert dotprompts_summary(load).startswith("0 prompts from 0 repositories, 10538 rows missing")


@needs_shared
def test_real_rows_against_synthetic_repositories(tmp_path):
    event = event_java(*EVENT[2:])
    gif = gif_java(*GIF[2:])
    put(tmp_path, EVENT[0], EVENT[1], event.encode())
    put(tmp_path, GIF[0], GIF[1], gif.replace("\n", "\r\n").encode())  # CRLF: offsets count LF text
    load = read_dotprompts(DATASET, tmp_path)
    found = {p["id"]: p for p in load.prompts}
    assert len(load.prompts) + len(load.bad) + sum(load.missing.values()) == 10538
    # The other rows of the two files do not fit the synthetic text: reported, not loaded.
    assert len(load.prompts) == 2, load.prompts
    assert all(EVENT[1] in b or GIF[1] in b for b in load.bad)

    one = found[f"{EVENT[0]}:{EVENT[1]}:{EVENT[4]}"]
    assert one["package"] == EVENT[0] and one["version"] == "be65a4a"  # repos.csv's `gbe65a4a`
    assert one["file"] == EVENT[1] and one["language"] == "java"
    assert one["dot_offset"] == EVENT[4]
    assert one["function"]["end"] == EVENT[3] + 1 and event[one["function"]["end"] - 1] == "}"
    assert one["function"]["name"] == "toJson"
    assert event[one["function"]["start"] :].startswith("@SuppressWarnings") and one["function"]["indent"] == 4
    assert one["next_identifier"] == "append"
    assert one["ground_truth_identifiers"] == ["append", "append", "append", "names", "size", "sb", "toString"]
    assert one["definition"] == {"file": "", "kind": "unknown"}
    assert one["file_sha256"] == hashlib.sha256(event.encode()).hexdigest()

    two = found[f"{GIF[0]}:{GIF[1]}:{GIF[4]}"]
    raw = gif.replace("\n", "\r\n")
    shift = gif.count("\n", 0, GIF[4])
    assert two["dot_offset"] == GIF[4] + shift and raw[two["dot_offset"]] == "."
    assert raw[two["function"]["end"] - 1] == "}" and raw[: two["dot_offset"] + 1].endswith("this.")
    assert two["function"]["name"] == "read" and raw[two["function"]["start"] :].startswith("protected static")
    assert two["next_identifier"] == "decoder"
    assert two["ground_truth_identifiers"] == ["decoder", "next", "frames", "Frames", "COUNT"]
    for record in (one, two):
        assert set(record) == {
            "id", "package", "version", "file", "file_sha256", "function", "dot_offset",
            "next_identifier", "ground_truth_identifiers", "definition", "language",
        }  # fmt: skip
        parse_prompt(json.dumps(record), "record")  # the project's own schema check accepts it
    assert dotprompts_summary(load).startswith("2 prompts from 2 repositories, ")


# --- rows that do not fit, ids, versions -----------------------------------------------------


def test_bad_rows_missing_files_and_duplicate_ids(tmp_path):
    repo, file = "own/er", "src/A.java"
    text = event_java(200, 700, 400)
    put(tmp_path / "repos", repo, file, text.encode())
    (tmp_path / "repos" / "only" / "folder").mkdir(parents=True)
    rows = [
        (repo, file, 200, 700, 400),  # fits
        (repo, file, 200, 700, 401),  # not a dot
        (repo, file, 200, 70000, 402),  # stop out of range
        (repo, file, 200, 700, 100),  # dot before the method
        (repo, file, 201, 700, 414),  # start is no `{` (414 is the second dot)
        (repo, "../../escape.java", 200, 700, 400),
        ("only/folder", "B.java", 1, 2, 1),  # repo present, file absent
        ("no/repo", "C.java", 1, 2, 1),
        ("no/repo", "D.java", 1, 2, 1),
    ]
    load = read_dotprompts(write_csv(tmp_path / "dataset.csv", rows), tmp_path / "repos")
    assert [p["id"] for p in load.prompts] == [f"{repo}:{file}:400"]
    assert load.prompts[0]["version"] == ""  # no repos.csv beside the CSV
    assert load.missing == {"no/repo": 2, "only/folder": 1}
    assert len(load.bad) == 5
    reasons = {int(bad.split("dataset.csv:")[1].split(":")[0]): bad for bad in load.bad}
    for line, words in ((3, "not a '.'"), (4, "out of range"), (5, "outside the method"), (6, "'{'"), (7, "leaves")):
        assert words in reasons[line], reasons
    assert dotprompts_summary(load) == "1 prompts from 1 repositories, 3 rows missing repositories or files (2 repositories), 5 bad rows"

    # The same dot inside a nested method and the method around it: both kept, ids told apart.
    write_csv(tmp_path / "nested.csv", [(repo, file, 200, 700, 400), (repo, file, 300, 700, 400)])
    text = text[:300] + "{" + text[301:]
    put(tmp_path / "repos", repo, file, text.encode())
    load = read_dotprompts(tmp_path / "nested.csv", tmp_path / "repos")
    assert [p["id"] for p in load.prompts] == [f"{repo}:{file}:400@200", f"{repo}:{file}:400@300"]


def test_repos_csv_and_byte_offsets(tmp_path):
    repo, file = "own/er", "A.java"
    text = "// café ünïcödé\n" + event_java(200, 700, 400)[16:]
    data = text.encode()
    start, stop, dot = (len(text[:i].encode()) for i in (200, 700, 400))  # offsets counted in bytes
    put(tmp_path / "repos", repo, file, data)
    write_csv(tmp_path / "d.csv", [(repo, file, start, stop, dot)])
    (tmp_path / "r.csv").write_text("repo,commit_id,license\nown/er,0123abc,mit\n")
    load = read_dotprompts(tmp_path / "d.csv", tmp_path / "repos", repos_csv=tmp_path / "r.csv")
    (one,) = load.prompts
    assert one["version"] == "0123abc"
    assert one["dot_offset"] == 400 and one["function"]["end"] == 701 and one["next_identifier"] == "append"
    with pytest.raises(InputError, match="does not exist"):
        read_dotprompts(tmp_path / "d.csv", tmp_path / "repos", repos_csv=tmp_path / "absent.csv")
    with pytest.raises(InputError, match="not a folder"):
        read_dotprompts(tmp_path / "d.csv", tmp_path / "absent")


# --- malformed CSVs ------------------------------------------------------------------------


GOOD = ("a/b", "X.java", 1, 5, 3)


@pytest.mark.parametrize(
    ("header", "rows", "where", "words"),
    [
        (COLUMNS[:-1], [GOOD[:-1]], ":1:", "missing column(s) dot_idx"),
        (COLUMNS + ("extra",), [GOOD + (0,)], ":1:", "unexpected column(s) 'extra'"),
        (COLUMNS, [GOOD, ("a/b", "X.java", "1.5", 5, 3)], ":3:", "methodStartIdx '1.5' is not a non-negative integer"),
        (COLUMNS, [GOOD, GOOD, ("a/b", "X.java", 1, 5, "")], ":4:", "dot_idx '' is not"),
        (COLUMNS, [("a/b", "X.java", 1, 5, -3)], ":2:", "dot_idx '-3' is not"),
        (COLUMNS, [GOOD, ("a/b", "X.java", 9, 5, 7)], ":3:", "methodStartIdx 9 is after methodStopIdx 5"),
        (COLUMNS, [GOOD, ("a/b", "X.java", 1, 5)], ":3:", "expected 5 fields, found 4"),
        (COLUMNS, [("ab", "X.java", 1, 5, 3)], ":2:", "not of the form owner/name"),
    ],
)
def test_malformed_csv(tmp_path, header, rows, where, words):
    path = write_csv(tmp_path / "bad.csv", rows, header)
    with pytest.raises(InputError) as err:
        validate_csv(path)
    assert f"{path}{where}" in str(err.value) and words in str(err.value)


def test_missing_and_empty_csv(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        validate_csv(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match=r"empty\.csv:1: empty file"):
        validate_csv(tmp_path / "empty.csv")
    (tmp_path / "ok.csv").write_text("dot_idx,repo,classFileName,methodStopIdx,methodStartIdx\n\n7,a/b,X.java,9,1\n")
    (row,) = validate_csv(tmp_path / "ok.csv")  # any column order; blank lines skipped
    assert row == (3, "a/b", "X.java", 1, 9, 7)


# --- the identifier scanner ----------------------------------------------------------------

JAVA = r'''
package p.q; // pkg.comment
/* block.comment with "quotes" and 'c' */
class Demo<T> extends Base implements Runnable {
    static final String S = "a.b \" still.string // not.comment";
    static final char DOT = '.', QUOTE = '\'', SLASH = '\\';
    String block = """
        text.block "with quotes" and \""" escaped
        """;
    double d = 1.5e3f + 0x1.8p3 + .5 + 1_000L + 0b1010 + 1.e3 + 0xFFL + 7d;
    Object o = Demo.class; boolean t = true || false; Object n = null;
    /** Javadoc {@link Other#thing}. */
    public void run() {
        this.total = super.size() + list.get(0).value / 2 /* in.line */;
        var record = $dollar + _under + ñame;
    }
}
'''
EXPECTED = [
    "p", "q", "Demo", "T", "Base", "Runnable", "String", "S", "DOT", "QUOTE", "SLASH", "String", "block",
    "d", "Object", "o", "Demo", "t", "Object", "n", "run", "total", "size", "list", "get", "value",
    "var", "record", "$dollar", "_under", "ñame",
]  # fmt: skip


def test_identifier_scanner():
    assert identifiers(JAVA) == EXPECTED
    assert identifiers("x = 1.5e3f + y; // z") == ["x", "y"]
    assert identifiers('s = """\n open.text.block') == ["s"]  # unterminated literals run to the end
    assert identifiers("a /* open comment b") == ["a"]
    assert identifiers("") == []


DECLARATIONS = """class A {
    int x;
    /** doc */
    @Ann(value = {1, 2}) @Other
    public static <T extends Comparable<T>> List<T> sort(List<T> in) throws IOException, java.io.Foo {
        Runnable r = new Runnable() {
            @Override public void run() { foo.bar(); }
        };
        Runnable q = () -> { foo.baz(); };
    }
    A(int y) { this.x = y; }
    default int[] arr() { return z.q; }
}
"""


@pytest.mark.parametrize(
    ("before_brace", "name", "starts", "indent"),
    [
        ("java.io.Foo ", "sort", "@Ann(value", 4),
        ("void run() ", "run", "@Override public", 12),
        ("() -> ", "?", "Runnable q", 8),
        ("A(int y) ", "A", "A(int y)", 4),
        ("arr() ", "arr", "default int[]", 4),
    ],
)
def test_method_declaration(before_brace, name, starts, indent):
    brace = DECLARATIONS.index(before_brace + "{") + len(before_brace)
    found, start, column = _declaration(_File(DECLARATIONS.encode()), brace)
    assert (found, column) == (name, indent) and DECLARATIONS[start:].startswith(starts)
