"""`mgd serve`: a language server whose completions a code model writes under the monitors' guidance."""
