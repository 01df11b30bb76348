"""Evaluation tells the truth: a relative `--repos` is the same as an absolute one, and an unchecked run says so and fails.

Runs `mgd pragmaticcode eval` on a DotPrompts CSV against a repository
written for the test (a Maven layout, a type in another file), with the real
model, JDT.LS and ECJ.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest

from mgd.pragmaticcode.java.dotprompts import COLUMNS

REPO = "acme/shop"
BROKEN = "acme/broken"
FILE = "src/main/java/demo/Till.java"
STOCK = "package demo;\n\npublic class Stock {\n    public int count() { return 3; }\n    public Stock refill(int n) { return this; }\n}\n"
TILL = "package demo;\n\npublic class Till {\n    public int total(Stock stock) {\n        return stock.count() + 1;\n    }\n}\n"


@pytest.fixture(scope="module")
def dotprompts(tmp_path_factory) -> pathlib.Path:
    """A folder with `repos/acme/shop` and a one-row `dataset.csv` at `stock.` in `Till.total`."""
    root = tmp_path_factory.mktemp("evalpaths")
    java = root / "repos" / REPO / "src" / "main" / "java" / "demo"
    java.mkdir(parents=True)
    (java / "Stock.java").write_text(STOCK)
    (java / "Till.java").write_text(TILL)
    start = TILL.index("{", TILL.index("total("))
    stop = TILL.index("    }\n}") + 4
    dot = TILL.index("stock.count") + len("stock")
    assert TILL[start] == "{" and TILL[stop] == "}" and TILL[dot] == "."
    with open(root / "dataset.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerow([REPO, FILE, start, stop, dot])
    # the same file in a repository whose dependency is missing: the original itself has errors
    broken = root / "repos" / BROKEN / "src" / "main" / "java" / "demo"
    broken.mkdir(parents=True)
    (broken / "Till.java").write_text(TILL.replace("package demo;\n", "package demo;\n\nimport org.missing.Ledger;\n"))
    (broken / "Stock.java").write_text(STOCK)
    (root / "repos" / BROKEN / "pom.xml").write_text(
        "<project><modelVersion>4.0.0</modelVersion><groupId>acme</groupId><artifactId>broken</artifactId>"
        "<version>1</version><dependencies><dependency><groupId>org.missing</groupId><artifactId>ledger</artifactId>"
        "<version>1.0</version></dependency></dependencies></project>\n"
    )  # the build declares the jar no store on this machine holds
    shift = len("\nimport org.missing.Ledger;\n")
    with open(root / "broken.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerow([BROKEN, FILE, start + shift, stop + shift, dot + shift])
    return root


def _eval(cwd: pathlib.Path, repos: str, out: str, *extra: str, env: dict | None = None, dataset: str = "dataset.csv"):
    command = [sys.executable, "-m", "mgd", "pragmaticcode", "eval", "--dataset", dataset, "--repos", repos,
               "--out", out, "--max-new-tokens", "8", "--work", "work", *extra]  # fmt: skip
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})})


def _records(path: pathlib.Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.model
def test_relative_repos_gives_the_same_results_as_absolute(dotprompts):
    relative = _eval(dotprompts, "repos", "relative.jsonl")
    assert relative.returncode == 0, relative.stderr[-2000:]
    absolute = _eval(dotprompts, str(dotprompts / "repos"), "absolute.jsonl")
    assert absolute.returncode == 0, absolute.stderr[-2000:]
    keep = ("prompt_id", "mode", "completion", "cr", "new_errors", "constrained_steps", "nim", "truth_masked")
    one = [{k: r[k] for k in keep} for r in _records(dotprompts / "relative.jsonl")]
    two = [{k: r[k] for k in keep} for r in _records(dotprompts / "absolute.jsonl")]
    assert one == two and len(one) == 2
    assert all(r["cr"] is not None for r in one)  # the compile check ran, against the repository's source folder
    assert all(r["original_errors"] == 0 for r in _records(dotprompts / "relative.jsonl"))  # Stock resolved from src
    guided = next(r for r in one if r["mode"] == "guided")
    assert guided["constrained_steps"] > 0  # JDT.LS resolved `stock` from the other file
    assert guided["truth_masked"] is False  # the original's `count` was among the allowed members
    assert next(r for r in one if r["mode"] == "unguided")["truth_masked"] is None


@pytest.mark.model
def test_a_run_whose_checks_cannot_run_says_so_and_fails(dotprompts):
    done = _eval(dotprompts, "repos", "unchecked.jsonl", "--modes", "unguided", env={"MGD_ECJ_JAR": "/nonexistent/ecj.jar"})
    assert done.returncode == 1, done.stderr[-2000:]
    assert "have no CR" in done.stderr
    records = _records(dotprompts / "unchecked.jsonl")
    assert len(records) == 1 and records[0]["cr"] is None and records[0]["checker_error"]
    assert records[0]["original_errors"] is None
    report = subprocess.run([sys.executable, "-m", "mgd", "pragmaticcode", "report", "--json", "--chart",
                             str(dotprompts / "unchecked.png"), str(dotprompts / "unchecked.jsonl")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["unguided"]["unchecked"] == 1
    assert "have no CR" in report.stderr


@pytest.mark.model
def test_originals_with_errors_of_their_own_are_counted_and_reported(dotprompts):
    done = _eval(dotprompts, "repos", "broken.jsonl", "--modes", "unguided", dataset="broken.csv")
    assert done.returncode == 0, done.stderr[-2000:]
    records = _records(dotprompts / "broken.jsonl")
    assert len(records) == 1 and records[0]["original_errors"] >= 1 and records[0]["cr"] is not None
    assert records[0]["unresolved_dependencies"] == 1  # org.missing:ledger:1.0, read from the pom
    report = subprocess.run([sys.executable, "-m", "mgd", "pragmaticcode", "report", "--json", "--chart",
                             str(dotprompts / "broken.png"), str(dotprompts / "broken.jsonl")],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["unguided"]["original_errors"] == 1
    assert json.loads(report.stdout)["unguided"]["unresolved_dependency_errors"] == 1
    assert "errors of its own (1 of them in projects with dependencies not found" in report.stderr
