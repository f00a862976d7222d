"""Reading a user's portrait file into an RGB uint8 array.

Pillow decodes everything; EXIF orientation is applied; any mode (RGBA, LA, P with transparency,
greyscale, 16-bit, float, CMYK, ...) becomes 8-bit RGB, with transparency composited on white.
Nothing here touches Pillow's global settings (`Image.MAX_IMAGE_PIXELS` etc.): the size guard
reads the header first and refuses before any pixel is decoded.
"""
from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError, UnsupportedFormatError
from ..types import MediaRef

SUPPORTED_FORMATS = "JPEG, PNG, WebP, BMP, TIFF, GIF (first frame)"
DEFAULT_MAX_MEGAPIXELS = 100.0

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif")




def load_portrait(path: str | Path,
                  max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> tuple[np.ndarray, MediaRef]:
    """Reads an image file as (H, W, 3) RGB uint8 plus a MediaRef (absolute path, sha256).

    Raises ImageError for a missing/unreadable/corrupt/oversized file and UnsupportedFormatError
    for a file that is not an image Pillow can read; every message names the file.
    """
    p = Path(path).expanduser()
    try:
        p = p.resolve()
    except OSError:
        pass
    name = p.name or str(path)
    if not p.exists():
        raise ImageError(f"Portrait file not found: {p}.", "Check the path and try again.")
    if not p.is_file():
        raise ImageError(f"The portrait path is not a file: {p}.", "Choose an image file.")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise ImageError(f"Cannot read the portrait file '{name}': {err.strerror or err}.",
                         "Check that the file exists and that you may read it.") from err
    if not data:
        raise ImageError(f"The portrait file '{name}' is empty (0 bytes).",
                         f"Choose a photo in one of these formats: {SUPPORTED_FORMATS}.")

    image = _decode(data, name, max_megapixels)
    ref = MediaRef(path=str(p), sha256=hashlib.sha256(data).hexdigest())
    return image, ref


def _decode(data: bytes, name: str, max_megapixels: float) -> np.ndarray:
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise UnsupportedFormatError(
            f"'{name}' is a HEIC/HEIF/AVIF photo, which this app cannot read.",
            f"Export or convert it to JPEG or PNG first (supported: {SUPPORTED_FORMATS}).")
    try:
        with warnings.catch_warnings():
            # Our own megapixel guard below replaces Pillow's bomb warning; its hard error
            # (above 2x its limit) is translated too.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            width, height = im.size
            megapixels = width * height / 1e6
            if megapixels > max_megapixels:
                raise ImageError(
                    f"The portrait '{name}' is {width}x{height} pixels ({megapixels:.0f} megapixels), "
                    f"larger than the {max_megapixels:.0f}-megapixel limit.",
                    "Resize it (a few megapixels are plenty for a talking-face video) and try again.")
            if width < 1 or height < 1:
                raise ImageError(f"The portrait '{name}' has no pixels ({width}x{height}).")
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)  # animated GIF/WebP, multi-page TIFF: first frame
            im.load()
            im = ImageOps.exif_transpose(im) or im
            return _to_rgb(im)
    except Image.DecompressionBombError as err:  # Pillow's own hard limit, hit in open()
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"about {int(found.group(1)) / 1e6:.0f} megapixels" if found else "enormous"
        raise ImageError(
            f"The portrait '{name}' is {size}, larger than the {max_megapixels:.0f}-megapixel "
            "limit (too large to decode safely).",
            "Resize it (a few megapixels are plenty for a talking-face video) and try again.") from err
    except UnidentifiedImageError as err:
        raise UnsupportedFormatError(
            f"'{name}' is not an image this app can read (unknown or unsupported format).",
            f"Choose a photo in one of these formats: {SUPPORTED_FORMATS}.") from err
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
            MemoryError, struct.error) as err:
        raise ImageError(
            f"The portrait '{name}' looks damaged and could not be decoded ({err}).",
            f"Re-export or re-download the photo, or choose another one ({SUPPORTED_FORMATS}).") from err


def _to_rgb(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im).astype(np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        if mode == "F" and hi <= 1.0:
            arr = arr * 255.0
        elif hi > 255.0:
            arr = arr * (255.0 / (65535.0 if hi <= 65535.0 else hi))
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info) or (
        mode in ("L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.ascontiguousarray(np.asarray(Image.alpha_composite(white, rgba).convert("RGB")))
    if mode == "CMYK":
        converted = _cmyk_with_profile(im)
        if converted is not None:
            return converted
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _cmyk_with_profile(im: Image.Image) -> np.ndarray | None:
    """Colour-managed CMYK -> sRGB when the file embeds an ICC profile; None to fall back."""
    icc = im.info.get("icc_profile")
    if not icc:
        return None
    try:
        from PIL import ImageCms
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
        return np.ascontiguousarray(np.asarray(out, dtype=np.uint8)) if out is not None else None
    except Exception:  # a broken profile: the naive conversion is still a usable picture
        return None

