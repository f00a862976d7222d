"""Expression creases: the skin's folds that form as the brows and the nose move
(Averbuch-Elor et al. 2017 add such fine-scale detail as an expression forms).

A warp moves the skin but cannot fold it. Raised brows push the forehead's skin into horizontal
lines (AU1 in the middle, AU2 at the sides), lowered brows bunch the skin between them into
short vertical furrows (AU4), and the nose wrinkler creases the top of the nose (AU9). Without
them a raised or lowered brow reads as a face with high or low brows, not as surprise, worry or
anger. Each crease is shading of the photo's own skin: a groove darkens it and the fold beside
it catches a little light, so its grain, colour and light stay the photo's, and it is as soft
as the rest of the face. It is drawn on the plate where the skin is at rest and moves with it
through the warp.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face import mesh as L
from ..face.geometry import FaceGeometry
from ..types import BLENDSHAPE_INDEX


@dataclass(frozen=True)
class CreaseSet:
    """One row of the crease table: which channel forms these lines and how deep they get."""

    channel: str  # the ARKit channel whose weight (above the photo's own) forms them
    au: str
    depth: float  # the groove's darkening at weight 1, a share of the skin's light
    part: str  # which lines: "forehead_middle", "forehead_side", "glabella", "nose_root"
    sided: bool = False


CREASES: tuple[CreaseSet, ...] = (
    CreaseSet("browInnerUp", "AU1 inner brow raiser: forehead lines, middle", 0.16,
              "forehead_middle"),
    CreaseSet("browOuterUp{s}", "AU2 outer brow raiser: forehead lines, sides", 0.16,
              "forehead_side", sided=True),
    CreaseSet("browDown{s}", "AU4 brow lowerer: vertical furrows between the brows", 0.45,
              "glabella", sided=True),
    CreaseSet("noseSneer{s}", "AU9 nose wrinkler: short lines across the nose's root", 0.3,
              "nose_root", sided=True),
)

# Forehead lines, as shares of the way from the top of the brows up to the mesh's top edge.
FOREHEAD_LINES = (0.3, 0.52, 0.74)
FOREHEAD_SPAN = 0.85  # of the brows' outer ends: the lines stop before the temples
MIDDLE_HALF_WIDTH = 0.22  # IOD: the inner brow raiser folds this much of the forehead's middle
GROOVE_WIDTH = 0.009  # the groove's half-width (IOD), before the photo's own softness
# The vertical furrows: how far apart (a share of the inner brow heads' distance) and how long.
GLABELLA_SPACING = 0.42
GLABELLA_LENGTH = 0.18  # IOD
# The nose wrinkler's lines: where down the bridge (shares of the way from between the eyes to
# the bridge's next mesh point) and how far out to each side (IOD).
NOSE_ROOT_LINES = (0.3, 0.75)
NOSE_ROOT_HALF_LENGTH = 0.07
# How unlike the forehead's skin (its typical colour) a pixel may be before it counts as
# hair, a hat or a frame and gets no crease.
SKIN_TOLERANCE = 22.0  # in CIELAB units (lightness only in a black-and-white photo)


def _to_px(geometry: FaceGeometry, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return geometry.position(np.stack([u, v], axis=-1))


# The brows' upper edges, the subject's right brow then the left.
_BROW_TOP = tuple(i for side in ("Right", "Left") for i in L.EYE[side]["brow_top"])


def _contour(geometry: FaceGeometry, ids) -> tuple[np.ndarray, np.ndarray]:
    """A line through these mesh points across the face, (u, v) sorted by u."""
    u, v = geometry.u[list(ids)], geometry.v[list(ids)]
    order = np.argsort(u)
    return u[order], v[order]


def _up_the_forehead(geometry: FaceGeometry, u: np.ndarray, share: float) -> np.ndarray:
    """The height (v) at places `u` that lies `share` of the way from the brows' upper edge
    (through the gap between them) up to the mesh's top edge."""
    bu, bv = _contour(geometry, _BROW_TOP)
    tu, tv = _contour(geometry, L.FOREHEAD_TOP)
    brows = np.interp(u, bu, bv)
    return brows + share * (np.interp(u, tu, tv) - brows)


def _brow_heads(geometry: FaceGeometry) -> tuple[float, float]:
    """The midline between the brows' inner ends and half the gap between them (u, IOD): the
    forehead's middle, which is not the mouth's on a turned head."""
    right, left = (float(geometry.u[list(L.EYE[side]["brow_inner"])].mean())
                   for side in ("Right", "Left"))
    return (right + left) / 2, abs(left - right) / 2


