"""What the `mgd serve` tests share: polling with a deadline, and a served, initialised workspace."""

from __future__ import annotations

import contextlib
import pathlib
import time
from collections.abc import Iterator

import pytest
from mgd.server.client import LspClient


def wait_until(condition, seconds: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


@contextlib.contextmanager
def serving(workspace: pathlib.Path, log: pathlib.Path, *args: str) -> Iterator[LspClient]:
    """`python -m mgd serve ARGS` over stdio, initialised on `workspace` with its model loaded; must exit 0."""
    client = LspClient.mgd_serve(*args, stderr_path=log)
    try:
        client.capabilities = client.initialize(workspace)["capabilities"]
        wait_until(lambda: client.request("mgd/status", timeout=30)["modelReady"], 240, "the model to load")
        yield client
    finally:
        code = client.shutdown()
        assert code == 0, log.read_text()[-3000:]
