"""What a new user of `mgd complete` sees: what `--json` says happened, `-v`, the start-up note, one-line messages.

The repository is a small one written here: a line with non-ASCII text
before a dereference (`tag = "🐧é"; return pingu.`), so columns are not
bytes. Two CLI runs use the real model and jedi: one on a terminal
(`-v --json`, stderr on a pty), one whose jedi dies at the first question
(fault injection through `MGD_JEDI_LANGUAGE_SERVER`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import pathlib
import pty
import re
import signal
import subprocess
import sys
import threading

import mgd
import pytest
from mgd.cli import _completion_record, main
from mgd.errors import MGDError
from mgd.lsp.session import LanguageServerSession
from mgd.models import load_model
from mgd.startup import Note
from zoo_project import BIRDS, CURSOR_LINE, KEEPER

LINE, COLUMN = 5, len(CURSOR_LINE) + 1  # 1-based; the CLI counts characters (code points)
NOTE = "mgd: loading the model and starting jedi-language-server..."
ERASE = "\r\033[K"

# jedi-language-server behind a proxy that dies at the first completion asked after mgd's start-up probe:
# a server that goes away in the middle of a CLI call (restarted once, and dying again)
DYING_JEDI = '''\
import json, os, subprocess, sys, sysconfig

child = subprocess.Popen([os.path.join(sysconfig.get_path("scripts"), "jedi-language-server")],
                         stdin=subprocess.PIPE, stdout=sys.stdout.buffer)
while True:
    length = None
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            sys.exit(child.wait())
        if line in (b"\\r\\n", b"\\n"):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    body = sys.stdin.buffer.read(length)
    message = json.loads(body)
    if message.get("method") == "textDocument/completion" and "position-probe" not in message["params"]["textDocument"]["uri"]:
        child.kill()
        os._exit(1)
    child.stdin.write(b"Content-Length: %d\\r\\n\\r\\n" % length + body)
    child.stdin.flush()
'''


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> pathlib.Path:
    """A two-file package: Penguin in birds.py, a dereference of one after non-ASCII text in keeper.py."""
    root = tmp_path_factory.mktemp("new-user") / "zoo-repo"
    package = root / "zoo"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "birds.py").write_text(BIRDS, encoding="utf-8")
    (package / "keeper.py").write_text(KEEPER, encoding="utf-8")
    (package / "twelve.py").write_text("".join(f"x{i} = {i}\n" for i in range(12)))
    return root


@pytest.fixture(scope="module")
def penguin(zoo):
    """A real Penguin, to tell whether a name is one of its members."""
    spec = importlib.util.spec_from_file_location("zoo_birds_for_tests", zoo / "zoo" / "birds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Penguin()


def _complete_args(zoo: pathlib.Path, *extra: str) -> list[str]:
    return ["complete", "--repo", str(zoo), "--file", "zoo/keeper.py", "--line", str(LINE), "--column", str(COLUMN), *extra]


@pytest.fixture(scope="module")
def on_a_terminal(zoo, model_dir):
    """`mgd complete -v --json` with stderr on a terminal (a pty): the JSON record and what the terminal showed."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "mgd", *_complete_args(zoo, "-v", "--json")],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=dict(os.environ, TERM="xterm"),
    )
    os.close(slave)
    chunks: list[bytes] = []

    def pump() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        out, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(10)
    os.close(master)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert process.returncode == 0, terminal
    return json.loads(out), terminal


# -- point 3: what happened, in --json and -v ------------------------------------------------------


def test_json_says_the_server_answered_at_a_line_with_non_ascii_text(on_a_terminal, penguin):
    record, _ = on_a_terminal
    assert record["guided"] is True and record["server_answered"] is True, record
    assert record["unanswered_queries"] == 0 and record["unguided_steps"] == 0
    assert record["server_queries"] >= 1 and record["constrained_steps"] >= 1
    assert record["warnings"] == []
    name = re.match(r"\w+", record["completion"]).group(0)
    assert hasattr(penguin, name), record["completion"]  # a real member, found past the penguin and the é


