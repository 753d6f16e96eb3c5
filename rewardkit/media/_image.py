"""Decoding images for rewards: Pillow, imported on first use, with a decompression-bomb limit and only the
formats an image part may carry.

A PNG of a few kilobytes can declare 50,000 x 50,000 pixels; decoding it takes gigabytes. The header is
read first (`Image.open` reads no pixels) and an image over `MAX_PIXELS` is refused before any decoding,
as a MediaError with code MEDIA_TOO_LARGE: the call fails, it is never scored.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from .._errors import MediaTooLargeError, MediaUnsupportedError
from .._sample import Media

if TYPE_CHECKING:
    from PIL.Image import Image

# 64 megapixels: above any camera or screenshot a vision model reads (Qwen2.5-VL's default max_pixels is
# 12.8 MP; Gemini downsizes to 3072 px a side), far below what exhausts a worker's memory (4 bytes a pixel).
MAX_PIXELS = 64_000_000
# The formats the platforms accept for an image part (Gemini: PNG, JPEG, WEBP, HEIC, HEIF; OpenAI-style
# servers: PNG, JPEG, WEBP, GIF; BMP from DashScope's list). Pillow's other decoders (PSD, TGA, EPS via
# Ghostscript...) are never reached: a file in them is MEDIA_UNSUPPORTED.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise MediaUnsupportedError("reading images needs Pillow: pip install 'rewardkit[vision]'") from None
    return Image


def _open(media: Media) -> Image:
    if media.kind != "image":
        raise MediaUnsupportedError(f"expected an image, got {media.kind} ({media.mime_type or 'no MIME type'})")
    pil = _pil()
    try:
        image: Image = pil.open(io.BytesIO(media.read()), formats=FORMATS)
    except pil.UnidentifiedImageError:
        raise MediaUnsupportedError(f"the image ({media.mime_type or 'no MIME type'}) is not one of "
                                    f"{', '.join(FORMATS)}") from None
    except pil.DecompressionBombError as exc:
        raise MediaTooLargeError(str(exc)) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise MediaTooLargeError(f"the image is {width}x{height} pixels, over the limit of {MAX_PIXELS:,}")
    return image


def image_size(media: Media) -> tuple[int, int]:
    """(width, height) in pixels, read from the header (no pixels decoded).

    MediaError: not an image, a format other than PNG/JPEG/WEBP/GIF/BMP (MEDIA_UNSUPPORTED), over
    MAX_PIXELS (MEDIA_TOO_LARGE), or bytes never fetched (see `Media.read`)."""
    width, height = _open(media).size
    return int(width), int(height)


def open_image(media: Media) -> Image:
    """The image decoded (a Pillow Image, pixels loaded), with the same checks as `image_size`."""
    image = _open(media)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's errors for truncated or corrupt data
        raise MediaUnsupportedError(f"the image cannot be decoded: {exc}") from None
    return image
