"""Avatars from people's photos: any JPEG, PNG, WebP or HEIC in, a small clean WebP out.

Only those four decoders are ever tried (`Image.open(formats=...)`), so a file cannot
reach one of Pillow's rarer parsers by its first bytes. Cost is bounded before any
pixel is decoded: `Image.open` reads the header only, and an image of more than
`MAX_PIXELS` (as its header claims) is refused there, so a few kilobytes claiming
50000x50000 pixels costs a header read (`Image.MAX_IMAGE_PIXELS` is the same bound,
and Pillow's `DecompressionBombWarning` is an error here). A JPEG is decoded at a
reduced scale (`draft`), other formats are shrunk right after decoding, so only one
full-size decode is ever held.

What comes out has nothing of the original's metadata: the EXIF orientation is
applied, the colours are converted to sRGB when an ICC profile says they are in
another space, and the pixels are copied into a new image, so no EXIF (camera, GPS
position, time), XMP or ICC profile can ride along. It is centre-cropped to a
square of `AVATAR_SIZE` pixels, as a WebP.
"""

import io
import warnings
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

AVATAR_SIZE = 256
MAX_PIXELS = 24_000_000  # 6000 x 4000: phone cameras' default output; 96 MB decoded as RGBA
FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
MEDIA_TYPE = "image/webp"
_QUALITY = 82

Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)


def _register_heif() -> bool:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - a dependency; HEIC is refused without it
        return False
    register_heif_opener(thumbnails=False)
    return True


HEIF = _register_heif()


class NotAnImage(ValueError):
    """The file is not a JPEG, PNG, WebP or HEIC image that decodes whole."""


class TooManyPixels(ValueError):
    """The image claims more pixels than `MAX_PIXELS`; nothing of it was decoded."""


def make_avatar(src: Path) -> bytes:
    """The avatar made of image file `src`: a `AVATAR_SIZE`-pixel square WebP with no
    metadata. Raises NotAnImage or TooManyPixels. CPU-bound: run it in a thread."""
    try:
        with Image.open(src, formats=FORMATS) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise TooManyPixels(f"{width}x{height}")
            return _avatar(image)
    except TooManyPixels:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise TooManyPixels(str(bomb)) from bomb
    except Exception as bad:  # Pillow's decoders fail in many ways on broken files
        raise NotAnImage(str(bad)) from bad


def _avatar(image: Image.Image) -> bytes:
    width, height = image.size
    # Shrink while decoding (JPEG) or just after, keeping the short side at least twice
    # the avatar's, so the final resize still has detail to work with.
    scale = min(1.0, 2 * AVATAR_SIZE / max(1, min(width, height)))
    if scale < 1.0:
        image.thumbnail((max(1, round(width * scale)), max(1, round(height * scale))))
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    rgb = _srgb(upright)
    square = ImageOps.fit(rgb, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
    clean = Image.new(square.mode, square.size)  # nothing of the original's info or EXIF
    clean.paste(square)
    out = io.BytesIO()
    clean.save(out, "WEBP", quality=_QUALITY, method=4)
    return out.getvalue()


def _srgb(image: Image.Image) -> Image.Image:
    """`image` as RGB (RGBA where it is transparent) in sRGB."""
    alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    mode = "RGBA" if alpha else "RGB"
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode=mode
            )
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the colours are taken as sRGB
    return image.convert(mode)
