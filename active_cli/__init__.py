"""`active`: commission and service Active-series 48 V LiFePO4 home batteries.

The package is layered (see DESIGN.md): pure codecs in `protocols/`, pure rules
in `checks/`, port I/O in `links/`, a simulated site in `sim/`, and a thin
Typer CLI in `cli/`.
"""

__version__ = "0.1.0"
