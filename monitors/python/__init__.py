"""Python: the incremental scanner (`lexer`) and the monitors only Python has (`imports`, `classes`, `arguments`)."""
