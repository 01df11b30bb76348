"""Python: the incremental scanner (`lexer`), the monitors only Python has (`imports`, `classes`, `arguments`),
and `deref`'s member rules on jedi's answers (`members`; `values`: is a member's value an int, a str, ...)."""