def _forehead_lines(geometry: FaceGeometry) -> list[np.ndarray]:
    """Each forehead line as (u, v, strength along it), parallel to the brows."""
    brows = geometry.u[list(_BROW_TOP)]
    mid, _ = _brow_heads(geometry)
    reach = FOREHEAD_SPAN * min(mid - brows.min(), brows.max() - mid)
    lines = []
    for k, share in enumerate(FOREHEAD_LINES):
        u = mid + np.linspace(-reach, reach, 64)
        v = _up_the_forehead(geometry, u, share)
        # Real lines are not ruled: a slow wave, different on each line.
        v = v + 0.006 * np.sin(2.3 * (u - mid) / max(reach, 1e-6) * np.pi + 1.7 * k)
        along = np.sin(np.linspace(0, np.pi, len(u))) ** 0.6
        lines.append(np.stack([u, v, along * (1.0 - 0.15 * abs(k - 1))], axis=1))
    return lines


def _glabella_lines(geometry: FaceGeometry, side: str) -> list[np.ndarray]:
    """One short, nearly vertical furrow inside the inner end of one brow."""
    mid, half_gap = _brow_heads(geometry)
    outward = 1.0 if side == "Left" else -1.0
    u0 = mid + outward * GLABELLA_SPACING * half_gap
    v0 = float(geometry.v[list(L.EYE[side]["brow_inner"])].max()) + 0.02
    t = np.linspace(0, 1, 16)
    u = u0 + outward * 0.02 * t  # the furrows part a little upwards
    v = v0 - GLABELLA_LENGTH * t
    along = np.sin(np.linspace(0, np.pi, len(t))) ** 0.8
    return [np.stack([u, v, along], axis=1)]


def _nose_root_lines(geometry: FaceGeometry, side: str) -> list[np.ndarray]:
    """One side's half of each short line across the top of the nose; the halves meet in the
    middle, where each carries half of the line."""
    top, below = L.NOSE_BRIDGE, L.NOSE_BRIDGE_BELOW
    outward = 1.0 if side == "Left" else -1.0
    lines = []
    for share in NOSE_ROOT_LINES:
        u0 = float(geometry.u[top] + share * (geometry.u[below] - geometry.u[top]))
        v0 = float(geometry.v[top] + share * (geometry.v[below] - geometry.v[top]))
        t = np.linspace(0, 1, 12)
        u = u0 + outward * NOSE_ROOT_HALF_LENGTH * t
        v = v0 - 0.01 * t  # the lines curve up a little onto the sides of the nose
        along = 0.5 + 0.5 * np.sin(np.pi * np.minimum(t, 0.5)) - np.clip(2 * t - 1, 0, 1) ** 2
        lines.append(np.stack([u, v, np.clip(along, 0, 1)], axis=1))
    return lines


def _lab(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32) * (
        np.array([100 / 255, 1, 1], np.float32)) - np.array([0, 128, 128], np.float32)


def _forehead_skin(geometry: FaceGeometry) -> np.ndarray:
    """Points (pixels) spread over the lower middle of the forehead, where skin shows even
    under a fringe or a hat brim."""
    u = _brow_heads(geometry)[0] + np.linspace(-0.25, 0.25, 9)
    return np.concatenate([_to_px(geometry, u, _up_the_forehead(geometry, u, share))
                           for share in (0.15, 0.3, 0.45)])


def _nose_skin(geometry: FaceGeometry) -> np.ndarray:
    """Points (pixels) down the nose's bridge, from between the eyes."""
    ids = [L.NOSE_BRIDGE, L.NOSE_BRIDGE_BELOW]
    u, v = geometry.u[ids], geometry.v[ids]
    t = np.linspace(0, 1, 7)
    return _to_px(geometry, u[0] + t * (u[1] - u[0]), v[0] + t * (v[1] - v[0]))


def _skin_colour(image: np.ndarray, skin_points: np.ndarray) -> np.ndarray | None:
    """The typical CIELAB colour of the photo at these points (None when none is in it)."""
    h, w = image.shape[:2]
    xy = np.round(skin_points).astype(int)
    xy = xy[(xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)]
    if len(xy) == 0:
        return None
    return np.median(_lab(image[xy[:, 1], xy[:, 0]][None])[0], axis=0)


def _skin_likeness(image: np.ndarray, geometry: FaceGeometry, box,
                   skin: np.ndarray | None) -> np.ndarray:
    """1 where the box looks like `skin` (a CIELAB colour), falling to 0 on hair, hats and
    frames."""
    y0, y1, x0, x1 = box
    lab = _lab(image[y0:y1, x0:x1])
    if skin is None:
        return np.zeros(lab.shape[:2], np.float32)
    grey = float(np.abs(lab[..., 1:]).mean()) < 2.0
    diff = lab - skin
    if grey:
        diff[..., 1:] = 0
    distance = np.linalg.norm(diff, axis=-1)
    like = np.exp(-(distance / SKIN_TOLERANCE) ** 2).astype(np.float32)
    return cv2.GaussianBlur(like, (0, 0), max(1.0, 0.01 * geometry.iod))


@dataclass
class _Shading:
    channel: int  # the blendshape whose weight above the photo's own (`rest`) forms it
    rest: float
    box: tuple[int, int, int, int]
    gain: np.ndarray  # (h, w, 1) float32: the plate's change factor minus 1 at weight 1


