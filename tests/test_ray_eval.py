"""`mgd pragmaticcode eval --ray` on a real local Ray on loopback, with the real model, jedi and basedpyright.

Prompts of the shipped Python dataset with short prefixes (cheap to
decode), greedy, 8 new tokens. Every run is a `mgd` process whose Ray
processes (GCS, raylet, workers) are followed while it lives and must all
be gone once it has ended, also when it was killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.model

SHIPPED = pathlib.Path(__file__).resolve().parent.parent / "pragmaticcode" / "data" / "prompts.jsonl"
# (package, dot offset): prompts near the top of their files, so each prompt is a few hundred tokens
TWO_PROJECTS = [("genai-prices", 1052), ("fastapi-cloud-cli", 230)]
ONE_PROJECT = [("fastapi-cloud-cli", 230), ("fastapi-cloud-cli", 961), ("fastapi-cloud-cli", 305)]
RERUN = "died; its unfinished prompts run again"


def _subset(path: pathlib.Path, wanted: list[tuple[str, int]]) -> pathlib.Path:
    lines = {}
    for line in SHIPPED.read_text().splitlines():
        record = json.loads(line)
        lines[(record["package"], record["dot_offset"])] = line
    path.write_text("".join(lines[key] + "\n" for key in wanted))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> pathlib.Path:
    """A folder with the two prompt subsets and a work folder the first run fetches the packages into."""
    root = tmp_path_factory.mktemp("rayeval")
    _subset(root / "two.jsonl", TWO_PROJECTS)
    _subset(root / "one-project.jsonl", ONE_PROJECT)
    return root


def _command(data: pathlib.Path, dataset: str, out: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mgd", "pragmaticcode", "eval", "--dataset", str(data / dataset),
            "--out", str(data / out), "--max-new-tokens", "8", "--work", str(data / "work"), *extra]  # fmt: skip


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, start time); the start time tells a reused pid apart."""
    found = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[1]), fields[19])
    return found


def _descendants(root: int) -> dict[int, str]:
    """The processes below `root`, pid -> start time."""
    table = _processes()
    below, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started) in table.items():
            if ppid == parent and pid not in below:
                below[pid] = started
                frontier.append(pid)
    return below


