"""PragmaticCode: prompts at dereferences in real projects, the MGD paper's metrics, guided vs unguided.

Shared by every language, at this level: the prompt record (`prompts`), the
metrics and score@k (`metrics`, over `lexers`), results files (`results`),
the report (`report`), the evaluate loop (`evaluate`, with `generation`),
dataset building (`dataset`, `packages`), the errors and locks of fetching
(`errors`, `locks`), the registry of evaluation languages (`languages`) and
the CLI (`cli`). Each language has the same modules for the same jobs in its
sub-package, `python/` (PyPI packages, basedpyright) and `java/` (Debian
source packages, ECJ; plus `dotprompts`, the paper's own Java prompts):
`fetch`, `select`, `build`, `lexer`, `check`.
"""
