"""Media a reward reads: image size and decoding (Pillow, lazily), and fetching URIs safely and once.

`image_size(media)` and `open_image(media)` are for rewards; the service fetches a request's media
before calling a reward that asks for `media` or `images`, so `Media.read()` returns its bytes there.
"""

from __future__ import annotations

from ._image import FORMATS, MAX_PIXELS, image_size, open_image
from ._parts import content_parts
from ._values import image_media

__all__ = ["FORMATS", "MAX_PIXELS", "content_parts", "image_size", "image_media", "open_image"]