def _title(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Run:
    """A `mgd` process, its output in files, and every process it started while it lived."""

    def __init__(self, command: list[str], log: pathlib.Path, env: dict | None = None) -> None:
        self.log = log
        self.started: dict[int, str] = {}
        self.titles: dict[int, set[str]] = {}  # every title each process was seen with (Ray renames its workers)
        with open(log, "w") as err:
            environment = {**os.environ, **(env or {})}
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=environment)

    def watch(self, until=lambda: False, timeout: float = 600) -> None:
        """Follow the process tree until `until()` is true or the process has ended."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            for pid, started in _descendants(self.process.pid).items():
                self.started[pid] = started
                self.titles.setdefault(pid, set()).add(_title(pid).split(" ", 1)[0])
            if until():
                return
            time.sleep(0.2)
        assert self.process.poll() is not None or until(), "the run did not end in time"

    def finish(self, timeout: float = 600) -> int:
        """Wait for the process; its exit status."""
        self.watch(timeout=timeout)
        return self.process.wait(timeout=60)

    def leftovers(self, grace: float = 60) -> list[str]:
        """Processes it started that are still alive after `grace` seconds (killed, and named, if any)."""
        deadline = time.monotonic() + grace
        while True:
            table = _processes()
            alive = [pid for pid, started in self.started.items() if table.get(pid, (0, None))[1] == started]
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        names = [f"{pid} {_title(pid)[:80]}" for pid in alive]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return names

    @property
    def stderr(self) -> str:
        return self.log.read_text()


def _records(path: pathlib.Path) -> list[dict]:
    """The complete lines of a results file (a line being written is left out)."""
    lines = path.read_text().split("\n")[:-1] if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def _keys(records: list[dict]) -> list[tuple]:
    return [(r["prompt_id"], r["mode"], r["sample"]) for r in records]


def test_ray_and_local_runs_write_the_same_greedy_samples(data):
    local = Run(_command(data, "two.jsonl", "local.jsonl"), data / "local.log", env={"OMP_NUM_THREADS": "1"})
    assert local.finish() == 0, local.stderr[-3000:]
    ray = Run(_command(data, "two.jsonl", "ray.jsonl", "--ray"), data / "ray.log")
    assert ray.finish() == 0, ray.stderr[-3000:]
    assert ray.leftovers() == []
    # the two projects' tasks ran side by side, on workers of their own (one worker per core). At least: once
    # (CI, 2026-12-07, nothing rerun, records equal) a third worker process carried the task's title too
    workers = [pid for pid, titles in ray.titles.items() if "ray::run_prompts" in titles]
    assert len(workers) >= min(2, os.cpu_count()), ray.titles

    def comparable(records):
        timeless = ({k: v for k, v in r.items() if k != "seconds"} for r in records)
        return sorted(timeless, key=lambda r: (r["prompt_id"], r["mode"]))

    local_records, ray_records = _records(data / "local.jsonl"), _records(data / "ray.jsonl")
    assert len(ray_records) == 4 and len({r["package"] for r in ray_records}) == 2
    assert comparable(ray_records) == comparable(local_records)
    assert any(r["constrained_steps"] > 0 for r in ray_records if r["mode"] == "guided")  # jedi ran on the workers


def test_a_worker_killed_mid_project_loses_and_duplicates_nothing(data):
    out = data / "killed-worker.jsonl"
    run = Run(_command(data, "one-project.jsonl", out.name, "--ray"), data / "killed-worker.log")
    killed: list[int] = []

    def kill_the_worker() -> bool:
        if len(_records(out)) < 2:  # the first prompt's two samples are written: the project is under way
            return False
        workers = [pid for pid in _descendants(run.process.pid) if _title(pid).startswith("ray::run_prompts")]
        assert len(workers) == 1, "one project, one task"
        killed.append(len(_records(out)))
        os.kill(workers[0], signal.SIGKILL)
        return True

    run.watch(until=kill_the_worker)
    assert killed and killed[0] < 6, "the project finished before its worker could be killed"
    assert run.finish() == 0, run.stderr[-3000:]
    assert RERUN in run.stderr
    keys = _keys(_records(out))
    assert len(keys) == len(set(keys)) == 6  # three prompts, two modes: each sample exactly once
    assert run.leftovers() == []


def test_resume_after_the_driver_is_killed(data):
    out = data / "killed-driver.jsonl"
    command = _command(data, "one-project.jsonl", out.name, "--ray")
    first = Run(command, data / "killed-driver.log")
    first.watch(until=lambda: len(_records(out)) >= 2)
    assert first.process.poll() is None, "the run finished before it could be killed"
    first.process.kill()
    first.process.wait()
    before = _records(out)
    assert 2 <= len(before) < 6
    with open(out, "a") as handle:  # what a kill in the middle of a write would leave
        handle.write('{"prompt_id": "cut sho')

    second = Run(command + ["--resume"], data / "resumed.log")
    assert second.finish() == 0, second.stderr[-3000:]
    assert second.leftovers() == []
    # the local Ray went down with its driver; its two agents wait about a minute on the dead GCS before they exit
    assert first.leftovers(grace=120) == []
    after = _records(out)
    keys = _keys(after)
    assert len(keys) == len(set(keys)) == 6
    assert after[: len(before)] == before  # nothing already written was lost or rewritten
    assert f"{6 - len(before)} records written" in second.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_bad_address_is_one_clear_line(data):
    port = _free_port()  # bound and released: nothing listens there
    for address, message in [
        (f"127.0.0.1:{port}", f"mgd: error: --ray 127.0.0.1:{port}: no Ray cluster answers there ("),
        ("head-without-port", "mgd: error: --ray head-without-port: expected the head's HOST:PORT"),
    ]:
        started = time.monotonic()
        result = subprocess.run(_command(data, "two.jsonl", "never.jsonl", "--ray", address),
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(message), result.stderr
        assert time.monotonic() - started < 60
    assert not (data / "never.jsonl").exists() or (data / "never.jsonl").stat().st_size == 0
