"""`mgd pragmaticcode eval --ray`: one Ray task per project, its outcomes streamed back to the driver.

Each task loads the model and starts the project's language server once,
then yields one outcome per prompt (`evaluate.run_prompts`, as a local run
does). The driver alone writes the results file. A task whose worker dies
(killed, out of memory, its node lost) is not retried by Ray: the driver
submits the project again with only the prompts it has no outcome for, and
drops any sample it has already written, so every sample is written once.
"""

from __future__ import annotations

import os
import socket
import sys
from collections import Counter
from types import ModuleType
from typing import Iterator

from tqdm import tqdm

from mgd.errors import InputError, MGDError
from mgd.pragmaticcode.evaluate import PromptOutcome, RunSettings, project_of, run_prompts
from mgd.pragmaticcode.prompts import Prompt

RAY_INSTALL = "pip install 'ray==2.60.0' (bash scripts/setup.sh installs it)"
CONNECT_SECONDS = 10.0  # how long an address may take to answer before it is reported as unreachable
RUNS_PER_PROJECT = 3  # a project whose worker dies this many times stops the evaluation


def evaluate_on_ray(
    ray: ModuleType, prompts: list[Prompt], done: set[tuple], settings: RunSettings
) -> Iterator[PromptOutcome]:
    """Evaluate `prompts` on the Ray that `connect` joined, one outcome per prompt; Ray is shut down at the end.

    `done` is read again whenever a project is resubmitted: the caller adds
    every sample it writes, and samples already there are not sent again.
    """
    from ray.exceptions import NodeDiedError, ObjectLostError, OutOfMemoryError, RayTaskError, WorkerCrashedError

    # Ray's own retry would rerun the whole project with the samples known at the first submission
    task = ray.remote(num_cpus=1, max_retries=0, num_returns="streaming")(run_prompts)
    projects: dict[str, list[Prompt]] = {}
    for prompt in prompts:
        projects.setdefault(project_of(prompt), []).append(prompt)
    finished: set[str] = set()  # prompts whose outcome the driver has
    runs: Counter[str] = Counter()
    running: dict = {}  # ObjectRefGenerator -> project

    def submit(project: str) -> None:
        left = [p for p in projects[project] if p.id not in finished]
        if left:
            ids = {p.id for p in left}
            known = {key for key in done if key[0] in ids}
            running[task.remote(left, known, settings)] = project
            runs[project] += 1

    try:
        for project in projects:
            submit(project)
        while running:
            (stream,), _ = ray.wait(list(running), num_returns=1)
            project = running[stream]
            try:
                outcome = ray.get(next(stream))
            except StopIteration:
                del running[stream]
                continue
            except RayTaskError as err:  # the evaluation itself failed: as it would have here
                raise (err.cause if isinstance(err.cause, MGDError) else err) from None
            except (WorkerCrashedError, NodeDiedError, OutOfMemoryError, ObjectLostError) as err:
                del running[stream]
                if runs[project] >= RUNS_PER_PROJECT:
                    raise MGDError(f"{project}: its Ray worker died {runs[project]} times ({err})") from None
                message = f"mgd: the Ray worker evaluating {project} died; its unfinished prompts run again"
                tqdm.write(message, file=sys.stderr)
                submit(project)
                continue
            finished.add(outcome.prompt_id)
            yield outcome
    finally:
        ray.shutdown()  # a local Ray stops; on a cluster, the job's tasks still running end with it


def connect(address: str) -> ModuleType:
    """Start a local Ray on 127.0.0.1 (`address` "") or join the cluster whose head is at `address`; `ray`, connected."""
    import logging

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # Ray would otherwise report usage over the network
    if not address:
        # Ray takes the machine's network address for a local cluster unless told it is a single
        # machine; this keeps the head, its workers and their ports on 127.0.0.1
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise MGDError(f"--ray needs Ray: {RAY_INSTALL}") from None
    options = {"logging_level": logging.WARNING, "log_to_driver": True}  # workers' warnings reach this terminal
    if not address:
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, **options)
        return ray
    host, port = _host_port(address)
    try:
        # Ray retries an address that does not answer for minutes; a plain connection says at once
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as err:
        raise InputError(f"--ray {address}: no Ray cluster answers there ({err.strerror or err})") from None
    # one attempt: something that accepts connections but is not Ray must not hold the run for minutes
    os.environ.setdefault("RAY_NUM_REDIS_GET_RETRIES", "1")
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError) as err:
        raise InputError(f"--ray {address}: could not join a Ray cluster there ({str(err).splitlines()[0]})") from None
    return ray


def _host_port(address: str) -> tuple[str, int]:
    """HOST:PORT of a Ray head (as `ray start --head` prints it); InputError otherwise."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"--ray {address}: expected the head's HOST:PORT, such as 10.0.0.5:6379")
    return host.strip("[]"), int(port)
