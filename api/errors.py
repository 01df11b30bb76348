"""The error type whose message the CLI prints as one line."""


class MGDError(Exception):
    """A problem with the user's input or environment, described in one line."""


class InputError(MGDError):
    """The user's input is wrong: a path, a position or an option value."""
