"""PragmaticCode evaluation (dataset, metrics, reports): planned, see the project's issues."""
