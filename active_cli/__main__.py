"""`python -m active_cli` runs the CLI."""

from active_cli.cli import run

run()
