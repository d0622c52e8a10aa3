"""Workflows any command reuses: read packs, observe the protocol, wait for the bus.

Plain typed functions over the links `active_cli.connection.open_links` opens.
They talk to people only through a `Prompter` and switch things only through
an `Actuator` (`prompting`, `actuation`), return typed results with their
findings, and never decide an exit code: that is the CLI's job.
"""
