"""Synthesised mouth interior, drawn wherever the (deformed) inner lip contour opens.

The warp alone would stretch whatever the photo shows between the lips (a line, or the
photo's own teeth) into the opening. Instead the opening is filled with a cavity that darkens
towards the back, the upper teeth in a row hanging from the skull (they show as the upper lip
rises), the lower teeth rising with the jaw behind the lower lip, and a tongue when the mouth
opens wide. The teeth are the portrait's own where it shows them (their colour and light as
the photo has them), else shaded by a real photograph of teeth, and everything takes its
colour, light, softness and grain from the portrait.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..face import mesh as L
from ..face.geometry import FaceGeometry

_SHIFT = 4  # cv2 sub-pixel bits for polygon drawing
_SCALE = 1 << _SHIFT


def _poly(points: np.ndarray) -> np.ndarray:
    return np.round(points * _SCALE).astype(np.int32).reshape(-1, 1, 2)


# How far the teeth reach each side of the mouth's centre, as a fraction of the mouth's
# width. Speech shows the front teeth with dark corners beside them (the buccal corridor);
# teeth drawn further out read as a grin and, where the lip line is steep, stand up like
# fangs. A smile stretches the lips sideways over more of the teeth: the span grows with the
# mouth's stretch over its neutral width.
TEETH_SPAN = 0.28
TEETH_SPAN_PER_STRETCH = 0.8
TEETH_SPAN_MAX = 0.42
# A column of the photo's teeth strip is a lit tooth from this share of the strip's brightest.
LIT_TOOTH = 0.6
# Grain drawn on the interior: its tone is lowered by this many grain spreads below the teeth's
# colour first (about the 90th percentile of even grain then reaches the colour).
GRAIN_HEADROOM = 1.3


def teeth_half_span(mouth_width: float, neutral_width: float | None) -> float:
    stretch = 0.0 if not neutral_width else mouth_width / neutral_width - 1.0
    fraction = float(np.clip(TEETH_SPAN + TEETH_SPAN_PER_STRETCH * stretch, TEETH_SPAN, TEETH_SPAN_MAX))
    if neutral_width and mouth_width < neutral_width:
        # Lips drawn together (rounded for "oo", a surprised "O") narrow the opening, not the
        # teeth behind it: the row keeps its width and fills more of the opening.
        return min(TEETH_SPAN * neutral_width, TEETH_SPAN_MAX * mouth_width)
    return fraction * mouth_width


# Rounded lips (an "O" taller than it is wide, as in surprise) push forward over the upper
# teeth: past ROUND_FROM (opening height over width) the teeth show less, down to
# 1 - ROUND_COVER of their length at ROUND_FULL. Full-length teeth in a narrow round opening
# stood in it as a block of two buck teeth.
ROUND_FROM, ROUND_FULL, ROUND_COVER = 0.35, 0.85, 0.6


@dataclass(frozen=True)
class _TeethRow:
    """Where a row of teeth lies across the opening (ROI pixels): its middle on the mouth's
    midline, and on each side a share of that side's half of the opening. On a turned head the
    far half is foreshortened: a row centred on the opening's middle put the front teeth off
    the face's midline, towards the near corner, and filled the far half to its corner."""

    centre: float
    left: float  # extent towards smaller x
    right: float  # extent towards larger x

    @classmethod
    def across(cls, ring: np.ndarray, midline_x: float, half: float, x0: float) -> "_TeethRow":
        """`ring`: the opening's points; `half`: the row's mean half-span; `x0`: the ROI's left
        edge."""
        mean_half = max(np.ptp(ring[:, 0]) / 2, 1e-6)
        to_left = max(midline_x - ring[:, 0].min(), 0.2 * mean_half)
        to_right = max(ring[:, 0].max() - midline_x, 0.2 * mean_half)
        return cls(midline_x - x0, half * to_left / mean_half, half * to_right / mean_half)

    @property
    def width(self) -> float:
        return self.left + self.right

    def xs(self, n: int) -> np.ndarray:
        left = np.linspace(self.centre - self.left, self.centre, n // 2, endpoint=False)
        return np.concatenate([left, np.linspace(self.centre, self.centre + self.right, n - n // 2)])

    def share(self, x: np.ndarray) -> np.ndarray:
        """-1 at the row's left end, 0 on the midline, 1 at its right end."""
        x = np.asarray(x, dtype=np.float64) - self.centre
        return np.where(x < 0, x / max(self.left, 1e-6), x / max(self.right, 1e-6))


def teeth_shown(opening: float, mouth_width: float) -> float:
    roundness = opening / max(mouth_width, 1e-6)
    return 1.0 - ROUND_COVER * float(np.clip((roundness - ROUND_FROM) / (ROUND_FULL - ROUND_FROM), 0, 1))


SEAM_DARKNESS = 0.33  # how much the middle of the line between closed lips darkens them
# Above this inner-lip gap (IOD) the photo's lips are apart and its teeth may show.
PHOTO_OPEN_GAP = 0.03
TEETH_TEXTURE = Path(__file__).resolve().parents[2] / "assets" / "teeth_upper_row.png"


def photo_mouth_open(geometry: FaceGeometry) -> bool:
    return geometry.lip_gap() > PHOTO_OPEN_GAP


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _polygon_pixels(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return image[mask > 0].astype(np.float32)


def sclera_colour(image: np.ndarray, geometry: FaceGeometry) -> np.ndarray | None:
    """The whites of the eyes as this photo shows them (colour cast, light, black-and-white),
    or None when the eyes show no white (closed, in deep shadow, too small)."""
    p = geometry.landmarks[:, :2]
    samples = []
    for side, eye in L.EYE.items():
        outline = p[list(eye["upper"]) + list(reversed(eye["lower"]))]
        pixels = _polygon_pixels(image, outline)
        if len(pixels) < 6:
            continue
        # The iris, lashes and lid margins are the darker part of the eye opening (most of it
        # in a narrowed or small eye): the white is its brightest tenth, short of the
        # catch-light.
        lum = _luminance(pixels)
        lo, hi = np.percentile(lum, [90, 99])
        samples.append(pixels[(lum >= lo) & (lum <= hi)])
    if not samples:
        return None
    pixels = np.concatenate(samples)
    return np.median(pixels, axis=0) if len(pixels) >= 4 else None


def lip_colour(image: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    """The lips' own colour, halfway between each lip's outer and inner contour."""
    p = geometry.landmarks[:, :2]
    h, w = image.shape[:2]
    mids = [(p[list(outer)] + p[list(inner)]) / 2 for outer, inner in (
        (L.LIP_OUTER_UPPER, L.LIP_INNER_UPPER), (L.LIP_OUTER_LOWER, L.LIP_INNER_LOWER))]
    mid = np.concatenate(mids)
    xs = np.clip(np.round(mid[:, 0]).astype(int), 0, w - 1)
    ys = np.clip(np.round(mid[:, 1]).astype(int), 0, h - 1)
    return np.median(image[ys, xs].astype(np.float32), axis=0)


def skin_colour(image: np.ndarray, geometry: FaceGeometry) -> np.ndarray:
    h, w = image.shape[:2]
    cheeks = geometry.landmarks[list(L.CHEEK_SKIN), :2].astype(int)
    return np.median([image[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)] for x, y in cheeks],
                     axis=0).astype(np.float32)


def grain_level(image: np.ndarray, geometry: FaceGeometry) -> float:
    """The photo's grain on the cheeks: the spread of what a 1-pixel blur takes away."""
    p = geometry.landmarks[:, :2]
    g = _luminance(image)
    fine = g - cv2.GaussianBlur(g, (0, 0), 1.0)
    r = max(2, int(0.06 * geometry.iod))
    values = []
    for x, y in p[list(L.CHEEK_SKIN)].astype(int):
        patch = fine[max(0, y - r):y + r, max(0, x - r):x + r]
        if patch.size:
            values.append(float(np.std(patch)))
    return float(np.median(values)) if values else 0.0


def grain_pattern(soften: float, size: int = 512) -> np.ndarray:
    """Grain of unit `grain_level`: white noise blurred as much as the photo is soft. A photo's
    grain is as soft as the rest of it (neighbouring pixels of its skin's grain correlate 0.46
    to 0.76 on the dev portraits); per-pixel noise would sparkle on the teeth beside it."""
    noise = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), soften)
    fine = noise - cv2.GaussianBlur(noise, (0, 0), 1.0)
    return noise / max(float(np.std(fine)), 1e-6)


@dataclass(frozen=True)
class MouthLook:
    """What the mouth interior is painted with, all taken from this photo: the teeth never
    brighter than the whites the photo shows (its sclera, or its own teeth where it shows
    them; grey in a black-and-white photo), the cavity and
    tongue from the lips' colour in shadow, as soft and as grainy as the face around it."""

    teeth: np.ndarray  # RGB of the teeth's brightest part
    cavity: np.ndarray  # RGB of the mouth's back
    tongue: np.ndarray
    # Upper teeth, rows from the gum line to the tips: each pixel's share of `teeth`, per
    # channel (0..~1).
    texture: np.ndarray
    soften: float  # blur sigma (pixels) of the drawn interior
    grain: float  # noise level (grey levels) of the photo's skin
    skin: np.ndarray  # RGB of the cheeks, where the grain is measured

    @classmethod
    def of_photo(cls, image: np.ndarray, geometry: FaceGeometry, upscale: float = 1.0) -> "MouthLook":
        skin = skin_colour(image, geometry)
        lips = lip_colour(image, geometry)
        sclera = sclera_colour(image, geometry)
        skin_lum = float(_luminance(skin[None])[0])
        if sclera is None or float(_luminance(sclera[None])[0]) < 0.8 * skin_lum:
            # Eyes closed or in shadow (under a brow, behind glasses): the skin's light, with
            # half of its colour, as the nearest thing to a white this photo shows.
            sclera = np.clip(0.5 * skin + 0.5 * skin_lum + 10, 0, 235)
        own = photo_teeth(image, geometry)
        limit = float(_luminance(sclera[None])[0])
        if own is not None:  # the photo's own teeth, in its own light
            lum = _luminance(own)
            teeth = np.median(own[lum >= np.percentile(lum, 70)].astype(np.float32), axis=0)
            # A grinning photo's narrowed eyes can show less white than its teeth do: its
            # teeth, as bright as the photo shows their lit faces, are as this face looks.
            limit = max(limit, float(_luminance(teeth[None])[0]))
            texture = own_teeth_texture(own, teeth)
        else:  # teeth sit in the mouth's shade: a little below the sclera
            teeth = sclera * 0.92
            texture = teeth_texture(_bundled_teeth())
        # Never brighter than the whites this photo shows (its eyes', or its own teeth's).
        teeth = teeth * min(1.0, limit / max(float(_luminance(teeth[None])[0]), 1.0))
        cavity = lips * 0.28
        tongue = lips * 0.78
        # An upscaled photo is soft by that factor; anything drawn sharper would stand out.
        soften = max(0.5, 0.6 * upscale, 0.006 * geometry.iod)
        return cls(teeth=teeth, cavity=cavity, tongue=tongue, texture=texture, soften=soften,
                   grain=grain_level(image, geometry), skin=skin)


def _bundled_teeth() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(TEETH_TEXTURE).convert("RGB"))


def teeth_texture(strip: np.ndarray) -> np.ndarray:
    """The upper teeth's shading from a photograph of a row of someone else's teeth (assets/):
    its luminance only (1 = a tooth's lit face), so the colour and light stay this photo's."""
    lum = _luminance(strip)
    # Most of a tooth's face is lit about alike: a tooth is as bright as the teeth colour
    # (itself no brighter than the eyes' whites) over most of it, darker at its edges.
    shade = np.clip(lum / max(float(np.percentile(lum, 60)), 1.0), 0.0, 1.1)
    return np.repeat(shade[..., None], 3, axis=2).astype(np.float32)


def own_teeth_texture(strip: np.ndarray, teeth: np.ndarray) -> np.ndarray:
    """The photo's own teeth as each pixel's share of `teeth` (their lit colour), channel by
    channel: drawn back at the teeth colour they keep the photo's own ivory, the pink of the
    gums under the lip and the shading between teeth. Grey shading tinted with one colour
    (that of their lit faces, the least saturated part) would draw them colder and flatter
    than the photo shows them."""
    return np.clip(strip.astype(np.float32) / np.maximum(teeth, 1.0), 0.0, 1.0)


def photo_teeth(image: np.ndarray, geometry: FaceGeometry) -> np.ndarray | None:
    """The photo's own upper teeth straightened into a strip (rows from the upper lip down,
    columns across the mouth), when its lips are apart over bright teeth; else None."""
    if not photo_mouth_open(geometry):
        return None
    p = geometry.landmarks[:, :2]
    upper = p[list(L.INNER_UPPER_LINE)]
    lower = p[list(L.INNER_LOWER_LINE)]
    order = np.argsort(upper[:, 0])
    # Its middle column on the midline, as the drawn row puts it.
    xs = _TeethRow.across(upper, p[L.UPPER_LIP_INNER, 0], 0.8 * np.ptp(upper[:, 0]) / 2, 0.0).xs(64)
    top = np.interp(xs, upper[order, 0], upper[order, 1])
    order_lo = np.argsort(lower[:, 0])
    bottom = np.interp(xs, lower[order_lo, 0], lower[order_lo, 1])
    depth = np.minimum(bottom - top, 0.09 * geometry.iod)
    if depth.max() < 0.03 * geometry.iod:
        return None
    rows = np.linspace(0.1, 0.9, 16)[:, None]
    map_x = np.repeat(xs[None, :], len(rows), 0).astype(np.float32)
    map_y = (top[None, :] + rows * depth[None, :]).astype(np.float32)
    strip = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Teeth are the brightest thing in the mouth: an opening darker than the lips shows none.
    if np.median(_luminance(strip)) < 1.15 * float(_luminance(lip_colour(image, geometry)[None])[0]):
        return None
    return lit_teeth_columns(strip)


def lit_teeth_columns(strip: np.ndarray) -> np.ndarray:
    """The strip's columns from the first to the last lit tooth. A grin's strip runs into the
    dark corners beside the back teeth; stretched over a smaller opening, those dark ends
    left the bright front teeth as a small block in the middle of it."""
    column = _luminance(strip).mean(axis=0)
    lit = np.flatnonzero(column >= LIT_TOOTH * float(np.percentile(column, 90)))
    if len(lit) < 0.3 * strip.shape[1]:
        return strip
    return strip[:, lit[0]:lit[-1] + 1]


class MouthInterior:
    def __init__(self, look: MouthLook, geometry: FaceGeometry, teeth: bool = True,
                 seam: bool = True, frame_size: tuple[int, int] | None = None):
        self.iod = geometry.iod
        self.teeth = teeth
        self.look = look
        # A photo whose lips were apart has had them closed by the warp: what it showed
        # between them is squeezed into the lip line, which a soft dark seam covers.
        self.seam = seam
        self.teeth_rgb = look.teeth
        self.cavity_rgb = look.cavity
        self._skin_lum = max(float(_luminance(look.skin[None])[0]), 1.0)
        self.tongue_rgb = look.tongue
        self._grain = grain_pattern(look.soften)
        self._grain_spread = float(np.std(self._grain))  # per unit of the photo's grain
        self._photo_opening = None
        if seam and frame_size is not None:
            w, h = frame_size
            opening = np.zeros((h, w), np.uint8)
            ring = geometry.landmarks[list(L.INNER_LIP_RING), :2]
            cv2.fillPoly(opening, [_poly(ring)], 255, cv2.LINE_AA, _SHIFT)
            self._photo_opening = opening.astype(np.float32) / 255.0

    def cover_photo_opening(self, frame: np.ndarray, map_x: np.ndarray, map_y: np.ndarray,
                            points: np.ndarray) -> np.ndarray:
        """Where the warp squeezed the photo's own opening (its teeth, its dark mouth) into the
        line between the closed lips, that line is drawn as lips meeting in shadow instead."""
        if self._photo_opening is None:
            return frame
        ring = points[list(L.INNER_LIP_RING)]
        pad = int(0.12 * self.iod) + 2
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(ring.min(axis=0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(ring.max(axis=0)).astype(int) + pad, [w, h])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return frame
        src = cv2.remap(self._photo_opening, map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1],
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        band = (src > 0.2).astype(np.uint8)
        if not band.any():
            return frame
        # The lips' own texture is continued over the band from above and below (they meet
        # there); the line where they meet is the seam `composite` draws.
        # The band grows past the opening's edge: the photo's lips cast a dark rim on the
        # teeth there, which would otherwise outline the closed lips.
        grow = max(1, int(round(0.02 * self.iod)))
        band = cv2.dilate(band, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
        roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
        filled = cv2.inpaint(roi, band, max(2.0, 0.03 * self.iod),
                             cv2.INPAINT_TELEA).astype(np.float32)
        a = cv2.GaussianBlur(band.astype(np.float32), (0, 0), max(0.7, 0.5 * grow))
        a = np.maximum(a, np.clip(1.5 * src, 0, 1))[..., None]
        out = roi.astype(np.float32) * (1 - a) + filled * a
        frame[y0:y1, x0:x1] = np.clip(out, 0, 255).astype(np.uint8)
        return frame

    def composite(self, frame: np.ndarray, points: np.ndarray,
                  teeth_line: np.ndarray | None = None) -> np.ndarray:
        """Draws the interior into `frame` (uint8 RGB, modified in place) and returns it.
        `teeth_line` is the rest upper-lip line moved with the head: the upper teeth hang from
        it, so a raised upper lip (a smile, a snarl) uncovers them."""
        ring = points[list(L.INNER_LIP_RING)]
        upper = points[list(L.INNER_UPPER_LINE)]
        lower = points[list(L.INNER_LOWER_LINE)]
        opening = float(np.max(lower[:, 1] - upper[:, 1]))
        if opening < 0.012 * self.iod:
            return self._seam(frame, upper, lower) if self.seam else frame
        if self.seam:
            frame = self._seam(frame, upper, lower)
        h, w = frame.shape[:2]
        pad = int(0.1 * self.iod) + 2
        x0 = max(int(ring[:, 0].min()) - pad, 0)
        y0 = max(int(ring[:, 1].min()) - pad, 0)
        x1 = min(int(ring[:, 0].max()) + pad, w)
        y1 = min(int(ring[:, 1].max()) + pad, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            return frame
        off = np.array([x0, y0], np.float64)
        roi_h, roi_w = y1 - y0, x1 - x0

        mask = self._opening_mask((roi_h, roi_w), upper - off, lower - off)
        if mask.max() == 0:
            return frame
        alpha = mask.astype(np.float32) / 255.0

        # Cavity: darker towards the back (centre) of the mouth.
        yy, xx = np.mgrid[0:roi_h, 0:roi_w].astype(np.float32)
        centre = ring.mean(axis=0) - off
        half_w = max(np.ptp(ring[:, 0]) / 2, 1.0)
        radial = np.clip(np.hypot((xx - centre[0]) / half_w, (yy - centre[1]) / (half_w * 0.6)), 0, 1)
        interior = self.cavity_rgb[None, None, :] * (0.55 + 0.45 * radial[..., None])

        mouth_w = np.ptp(ring[:, 0])
        if self.teeth:
            half = teeth_half_span(mouth_w, None if teeth_line is None else np.ptp(teeth_line[:, 0]))
            row = _TeethRow.across(ring, points[L.UPPER_LIP_INNER, 0], half, off[0])
            interior = self._tongue(interior, lower - off, row.centre, mouth_w, opening)
            interior = self._teeth_row(interior, upper - off, lower - off, row, down=True,
                                       opening=opening,
                                       anchor=None if teeth_line is None else teeth_line - off,
                                       show=teeth_shown(opening, mouth_w))
            interior = self._teeth_row(interior, lower - off, upper - off, row, down=False,
                                       opening=opening)

        # As soft as the photo around it, with its grain.
        interior = cv2.GaussianBlur(interior, (0, 0), self.look.soften)
        if self.look.grain > 0.3:
            h, w = interior.shape[:2]
            reps = (-(-h // self._grain.shape[0]), -(-w // self._grain.shape[1]))
            noise = np.tile(self._grain, reps)[:h, :w] if max(reps) > 1 else self._grain[:h, :w]
            # Grain is measured on the lit skin; the dark mouth shows less of it (as in a
            # photo's shadows), or the cavity sparkles.
            light = np.sqrt(np.clip(_luminance(interior) / self._skin_lum, 0, 1))
            # The teeth's colour is the brightest the photo's whites show, grain included;
            # their tone sits far enough below it for the grain's bright half to fit, so the
            # grain stays even around the tone as on the photo's own surfaces. Cut off at the
            # colour instead, only its dark half would be left: dark specks like gravel.
            teeth_lum = max(float(_luminance(self.teeth_rgb[None])[0]), 1.0)
            spread = self.look.grain * self._grain_spread
            interior = interior * max(0.0, 1.0 - GRAIN_HEADROOM * spread / teeth_lum)
            interior = interior + self.look.grain * (noise * light)[..., None]
            # Grain never lifts the teeth above their colour (and so above the eyes' whites).
            interior = np.minimum(interior, self.teeth_rgb[None, None, :])
        # Lips are rounded: the interior fades in under them instead of looking cut out. The
        # fade lies inside the lip contour: one reaching outside it drew a dark ring on the lips.
        feather = max(0.6, 0.012 * self.iod)
        inside = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(1, int(round(feather))))
        alpha = cv2.GaussianBlur(inside.astype(np.float32) / 255.0, (0, 0), feather)
        alpha = np.minimum(alpha, mask.astype(np.float32) / 255.0)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        out = roi * (1 - alpha[..., None]) + interior * alpha[..., None]
        frame[y0:y1, x0:x1] = np.clip(out, 0, 255).astype(np.uint8)
        return frame

    @staticmethod
    def _opening_mask(shape: tuple[int, int], upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """The opening between the inner lip lines (corner to corner, both ordered alike), as
        the union of the strips between neighbouring points: where a strongly rounded mouth
        makes the lip ring cross itself near a corner, a polygon fill would leave holes
        there and the warp's stretched lip line would show through."""
        mask = np.zeros(shape, np.uint8)
        for i in range(len(upper) - 1):  # one at a time: a joint fill leaves overlaps empty
            quad = np.array([upper[i], upper[i + 1], lower[i + 1], lower[i]])
            cv2.fillPoly(mask, [_poly(quad)], 255, cv2.LINE_AA, _SHIFT)
        return mask

    def _seam(self, frame: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """Closed lips meet in a soft dark line: a smooth curve through the lips' midpoints that
        fades out towards the corners (a drawn polyline reads as a wire). It tells closed lips
        from parted ones without reading as an opening itself."""
        mid = (upper + lower) / 2
        order = np.argsort(mid[:, 0])
        xs = np.linspace(mid[order[0], 0], mid[order[-1], 0], 48)
        ys = np.interp(xs, mid[order, 0], mid[order, 1])
        ys = np.convolve(np.pad(ys, 3, mode="edge"), np.ones(7) / 7, mode="valid")
        curve = np.stack([xs, ys], 1)
        pad = 6
        x0, y0 = np.floor(curve.min(axis=0)).astype(int) - pad
        x1, y1 = np.ceil(curve.max(axis=0)).astype(int) + pad
        h, w = frame.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return frame
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.polylines(m, [_poly(curve - np.array([x0, y0]))], False, 255,
                      max(1, int(0.015 * self.iod)), cv2.LINE_AA, _SHIFT)
        a = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), 0.8)
        span = max(xs[-1] - xs[0], 1.0)
        across = np.abs(np.arange(x0, x1, dtype=np.float32) - (xs[0] + xs[-1]) / 2) / (span / 2)
        a = a * np.clip((1 - across) / 0.3, 0, 1)[None, :]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - SEAM_DARKNESS * a[..., None]), 0, 255).astype(np.uint8)
        return frame

    def _teeth_row(self, img: np.ndarray, lip: np.ndarray, other_lip: np.ndarray,
                   row: _TeethRow, down: bool, opening: float = 0.0,
                   anchor: np.ndarray | None = None, show: float = 1.0) -> np.ndarray:
        """A row of teeth following a lip line, spanning `row` on each side of the mouth's
        midline: upper teeth hang down from the upper lip; the lower row shows only when the
        jaw is well open."""
        height = (0.075 if down else 0.05) * self.iod
        if not down:
            if opening < 0.2 * self.iod:  # the lower lip hides the lower teeth in most speech
                return img
            height *= min(1.0, (opening - 0.2 * self.iod) / (0.1 * self.iod))
        xs = row.xs(24)
        order = np.argsort(lip[:, 0])
        edge_y = np.interp(xs, lip[order, 0], lip[order, 1])
        order = np.argsort(other_lip[:, 0])
        gap = np.abs(np.interp(xs, other_lip[order, 0], other_lip[order, 1]) - edge_y)
        sign = 1.0 if down else -1.0
        # Teeth are shorter towards the sides (they curve away), and never fill more than half
        # of the local gap: a small opening shows the teeth's edges over a dark gap. A gentle
        # taper: a steep one left two long front teeth in the middle of the opening.
        falloff = np.sqrt(np.clip(1 - row.share(xs) ** 2, 0, 1))
        profile = 0.55 + 0.45 * falloff
        # Where each tooth ends (its texture's last row), drawn or hidden by the lower lip.
        full_tip = edge_y + sign * height * profile
        tip_y = edge_y + sign * np.minimum(height * profile, 0.5 * gap)
        if down and anchor is not None:
            # Skull-anchored tips sit just below the rest lip line: hidden at rest, uncovered
            # as the upper lip rises; never through the lower lip.
            order = np.argsort(anchor[:, 0])
            skull_tip = np.interp(xs, anchor[order, 0], anchor[order, 1]) + 0.035 * self.iod * profile
            # A dark band always stays between the teeth and the lower lip: an opening that
            # reads as closed lips (teeth to the lip) loses the lip sync.
            tip_y = np.minimum(np.maximum(tip_y, skull_tip), edge_y + 0.7 * gap)
            full_tip = np.maximum(full_tip, skull_tip)
        tip_y = edge_y + show * (tip_y - edge_y)
        base_y = edge_y - sign * 0.05 * self.iod
        poly = np.concatenate([np.stack([xs, base_y], 1), np.stack([xs[::-1], tip_y[::-1]], 1)])
        m = np.zeros(img.shape[:2], np.uint8)
        cv2.fillPoly(m, [_poly(poly)], 255, cv2.LINE_AA, _SHIFT)
        a = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), max(0.5, 0.008 * self.iod))
        yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]].astype(np.float32)
        across = np.clip(row.share(xx), -1, 1)
        side = np.abs(across)
        base_row = np.interp(xx, xs, base_y)
        tip_row = np.interp(xx, xs, full_tip)
        # The texture's rows run from the gum line to the tips; columns across the row.
        tex = self.look.texture if down else self.look.texture[::-1]
        # Shrunk to about the size it is drawn at first: sampled point by point, a texture
        # several times larger than the row picks single dark gaps between teeth at full
        # strength in a few places (long black notches) and misses the rest.
        rows = float(np.max(np.abs(full_tip - base_y)))
        size = (max(2, min(tex.shape[1], int(round(row.width)))), max(2, min(tex.shape[0], int(round(rows)))))
        tex = cv2.resize(tex, size, interpolation=cv2.INTER_AREA)
        th, tw = tex.shape[:2]
        # The texture's middle (the front teeth) on the midline, each half of it squeezed into
        # its own side of the row.
        tx = (across + 1) / 2 * (tw - 1)
        ty = (yy - base_row) / np.where(np.abs(tip_row - base_row) < 1e-3, 1e-3, tip_row - base_row)
        ty = np.clip(0.15 + 0.85 * ty, 0, 1) * (th - 1)
        shade = cv2.remap(tex, tx.astype(np.float32), ty.astype(np.float32), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
        # Darker towards the sides as the teeth curve back into the mouth, and the lower row
        # stands in the upper lip's and the upper teeth's shadow.
        light = ((1 - 0.4 * side ** 2) * (1.0 if down else 0.8))[..., None] * np.clip(shade, 0, 1.0)
        teeth = self.teeth_rgb[None, None, :] * light
        return img * (1 - a[..., None]) + teeth * a[..., None]

    def _tongue(self, img: np.ndarray, lower: np.ndarray, cx: float, mouth_w: float,
                opening: float) -> np.ndarray:
        if opening < 0.12 * self.iod:
            return img
        cy = lower[:, 1].max() + 0.02 * self.iod
        axes = (0.32 * mouth_w, 0.11 * self.iod)
        m = np.zeros(img.shape[:2], np.uint8)
        cv2.ellipse(m, (int(cx * _SCALE), int(cy * _SCALE)),
                    (int(axes[0] * _SCALE), int(axes[1] * _SCALE)), 0, 180, 360, 255, -1,
                    cv2.LINE_AA, _SHIFT)
        a = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), max(0.8, 0.02 * self.iod))
        return img * (1 - 0.9 * a[..., None]) + self.tongue_rgb[None, None, :] * 0.9 * a[..., None]
