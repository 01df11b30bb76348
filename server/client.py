"""A small LSP client over a child process's pipes: drives `mgd serve` in tests and the benchmark.

Plain JSON-RPC framing on purpose: it talks to the server exactly as an
editor does, byte for byte, and can also send what no editor would
(malformed frames, requests for unknown documents).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
from typing import Any


class LspError(Exception):
    """An error response: `code` and `message` as the server sent them."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LspClient:
    """Exchanges LSP messages with a server: a child process's pipes, or a TCP connection."""

    def __init__(self, reader, writer, *, process: subprocess.Popen | None = None, stderr=None, on_request=None) -> None:
        self.process = process
        # answers the server's own requests (`workspace/configuration`): method, params -> result; default None
        self.on_request = on_request
        self._in, self._out, self._stderr = reader, writer, stderr
        self._ids = itertools.count(1)
        self._pending: dict[Any, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.notifications: list[dict] = []
        self.unmatched: list[dict] = []  # responses with no request of ours (e.g. id null)
        self._reader = threading.Thread(target=self._read, name="lsp-client-reader", daemon=True)
        self._reader.start()

    @classmethod
    def spawn(cls, argv: list[str], *, stderr_path: str | os.PathLike | None = None, on_request=None) -> LspClient:
        """Start a server command speaking LSP on its stdin/stdout."""
        stderr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL  # noqa: SIM115 - closed with the client
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        return cls(process.stdout, process.stdin, process=process, stderr=stderr, on_request=on_request)

    @classmethod
    def mgd_serve(cls, *args: str, stderr_path: str | os.PathLike | None = None) -> LspClient:
        """`python -m mgd serve ARGS` as a child process."""
        return cls.spawn([sys.executable, "-m", "mgd", "serve", *args], stderr_path=stderr_path)

    @classmethod
    def connect(cls, host: str, port: int, timeout: float = 10.0) -> LspClient:
        """Connect to a server listening on TCP."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        client = cls(sock.makefile("rb"), sock.makefile("wb"))
        client._socket = sock
        return client

    @property
    def pid(self) -> int | None:
        """The server's process id (None over TCP)."""
        return self.process.pid if self.process is not None else None

    # -- sending ---------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        """Write bytes to the server as they are (for malformed-message tests)."""
        with self._write_lock:
            self._out.write(data)
            self._out.flush()

    def send(self, message: dict) -> None:
        """Frame and send one JSON-RPC message."""
        body = json.dumps(message).encode("utf-8")
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request_async(self, method: str, params: Any = None) -> tuple[int, concurrent.futures.Future]:
        """Send a request; its id and a future for the result (or LspError)."""
        msg_id = next(self._ids)
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._pending[msg_id] = future
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id, future

    def request(self, method: str, params: Any = None, timeout: float = 120.0) -> Any:
        """Send a request and wait for its result; LspError on an error response."""
        _, future = self.request_async(method, params)
        return future.result(timeout)

    def notify(self, method: str, params: Any = None) -> None:
        """Send a notification."""
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def cancel(self, msg_id: int) -> None:
        """Send `$/cancelRequest` for a request."""
        self.notify("$/cancelRequest", {"id": msg_id})

    # -- LSP conveniences --------------------------------------------------------

    def initialize(self, root: str | os.PathLike, options: dict | None = None, capabilities: dict | None = None) -> dict:
        """initialize + initialized for one workspace folder (`capabilities`: the client's, else completion only)."""
        uri = pathlib.Path(root).resolve().as_uri()
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": pathlib.Path(root).name}],
                "capabilities": capabilities or {"textDocument": {"inlineCompletion": {}, "completion": {}}},
                "initializationOptions": options or {},
            },
        )
        self.notify("initialized", {})
        return result

    def open(self, path: str | os.PathLike, text: str | None = None, version: int = 1) -> str:
        """didOpen a file (its disk text unless `text` is given); returns its URI."""
        path = pathlib.Path(path).resolve()
        uri = path.as_uri()
        if text is None:
            text = path.read_text(encoding="utf-8")
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "java" if path.suffix == ".java" else "python", "version": version, "text": text}})
        return uri

    def replace_text(self, uri: str, text: str, version: int) -> None:
        """didChange with the whole new text."""
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]})

    def shutdown(self, timeout: float = 30.0) -> int | None:
        """shutdown + exit; the child's exit code (killed if it hangs), None over TCP."""
        try:
            if self.process is None or self.process.poll() is None:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit")
            if self.process is None:
                return None
            return self.process.wait(timeout)
        except Exception:  # noqa: BLE001 - a wedged server is killed below
            if self.process is None:
                return None
            self.process.kill()
            return self.process.wait(10)
        finally:
            self.close()

    def kill(self) -> None:
        """Kill the server process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.close()

    def close(self) -> None:
        """Close our ends of the connection."""
        for stream in (self._out, self._in, getattr(self, "_socket", None)):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self._stderr not in (None, subprocess.DEVNULL):
            self._stderr.close()

    # -- receiving ---------------------------------------------------------------

    def _read(self) -> None:
        stream = self._in
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length is None:
                    continue
                message = json.loads(stream.read(length))
                self._dispatch(message)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                pending, self._pending = list(self._pending.values()), {}
            for future in pending:
                if not future.done():
                    future.set_exception(ConnectionError("the server closed its output"))

    def _dispatch(self, message: dict) -> None:
        if "method" in message and "id" in message:  # a request from the server: answered, or accepted
            answer = self.on_request(message["method"], message.get("params")) if self.on_request else None
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": answer})
            return
        if "method" in message:
            self.notifications.append(message)
            return
        with self._lock:
            future = self._pending.pop(message.get("id"), None)
        if future is None:
            self.unmatched.append(message)
        elif "error" in message:
            future.set_exception(LspError(message["error"].get("code"), message["error"].get("message", "")))
        else:
            future.set_result(message.get("result"))
