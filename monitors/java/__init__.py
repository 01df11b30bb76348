"""Java: the incremental scanner (`lexer`) and the monitors only Java has (`monitors`: args, enums, new)."""
