"""The command line: help, version, JSON output, and one clear line for every bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import mgd
from mgd.demo import EXAMPLE_FILE, example_position


def run(*args, env=None, timeout=300):
    import os

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "mgd", *args], capture_output=True, text=True, timeout=timeout, env=full_env
    )


def test_console_script_help_and_version():
    exe = shutil.which("mgd")
    assert exe, "the mgd console script is not installed"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "complete" in out.stdout and "demo" in out.stdout
    version = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"mgd {mgd.__version__}"


def _one_line_error(result, code: int, *needles: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def position(bookshop):
    return example_position(bookshop)


def test_missing_repo(tmp_path):
    r = run("complete", "--repo", str(tmp_path / "nope"), "--file", "a.py", "--line", "1", "--column", "1")
    _one_line_error(r, 2, "repository", "does not exist")


def test_missing_file(bookshop):
    r = run("complete", "--repo", str(bookshop), "--file", "bookshop/nope.py", "--line", "1", "--column", "1")
    _one_line_error(r, 2, "bookshop/nope.py", "does not exist")


def test_file_outside_repo(bookshop, tmp_path):
    outside = tmp_path / "elsewhere.py"
    outside.write_text("x = 1\n")
    r = run("complete", "--repo", str(bookshop), "--file", str(outside), "--line", "1", "--column", "1")
    _one_line_error(r, 2, "not inside the repository")


@pytest.mark.parametrize("line,column,needle", [(999, 1, "line 999"), (1, 500, "column 500"), (0, 1, "line 0")])
def test_position_outside_file(bookshop, line, column, needle):
    r = run("complete", "--repo", str(bookshop), "--file", EXAMPLE_FILE, "--line", str(line), "--column", str(column))
    _one_line_error(r, 2, "position", needle)


def test_file_of_no_supported_language(bookshop):
    (bookshop / "notes.txt").write_text("hello\n")
    r = run("complete", "--repo", str(bookshop), "--file", "notes.txt", "--line", "1", "--column", "1")
    _one_line_error(r, 2, "notes.txt", "neither Python (.py, .pyi) nor Java (.java)")


def test_model_path_that_does_not_load(bookshop, tmp_path, position):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    line, column = position
    r = run("complete", "--repo", str(bookshop), "--file", EXAMPLE_FILE, "--line", str(line), "--column", str(column), "--model", str(broken))
    _one_line_error(r, 1, "could not load", str(broken))
    r = run("complete", "--repo", str(bookshop), "--file", EXAMPLE_FILE, "--line", str(line), "--column", str(column), "--model", str(tmp_path / "absent"))
    _one_line_error(r, 1, "model path", "not a directory")


def test_language_server_that_cannot_start(bookshop, position, model_dir):
    line, column = position
    r = run(
        "complete", "--repo", str(bookshop), "--file", EXAMPLE_FILE, "--line", str(line), "--column", str(column),
        env={"MGD_JEDI_LANGUAGE_SERVER": "/nonexistent/jedi-language-server"},
    )
    _one_line_error(r, 1, "language server did not start")


def test_bad_option_values():
    r = run("complete", "--repo", ".", "--file", "x.py", "--line", "one", "--column", "1")
    _one_line_error(r, 2, "--line")
    r = run("demo", "--max-new-tokens", "0")
    _one_line_error(r, 2, "--max-new-tokens")


def test_complete_json_with_the_real_model(bookshop, position, model_dir):
    line, column = position
    r = run("complete", "--repo", str(bookshop), "--file", EXAMPLE_FILE, "--line", str(line), "--column", str(column), "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["guided"] is True and isinstance(record["completion"], str) and record["completion"]
    assert record["completion"].split("(")[0].split(".")[0] in {"entries", "lookup_isbn", "register", "restock", "titles_by"}


def test_demo_reports_what_it_saw(model_dir):
    r = run("demo", "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert record["guided"]["first_name_is_member"] is True
    assert "first_name_is_member" in record["unguided"]


def test_unknown_monitor_name(bookshop, position):
    line, column = position
    r = run("complete", "--repo", str(bookshop), "--file", EXAMPLE_FILE, "--line", str(line), "--column", str(column), "--monitors", "deref,nope")
    _one_line_error(r, 2, "--monitors", "unknown monitor nope", "deref, imports, classes, args")