class ExpressionCreases:
    """Built once per portrait; `apply` shades the plate per frame by its channels' weights."""

    def __init__(self, plate: np.ndarray, geometry: FaceGeometry, rest_expression: np.ndarray,
                 softness: float) -> None:
        self.shadings: list[_Shading] = []
        groove = max(0.6, GROOVE_WIDTH * geometry.iod)
        blur = float(np.hypot(groove, softness))
        forehead = _skin_colour(plate, _forehead_skin(geometry))
        nose = _skin_colour(plate, _nose_skin(geometry))
        for row in CREASES:
            for side in (("Left", "Right") if row.sided else ("",)):
                lines = self._lines(geometry, row.part, side)
                gain, box = self._draw(plate, geometry, lines, row.depth, groove, blur,
                                       vertical=row.part == "glabella",
                                       skin=nose if row.part == "nose_root" else forehead)
                if gain is None:
                    continue
                channel = BLENDSHAPE_INDEX[row.channel.replace("{s}", side)]
                self.shadings.append(_Shading(channel, float(rest_expression[channel]), box, gain))

    @staticmethod
    def _lines(geometry: FaceGeometry, part: str, side: str) -> list[np.ndarray]:
        if part == "glabella":
            return _glabella_lines(geometry, side)
        if part == "nose_root":
            return _nose_root_lines(geometry, side)
        lines = _forehead_lines(geometry)
        mid, _ = _brow_heads(geometry)
        middle = np.exp(-((np.stack([ln[:, 0] for ln in lines]) - mid) / MIDDLE_HALF_WIDTH) ** 2)
        out = []
        for ln, centre in zip(lines, middle):
            if part == "forehead_middle":
                share = centre
            else:  # one side's outer part: the subject's left is +u
                share = (1 - centre) * ((ln[:, 0] > mid) if side == "Left" else (ln[:, 0] < mid))
            out.append(np.column_stack([ln[:, :2], ln[:, 2] * share]))
        return out

    @staticmethod
    def _draw(plate, geometry, lines, depth, groove, blur, vertical, skin):
        """The plate's change factor (minus 1) for these lines at weight 1, in a box around them."""
        h, w = plate.shape[:2]
        pts = [_to_px(geometry, ln[:, 0], ln[:, 1]) for ln in lines]
        allp = np.concatenate(pts)
        pad = int(np.ceil(4 * blur + 0.03 * geometry.iod)) + 2
        x0, y0 = np.maximum(np.floor(allp.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(allp.max(0)).astype(int) + pad + 1, (w, h))
        if x1 - x0 < 3 or y1 - y0 < 3:
            return None, None
        dark = np.zeros((y1 - y0, x1 - x0), np.float32)
        light = np.zeros_like(dark)
        # The fold beside the groove catches the light from above: below a horizontal groove,
        # on both sides of a vertical one.
        across = geometry.ey if not vertical else geometry.ex
        offset = 1.8 * groove
        for ln, p in zip(lines, pts):
            for i in range(len(p) - 1):
                s = 0.5 * (ln[i, 2] + ln[i + 1, 2])
                if s <= 0.01:
                    continue
                a = np.round((p[i] - (x0, y0)) * 16).astype(np.int32)
                b = np.round((p[i + 1] - (x0, y0)) * 16).astype(np.int32)
                cv2.line(dark, tuple(a), tuple(b), float(s), 1, cv2.LINE_AA, 4)
                for sign in ((1,) if not vertical else (1, -1)):
                    shift = np.round(sign * offset * across * 16).astype(np.int32)
                    cv2.line(light, tuple(a + shift), tuple(b + shift), float(s), 1, cv2.LINE_AA, 4)
        dark = cv2.GaussianBlur(dark, (0, 0), blur)
        light = cv2.GaussianBlur(light, (0, 0), 1.5 * blur)
        # A groove `depth` deep at the face's own scale; the photo's softness spreads the same
        # darkness wider and shallower, as it does its own lines.
        peak = min(1.0, 1.0 / (np.sqrt(2 * np.pi) * groove))
        change = (-depth * dark + 0.35 * depth * light) / peak
        change *= _skin_likeness(plate, geometry, (y0, y1, x0, x1), skin)
        return np.clip(change, -0.6, 0.3)[..., None].astype(np.float32), (y0, y1, x0, x1)

    def apply(self, plate: np.ndarray, blendshapes: np.ndarray, owned: bool = False) -> np.ndarray:
        """The plate with each crease shaded by its channel's weight above the photo's own (the
        plate itself when none shows; changed in place when `owned`)."""
        out = plate
        for s in self.shadings:
            weight = float(np.clip(blendshapes[s.channel] - s.rest, 0, 1))
            if weight <= 0.01:
                continue
            if out is plate and not owned:
                out = plate.copy()
            y0, y1, x0, x1 = s.box
            region = out[y0:y1, x0:x1].astype(np.float32) * (1.0 + weight * s.gain)
            out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return out