def test_verbose_shows_what_guidance_does(on_a_terminal):
    _, terminal = on_a_terminal
    # the trigger, where it fired, how many names the server allowed there, and what the query cost
    allowed = re.findall(r"mgd: deref(?:\+types)? at '[^\n]*pingu\.': (\d+) names? allowed \([^\n]*\) \[\d+ ms\]", terminal)
    assert allowed and all(int(count) > 0 for count in allowed), terminal


def test_a_server_that_dies_is_reported_in_json(zoo, tmp_path, model_dir):
    proxy = tmp_path / "dying-jedi-language-server"
    proxy.write_text(f"#!{sys.executable}\n" + DYING_JEDI)
    proxy.chmod(0o755)
    run = subprocess.run(
        [sys.executable, "-m", "mgd", *_complete_args(zoo, "-v", "--json")],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MGD_JEDI_LANGUAGE_SERVER=str(proxy)),
        check=False,
    )
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["guided"] is True  # asked for ...
    assert record["server_answered"] is False  # ... but not what happened
    assert record["unanswered_queries"] >= 1 and record["unguided_steps"] >= 1
    assert record["constrained_steps"] == 0
    assert any("unavailable" in w for w in record["warnings"]), record["warnings"]
    assert any("completion failed" in w for w in record["warnings"]), record["warnings"]
    # -v names the fall-back where it happened
    assert re.search(r"mgd: deref(?:\+types)? at '[^\n]*pingu\.': no answer from the language server: this step is unconstrained", run.stderr)
    assert ERASE not in run.stderr  # no progress note when stderr is not a terminal


def test_a_hung_server_leaves_counted_unguided_steps(zoo, real_model):
    model, tokenizer = real_model
    path = zoo / "zoo" / "keeper.py"
    with LanguageServerSession(zoo, request_timeout=1.0, max_restarts=0) as session:
        assert session.completions(path, KEEPER, KEEPER.index("pingu.") + len("pingu."))  # it answers ...
        pid = session.pid
        os.kill(pid, signal.SIGSTOP)  # ... and then hangs (fault injection)
        try:
            completion = mgd.generate(
                zoo, "zoo/keeper.py", LINE, COLUMN, model=model, tokenizer=tokenizer, session=session, max_new_tokens=8
            )
        finally:
            with contextlib.suppress(ProcessLookupError):  # the session has killed it; if not, let it go on
                os.kill(pid, signal.SIGCONT)
        assert not session.available
    assert completion.unanswered_queries >= 1 and completion.unguided_steps >= 1
    assert completion.constrained_steps == 0
    record = _completion_record(completion)
    assert record["guided"] is True and record["server_answered"] is False
    assert record["unguided_steps"] == completion.unguided_steps


def test_unguided_json_says_no_server_was_asked(zoo, real_model):
    model, tokenizer = real_model
    completion = mgd.generate(zoo, "zoo/keeper.py", LINE, COLUMN, model=model, tokenizer=tokenizer, guided=False, max_new_tokens=4)
    record = _completion_record(completion)
    assert record["guided"] is False and record["server_answered"] is None
    assert (record["server_queries"], record["unanswered_queries"], record["unguided_steps"]) == (0, 0, 0)


# -- point 10: start-up ------------------------------------------------------------------------------


def test_json_reports_startup_seconds(on_a_terminal):
    record, _ = on_a_terminal
    startup = record["startup_seconds"]
    assert set(startup) == {"model", "language_server", "total"}
    assert startup["model"] > 0 and startup["language_server"] > 0
    # the two run side by side: the total is at least the longer one, and less than both in a row would take
    assert max(startup["model"], startup["language_server"]) <= startup["total"] + 0.01


def test_the_startup_note_shows_on_a_terminal_and_is_erased(on_a_terminal):
    _, terminal = on_a_terminal
    assert terminal.startswith(ERASE + NOTE), terminal[:200]
    # every time the note is written, the next thing on the line erases it: no log line is glued onto it
    for after in terminal.split(NOTE)[1:]:
        assert after.startswith(ERASE), repr(after[:80])
    assert terminal.count(NOTE) >= 1 and NOTE not in terminal.rsplit(ERASE, 1)[-1]


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_note_writes_only_on_a_terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    piped = io.StringIO()
    note = Note(piped)
    note.show("mgd: loading the model...")
    note.clear()
    assert piped.getvalue() == ""
    terminal = _Terminal()
    note = Note(terminal)
    note.show("mgd: loading the model...")
    assert terminal.getvalue() == ERASE + "mgd: loading the model..."
    note.clear()
    assert terminal.getvalue().endswith("...\r\033[K")
    monkeypatch.setenv("TERM", "dumb")
    dumb = _Terminal()
    Note(dumb).show("mgd: loading the model...")
    assert dumb.getvalue() == ""


