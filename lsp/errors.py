"""Errors shared by the session and the server launchers."""


class ServerUnavailable(RuntimeError):
    """The language server could not be started or has failed for good."""
