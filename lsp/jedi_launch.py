"""jedi-language-server with jedi's guesses from call sites turned off.

Where jedi cannot read a parameter's annotation (there is none, or it is a
string naming a module that is not installed) it types the parameter from
the calls to its function that it finds in the project. Those calls are
only some of them (a library's callers are its users), so the members it
then lists are a guess: google-genai's `session: "mcp.ClientSession"`, with
`mcp` not installed, was typed from two call sites as a pydantic `Tool` or a
`Callable`, and `self._mcp_session.` was held to a pydantic model's members,
banning the real `call_tool`. Without the guess jedi lists nothing there,
and guidance leaves the dot free.
"""

from __future__ import annotations

import importlib.util
import sys

# `-c` puts the working folder (the project under guidance) first on sys.path as "", where a package of its own
# named like one of the server's would shadow it; that entry (absent under PYTHONSAFEPATH) is dropped first
_BOOT = "import sys; sys.path[:1] = [p for p in sys.path[:1] if p]; from mgd.lsp.jedi_launch import main; main()"


def launch_command() -> list[str] | None:
    """The command that starts jedi-language-server from this Python without call-site guessing; None if this Python lacks it."""
    if importlib.util.find_spec("jedi_language_server") is None:
        return None
    return [sys.executable, "-c", _BOOT]


def main() -> None:
    """Turn off jedi's typing of parameters from call sites, then run jedi-language-server as its own script does."""
    import jedi

    jedi.settings.dynamic_params = False
    jedi.settings.dynamic_params_for_other_modules = False
    from jedi_language_server.cli import cli

    sys.argv[0] = "jedi-language-server"
    cli()
