"""Start-up: an RS485-only command does not import the CAN stack.

cantools (the DBC) and python-can cost ~0.15 s of start-up; an RS485 scan
needs only the CAN ids (`protocols.can_ids`). Run in a fresh interpreter, so
what other tests imported does not count.
"""

from __future__ import annotations

import subprocess
import sys

RS485_SCAN_PATH = (
    "active_cli.cli.scan",
    "active_cli.cli.render_scan",
    "active_cli.connection",
    "active_cli.discovery",
    "active_cli.procedures.scanning",
    "active_cli.checks.scan",
    "active_cli.checks.protocol",
    "active_cli.links.serial_link",
)


def _imported_after(modules: tuple[str, ...]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_rs485_scan_path_imports_neither_cantools_nor_python_can() -> None:
    loaded = _imported_after(RS485_SCAN_PATH)
    assert "active_cli.discovery" in loaded
    assert not {name for name in loaded if name.split(".")[0] in ("cantools", "can")}


def test_the_codec_still_names_the_ids() -> None:
    # pylon_can re-exports the ids, so its users keep their names.
    from active_cli.protocols import can_ids, pylon_can

    assert pylon_can.HEARTBEAT_ID == can_ids.HEARTBEAT_ID == 0x305
    assert pylon_can.BATTERY_IDS is can_ids.BATTERY_IDS


def _imported_by_command(*args: str) -> set[str]:
    """The modules loaded by `active ARGS` in a fresh interpreter, printed at its exit."""
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules))))\n"
        "from active_cli.cli import main\n"
        f"main({list(args)!r})\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return set(done.stderr.rsplit("MODULES ", 1)[1].split())


def _roots(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_decode_prints_plain_text_without_rich_or_cantools() -> None:
    rs485 = _imported_by_command("decode", "rs485", "~20024693E00202FD2D")
    assert not _roots(rs485) & {"rich", "cantools", "can"}
    # A CAN frame is decoded from the DBC's digest (tests/test_can_digest.py).
    can_frame = _imported_by_command("decode", "can", "0x356", "7A13F2FE6B01")
    assert not _roots(can_frame) & {"rich", "cantools", "can"}
    assert "active_cli.protocols.can_digest" in can_frame


def test_a_command_loads_only_its_own_cli_module() -> None:
    loaded = _imported_by_command("decode", "rs485", "~20024693E00202FD2D")
    cli_modules = {name for name in loaded if name.startswith("active_cli.cli.")}
    assert "active_cli.cli.decode" in cli_modules
    for other in ("check", "commission", "monitor", "log", "report", "scan", "sim", "doctor"):
        assert f"active_cli.cli.{other}" not in cli_modules


def test_parsing_a_can_id_does_not_load_the_dbc() -> None:
    # `log decode --id 0x356` parses ids with it; the decode itself reads the digest.
    loaded = _imported_after(("active_cli.protocols.decode_can_text",))
    assert not {name for name in loaded if name.split(".")[0] in ("cantools", "can")}
