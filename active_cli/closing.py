"""`with thing:` for the things that own a port, a file or a thread.

Each defines `close()`; this mixin gives it the context-manager protocol, so
leaving a `with` block (normally or by an error) always closes it.
"""

from __future__ import annotations

from typing import Self


class ClosesOnExit:
    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
