"""What a body is, by its first bytes: the check of a fetched body against the MIME type it was declared as."""

from __future__ import annotations

from .._errors import MediaUnsupportedError
from .._sample import Media
from ._parts import kind_of

# (offset, magic, MIME type). Images: every format rewardkit decodes (media/_image.FORMATS); audio and video:
# the containers the platforms list (WAV, MP3, FLAC, OGG, MP4/M4A/MOV, WEBM/MKV).
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"), (0, b"\xff\xd8\xff", "image/jpeg"), (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"), (0, b"BM", "image/bmp"), (0, b"ID3", "audio/mpeg"), (0, b"\xff\xfb", "audio/mpeg"),
    (0, b"\xff\xf3", "audio/mpeg"), (0, b"fLaC", "audio/flac"), (0, b"OggS", "audio/ogg"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"), (4, b"ftyp", "video/mp4"), (0, b"%PDF-", "application/pdf"),
)
_MARKUP = (b"<!doctype html", b"<html", b"<?xml", b"{", b"<error")  # error pages served in place of media


def sniff(body: bytes) -> str:
    """The MIME type the bytes are, '' when unknown."""
    if body[:4] == b"RIFF" and body[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if body[8:12] == b"WEBP" else "audio/wav"
    for offset, magic, mime in _MAGIC:
        if body[offset:offset + len(magic)] == magic:
            if mime == "video/mp4" and body[8:11] == b"M4A":
                return "audio/mp4"
            return mime
    if body[:32].lstrip().lower().startswith(_MARKUP):
        return "text/html" if b"html" in body[:64].lower() else "text/plain"
    return ""


def checked(media: Media, body: bytes, served_as: str = "") -> Media:
    """`media` with its bytes, once they are what it was declared as (MEDIA_UNSUPPORTED otherwise).

    The kind must agree (an HTML error page or a JSON error body in place of an image is refused); within
    a kind the bytes win (a JPEG declared image/png is kept as image/jpeg: datasets mislabel often). An image
    must be one of the formats rewardkit decodes; audio or video the sniffer does not know passes when the
    server's Content-Type names the same kind."""
    found = sniff(body)
    declared = media.mime_type or served_as.split(";", 1)[0].strip().lower()
    where = media.uri if media.uri and not media.uri.startswith("data:") else "inline data"
    if media.kind in ("image", "audio", "video"):
        if found and kind_of(found) != media.kind and not (media.kind == "audio" and found == "video/mp4"):
            raise MediaUnsupportedError(f"{where}: declared {declared or media.kind}, but the body is {found}")
        if not found and (media.kind == "image" or kind_of(served_as) != media.kind):
            raise MediaUnsupportedError(f"{where}: declared {declared or media.kind}, but the body is not a "
                                        f"{media.kind} format "
                                        f"rewardkit recognises (served as {served_as or 'no Content-Type'})")
    mime = found if found and kind_of(found) == media.kind else declared
    return Media(media.kind, mime, uri=media.uri, data=body, frames=media.frames)
