"""The command line: one Typer sub-app per domain."""
