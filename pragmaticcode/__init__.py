"""PragmaticCode-Py: prompts at dereferences in real PyPI packages, the MGD paper's metrics, guided vs unguided.

`packages` reads package lists, `fetch` installs each package's source and
dependencies, `select_prompts` chooses prompts with the language server,
`builder` writes a dataset; `generation`, `typecheck`, `metrics` and
`evaluate` score samples into a results file that `report` turns into the
paper's table and a chart. `cli` wires them to `mgd pragmaticcode`.
"""
