"""`mgd serve`: run the server over stdio or TCP until the client leaves."""

from __future__ import annotations

import logging
import os
import sys

from mgd.server.settings import Settings

log = logging.getLogger("mgd.server")


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT, :PORT or PORT (host 127.0.0.1; IPv6 as [::1]:PORT); ValueError naming the problem."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--tcp {text}: the port must be a number from 0 to 65535")
    return host, int(port)


def serve(tcp: tuple[str, int] | None = None, settings: Settings | None = None) -> int:
    """Serve one client over stdio (default) or on a TCP address; return the exit status."""
    logging.getLogger("pygls").setLevel(logging.WARNING)  # it logs every message body at INFO
    import torch

    # One intra-op thread: the machines this targets have few cores, shared
    # with the editor and the analysis server, and torch's spinning thread
    # pool slows down several-fold when another process holds a core.
    torch.set_num_threads(int(os.environ.get("MGD_TORCH_THREADS", "1")))
    if tcp is None:
        # stdout is the protocol channel: keep a private copy of it and point
        # fd 1 (and sys.stdout) at stderr, so no stray print or library
        # message can corrupt the stream.
        channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        sys.stdout = sys.stderr
        from mgd.server.protocol import build_server

        server = build_server(settings)
        try:
            server.start_io(sys.stdin.buffer, channel)
        finally:
            server.backend.close()
        return _exit_status(server)

    from mgd.server.protocol import build_server

    server = build_server(settings)
    host, port = tcp
    try:
        listener = server.loop.run_until_complete(server.loop.create_server(server.lsp, host, port))
    except OSError as err:
        server.backend.close()
        print(f"mgd: error: cannot listen on {host}:{port}: {err.strerror or err}", file=sys.stderr)
        return 1
    bound = listener.sockets[0].getsockname()
    # the port matters when 0 was asked for: say where we listen (stderr; stdout stays quiet)
    print(f"mgd serve: listening on {bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    server._server = listener
    try:
        server.loop.run_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.backend.close()
        try:
            server.shutdown()
        except (KeyboardInterrupt, SystemExit):  # pygls also exits from connection_lost while closing
            pass
    return _exit_status(server)


def _exit_status(server) -> int:
    # LSP: 0 when the client asked for shutdown before exit (or the stream ended), 1 otherwise
    return 0 if server.lsp._shutdown else 1
