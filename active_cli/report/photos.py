"""Photos for the ticket: ``--photo FILE[:caption]``, JPEG or PNG, scaled and embedded.

The service form asks for pictures of the connection areas on the BMS and the
inverter. A phone photo is 4000 px and several MB; the ticket needs it
readable on A4, so it is scaled to at most `MAX_SIDE_PX` on its long side
(turned upright first, as the phone's EXIF tag says) and embedded as a data
URI, keeping the HTML one self-contained file.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

from active_cli.errors import DataFileError

MAX_SIDE_PX = 1400
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}


@dataclass(frozen=True)
class Photo:
    path: Path
    caption: str
    mime: str
    data: bytes  # the scaled image as embedded
    width_px: int
    height_px: int

    @property
    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def split_photo_spec(spec: str) -> tuple[Path, str]:
    """``FILE[:caption]`` -> (file, caption); a colon inside the file's own path is kept.

    The first colon after which an existing file ends is the separator, so
    ``C:\\site\\bms.jpg:BMS side`` and ``photo:1.jpg`` (a file with a colon)
    both work; with no existing prefix the whole text is the file.
    """
    if Path(spec).is_file():
        return Path(spec), ""
    for i, char in enumerate(spec):
        if char == ":" and Path(spec[:i]).is_file():
            return Path(spec[:i]), spec[i + 1 :].strip()
    return Path(spec), ""


def load_photo(spec: str) -> Photo:
    from PIL import Image, ImageOps, UnidentifiedImageError  # Pillow comes with WeasyPrint

    path, caption = split_photo_spec(spec)
    try:
        with Image.open(path) as opened:
            fmt = opened.format or ""
            if fmt not in _FORMATS:
                raise DataFileError(str(path), f"a photo must be JPEG or PNG, not {fmt or 'this'}")
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX))
            out = io.BytesIO()
            if fmt == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            else:
                image.save(out, "PNG", optimize=True)
            width, height = image.size
    except FileNotFoundError:
        raise DataFileError(str(path), "photo not found") from None
    except UnidentifiedImageError:
        raise DataFileError(str(path), "not an image: a photo must be JPEG or PNG") from None
    except OSError as e:
        raise DataFileError(str(path), f"photo cannot be read: {e}") from e
    return Photo(
        path=path,
        caption=caption or path.name,
        mime=_FORMATS[fmt],
        data=out.getvalue(),
        width_px=width,
        height_px=height,
    )
