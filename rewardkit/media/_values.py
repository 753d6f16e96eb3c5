"""Python values a trainer hands over as images -> Media: what TRL's `image`/`images` columns hold (PIL images,
as 🤗 Datasets' Image feature decodes them), that feature undecoded (`{"bytes", "path"}`), raw bytes, and the
paths or URLs a dataset keeps in a column."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .._errors import MediaUnsupportedError
from .._sample import Media
from ._parts import from_uri
from ._sniff import sniff


def image_media(value: Any) -> Media:
    """One image value as a Media: a PIL image becomes PNG bytes (lossless, whatever it was read from)."""
    if isinstance(value, Media):
        return value
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
        return Media("image", sniff(data) or "image/png", data=data)
    if isinstance(value, dict) and (value.get("bytes") is not None or value.get("path")):
        return image_media(value["bytes"] if value.get("bytes") is not None else value["path"])
    if isinstance(value, str):
        if "://" in value[:16] or value.startswith("data:"):
            return from_uri("image", value)
        return from_uri("image", Path(value).resolve().as_uri())
    if hasattr(value, "save") and hasattr(value, "size"):  # a PIL image; not imported unless one arrives
        buffer = io.BytesIO()
        image = value if getattr(value, "mode", "RGB") in ("RGB", "RGBA", "L", "LA", "P", "1", "I", "I;16") \
            else value.convert("RGB")
        image.save(buffer, format="PNG")
        return Media("image", "image/png", data=buffer.getvalue())
    raise MediaUnsupportedError(f"an image column holds a {type(value).__name__}; expected a PIL image, bytes, "
                                "{'bytes', 'path'}, a path or a URL")


def images_in(value: Any) -> tuple[Media, ...]:
    """An `image` value or an `images` list as Media (None: none)."""
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(image_media(v) for v in value if v is not None)
    return (image_media(value),)