def test_a_log_line_while_the_note_shows_goes_above_it(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    terminal = _Terminal()
    handler = logging.StreamHandler(terminal)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        handlers = list(root.handlers)
        note = Note(terminal)
        with note.showing("mgd: loading..."):
            logging.getLogger("mgd").warning("mgd: a warning during start-up")
        assert root.handlers == handlers and not handler.filters  # nothing left behind
        logging.getLogger("mgd").warning("mgd: after")
    finally:
        root.removeHandler(handler)
    assert terminal.getvalue() == (
        ERASE + "mgd: loading..."  # the note
        + ERASE + "mgd: a warning during start-up\n"  # erased, the record on a line of its own
        + ERASE + "mgd: loading..."  # the note again, under it
        + ERASE  # erased when done
        + "mgd: after\n"  # and nothing of the note's once it is gone
    )


# -- point 8: one line that names the problem -------------------------------------------------------


def _error_line(capsys, argv: list[str], code: int) -> str:
    assert main(argv) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured
    return lines[0]


def test_a_directory_given_as_file_is_called_a_directory(zoo, capsys):
    said = _error_line(capsys, ["complete", "--repo", str(zoo), "--file", "zoo", "--line", "1", "--column", "1"], 2)
    assert "zoo is a directory" in said and "does not exist" not in said


@pytest.mark.parametrize(
    "files,expected",
    [
        ({}, ["no config.json", "no tokenizer", "no weights"]),
        ({"README.md": "notes"}, ["no config.json", "no tokenizer", "no weights"]),
        ({"config.json": "{}", "tokenizer.json": "{}"}, ["no weights"]),
    ],
    ids=["empty", "not-a-model", "no-weights"],
)
def test_a_model_directory_that_is_not_one_says_what_is_missing(zoo, tmp_path, capsys, files, expected):
    folder = tmp_path / "model"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    said = _error_line(capsys, _complete_args(zoo, "--model", str(folder)), 1)
    assert f"could not load a causal language model from {folder}: it has" in said
    for needle in expected:
        assert needle in said, said
    with pytest.raises(MGDError) as err:  # the API says the same
        load_model(folder)
    assert str(err.value) == said.removeprefix("mgd: error: ")


def test_a_broken_gguf_says_which_file_failed_on_each_engine(zoo, tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.Q4_1.gguf").write_text("")
    said = _error_line(capsys, _complete_args(zoo, "--model", str(folder), "--engine", "transformers"), 1)
    assert f"could not load a causal language model from {folder}: it has no config.json" in said
    assert "a GGUF model runs on --engine llama.cpp" in said
    pytest.importorskip("llama_cpp")
    said = _error_line(capsys, _complete_args(zoo, "--model", str(folder)), 1)  # the default for a GGUF: llama.cpp
    assert said.startswith(f"mgd: error: llama.cpp could not load {folder / 'model.Q4_1.gguf'}: "), said


def test_a_java_monitor_on_a_python_file_is_called_a_java_monitor(zoo, capsys):
    said = _error_line(capsys, _complete_args(zoo, "--monitors", "deref,enums"), 2)
    assert "enums is a Java monitor" in said and "deref, imports, classes, args" in said
    assert "unknown monitor" not in said


def test_help_says_python_or_java_file(capsys):
    with pytest.raises(SystemExit) as done:
        main(["complete", "--help"])
    assert done.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--file FILE Python or Java file" in help_text


def test_a_twelve_line_file_is_said_to_have_twelve_lines(zoo, capsys):
    argv = ["complete", "--repo", str(zoo), "--file", "zoo/twelve.py", "--line", "14", "--column", "1"]
    said = _error_line(capsys, argv, 2)
    assert "line 14 is outside the file (it has 12 lines)" in said
