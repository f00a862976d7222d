"""Honest notes on portraits the animation cannot do well, and refusals of those it cannot do.

Each check is small and measures one thing on the photo and its 478 face-mesh landmarks; it
returns one warning in plain words (what is wrong, what the video will look like, which photo
works better) or None. `assess_portrait` runs them all, once per portrait, and also says which
halves of the mouth something covers (the renderer keeps that cover in front of the lips).

The checks read the original photo around the face, resampled so that the eyes are
`UNIT_PX` pixels apart and upright (`FaceImage`): every face is then measured at the same scale
whatever its size, roll or the photo's resolution, and the answer does not depend on the output
size or framing chosen for the video.

Thresholds were measured on 16 portraits the mesh fits (photographs old and new, colour, sepia
and black-and-white, children to the elderly, beards and moustaches, glasses, faces 100 to 900
pixels wide, a closed-eyes and a hand-over-mouth photo, an oil painting and a line engraving),
14 of them also at 35-200% of their size and recompressed as JPEG (quality 75); each constant
says what was measured. What these checks cannot tell: a painting from a photograph (a varnished
oil painting measures like the photographs), a hand over the whole mouth from a moustache over
it, and a statue or an animal that the face mesh does fit (none was available to measure; see
`not_human_face` for the ones it does not fit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

from ..errors import FaceTurnedAwayError, NotHumanFaceError
from ..settings import FaceSettings
from . import mesh as L
from .describe import eye_openness
from .geometry import FaceGeometry, mouth_moved_down

UNIT_PX = 100  # pixels per inter-ocular distance (IOD) in the resampled face
_MARGIN_IOD = 0.1  # the resampled face reaches this far beyond the outermost landmarks

# Faces whose eyes are fewer pixels apart than this in the photo are too coarse to measure the
# mouth line or skin texture (the lips are then 2-3 pixels tall); those checks stay silent.
MIN_MEASURED_IOD_PX = 30.0

# Eyes: describe.eye_openness (eyelid gap over eye width). Measured: eyes closed, or lids lowered
# over eyes looking down, 0.00-0.02 (two photos); open eyes 0.20-0.37.
CLOSED_EYES = 0.08

# Small face: the face mesh's width (cheek to cheek) in the photo's pixels. A face this narrow is
# enlarged about twice to fill a head-and-shoulders frame (40% of a 512-pixel video's width)...
SMALL_FACE_PX = 100
SHARP_FACE_PX = 200  # ... and one this wide is not enlarged there

# Mouth line: how much darker the line between the lips (or the open mouth) is than the lips
# around it, over the face's own contrast (5th to 95th percentile of the face's grey levels),
# on each half of the mouth. Measured: visible mouths 0.18-0.79 on both halves (lowest: a
# moustache over part of the upper lip); the half under the fingers of a hand -0.19 to -0.06, its
# other half 0.39-0.51; a moustache hiding the whole mouth -0.43 to -0.15 on both halves.
HIDDEN_MOUTH_LINE = 0.10
VISIBLE_MOUTH_LINE = 0.30
# Both halves below this: something covers the whole mouth. Stricter than HIDDEN_MOUTH_LINE, as
# no visible half confirms it: a faint mouth (a soft, dim or small face) measures low on both
# halves too, and taken for covered it would never be seen to open. Measured (above): a moustache
# over the whole mouth -0.43 to -0.15, visible mouths 0.18 and up on each half.
COVERED_WHOLE_MOUTH_LINE = 0.0
_MOUTH_COLUMNS = (0.2, 0.35, 0.5, 0.65, 0.8)  # from the mouth's centre to its corner
# Under a moustache that hides the whole mouth the face mesh puts the lips inside the hair; the
# line between the real lips is the dark band along the moustache's fringe, looked for this far
# below the fitted mouth (IOD). Measured: 0.15 below it on a walrus moustache.
MOUTH_UNDER_MOUSTACHE_REACH = 0.3
_MOUTH_UNDER_MOUSTACHE_MIN = 0.04  # a band closer than this is the fitted mouth's own line
_SEAM_REACH_IOD = 0.04  # the line is looked for this far beyond the fitted inner lips
_LIP_BODY_IOD = (0.06, 0.18)  # the lips themselves: this far above and below the inner lips

# Engraving: fine-line texture on bare skin, the median grey-level difference (0..255) between
# the face and the face blurred by 0.015 IOD, on the lower quartile of the `SKIN_POINTS` patches.
# A photograph's skin is smooth at that scale; an engraving draws every tone with ink lines.
# Measured: photographs 0.3-2.8 (the grain of an old sepia print highest; 3.7 once recompressed),
# an oil painting with fine cracks 1.2-3.5, a line engraving 5.4-6.9 (3.5 at half its size, where
# its lines merge into grey and it is also a small face).
ENGRAVED_SKIN = 4.5
_TEXTURE_SIGMA_IOD = 0.015
_SKIN_PATCH_IOD = 0.08  # half the side of each skin patch


@dataclass(frozen=True)
class FaceImage:
    """The photo's face in grey, upright, resampled to `UNIT_PX` pixels per IOD."""

    grey: np.ndarray  # float32
    points: np.ndarray  # (478, 2) landmarks in `grey`'s pixels
    source_iod: float  # the inter-ocular distance in the photo's pixels

    @classmethod
    def of(cls, image: np.ndarray, geometry: FaceGeometry) -> "FaceImage":
        u0, u1 = geometry.u.min() - _MARGIN_IOD, geometry.u.max() + _MARGIN_IOD
        v0, v1 = geometry.v.min() - _MARGIN_IOD, geometry.v.max() + _MARGIN_IOD
        us = u0 + (np.arange(int(math.ceil((u1 - u0) * UNIT_PX))) + 0.5) / UNIT_PX
        vs = v0 + (np.arange(int(math.ceil((v1 - v0) * UNIT_PX))) + 0.5) / UNIT_PX
        # The photo pixel of each resampled pixel.
        grid = geometry.position(np.stack(np.meshgrid(us, vs), axis=-1))
        source = _grey_for_sampling(image, grid, geometry.iod / UNIT_PX)
        x0, y0 = source.origin
        grey = cv2.remap(source.grey, (grid[..., 0] - x0).astype(np.float32),
                         (grid[..., 1] - y0).astype(np.float32), cv2.INTER_CUBIC,
                         borderMode=cv2.BORDER_REPLICATE)
        points = np.stack([(geometry.u - u0) * UNIT_PX - 0.5,
                           (geometry.v - v0) * UNIT_PX - 0.5], axis=-1)
        return cls(grey=grey, points=points, source_iod=geometry.iod)


@dataclass(frozen=True)
class _Source:
    grey: np.ndarray
    origin: tuple[int, int]


def _grey_for_sampling(image: np.ndarray, grid: np.ndarray, step: float) -> _Source:
    """The part of the photo under `grid`, in grey; blurred first when the resampling shrinks it
    (`step` photo pixels per resampled pixel), so that fine detail averages instead of aliasing."""
    blur = 0.5 * step if step > 1.0 else 0.0
    pad = int(math.ceil(3 * blur)) + 2
    h, w = image.shape[:2]
    x0 = max(int(np.floor(grid[..., 0].min())) - pad, 0)
    y0 = max(int(np.floor(grid[..., 1].min())) - pad, 0)
    x1 = min(int(np.ceil(grid[..., 0].max())) + pad, w)
    y1 = min(int(np.ceil(grid[..., 1].max())) + pad, h)
    if x1 <= x0 or y1 <= y0:  # the face lies outside the photo: sample its nearest edge
        x0, y0, x1, y1 = 0, 0, w, h
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32)
    if blur > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), blur)
    return _Source(grey, (x0, y0))


# -------------------------------------------------------------------- measurements
def mouth_line_contrast(face: FaceImage) -> tuple[float, float]:
    """How clearly the line between the lips shows on the subject's right and left half of the
    mouth: its darkness below the lips around it, over the face's contrast (see
    `HIDDEN_MOUTH_LINE`). A hand, a finger or an object over the mouth leaves no such line."""
    p = face.points
    upper = _line(p, L.INNER_UPPER_LINE)
    lower = _line(p, L.INNER_LOWER_LINE)
    centre = 0.5 * (p[L.MOUTH_CORNERS_OUTER[0], 0] + p[L.MOUTH_CORNERS_OUTER[1], 0])
    contrast = _face_contrast(face)
    halves = []
    for corner in L.MOUTH_CORNERS_OUTER:  # subject's right, left
        columns = [centre + f * (p[corner, 0] - centre) for f in _MOUTH_COLUMNS]
        halves.append(float(np.median([_line_depth(face.grey, x, upper(x), lower(x))
                                       for x in columns])) / contrast)
    return halves[0], halves[1]


def skin_line_texture(face: FaceImage) -> float:
    """Fine-line texture of the bare skin, in grey levels (see `ENGRAVED_SKIN`)."""
    sigma = _TEXTURE_SIGMA_IOD * UNIT_PX
    detail = np.abs(face.grey - cv2.GaussianBlur(face.grey, (0, 0), sigma))
    r = int(round(_SKIN_PATCH_IOD * UNIT_PX))
    h, w = detail.shape
    patches = []
    for x, y in np.round(face.points[list(L.SKIN_POINTS)]).astype(int):
        patch = detail[max(y - r, 0):min(y + r + 1, h), max(x - r, 0):min(x + r + 1, w)]
        if patch.size:
            patches.append(float(np.median(patch)))
    return float(np.percentile(patches, 25)) if patches else 0.0


def _line(points: np.ndarray, indices) -> Callable[[float], float]:
    """A lip line as y(x) in the resampled face, through the landmarks `indices`."""
    xy = points[list(indices)]
    order = np.argsort(xy[:, 0])
    return lambda x: float(np.interp(x, xy[order, 0], xy[order, 1]))


def _line_depth(grey: np.ndarray, x: float, upper_y: float, lower_y: float) -> float:
    """How much darker the darkest row between the lips is than the darker of the two lips, on a
    3-pixel-wide column at `x`."""
    h, w = grey.shape
    xi = int(round(x))
    column = grey[:, max(xi - 1, 0):min(xi + 2, w)].mean(axis=1)
    reach = _SEAM_REACH_IOD * UNIT_PX
    top, bottom = min(upper_y, lower_y), max(upper_y, lower_y)
    near, far = (v * UNIT_PX for v in _LIP_BODY_IOD)

    def rows(a: float, b: float) -> np.ndarray:
        return column[int(np.clip(round(a), 0, h - 1)):int(np.clip(round(b), 1, h))]

    between = rows(top - reach, bottom + reach + 1)
    upper_lip, lower_lip = rows(top - far, top - near), rows(bottom + near, bottom + far)
    if not (between.size and upper_lip.size and lower_lip.size):
        return 0.0
    return float(min(upper_lip.mean(), lower_lip.mean()) - between.min())


def _face_contrast(face: FaceImage) -> float:
    mask = np.zeros(face.grey.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(face.points[list(L.FACE_OVAL)]).astype(np.int32)], 1)
    values = face.grey[mask.astype(bool)]
    if values.size < 10:
        return 255.0
    low, high = np.percentile(values, [5, 95])
    return float(max(high - low, 1.0))


# -------------------------------------------------------------------- checks
def refuse_turned_away(yaw: float, settings: FaceSettings) -> None:
    """Refuses a face turned further than `settings.max_yaw_deg`: the 2-D rig cannot animate a
    profile (the far cheek and eye are hidden)."""
    if abs(yaw) > settings.max_yaw_deg:
        raise FaceTurnedAwayError(
            f"The face is turned about {abs(yaw):.0f} degrees away from the camera (more than "
            f"{settings.max_yaw_deg:.0f}); a profile cannot be animated well.",
            "Use a photo where the person looks roughly towards the camera.")


def turned_head_warning(yaw: float, settings: FaceSettings) -> Optional[str]:
    if abs(yaw) <= settings.warn_yaw_deg:
        return None
    return (f"The head is turned about {abs(yaw):.0f} degrees away from the camera: the far side "
            "of the face may stretch or bend when it moves. A photo facing the camera (within "
            f"about {settings.warn_yaw_deg:.0f} degrees) works best.")


def small_face_warning(face_px: float) -> Optional[str]:
    """`face_px`: the face's width in the photo's pixels (cheek to cheek)."""
    if face_px >= SMALL_FACE_PX:
        return None
    return (f"The face is small in the photo (about {face_px:.0f} pixels wide), so there is little "
            "detail to animate: the face will look soft in the video, the lips and eyes less "
            f"crisp. A photo in which the face is at least {SHARP_FACE_PX} pixels wide looks "
            "sharper.")


def closed_eyes_warning(landmarks: np.ndarray) -> Optional[str]:
    if eye_openness(landmarks) >= CLOSED_EYES:
        return None
    return ("The eyes look closed in the photo. The animation cannot open them, so the person "
            "will speak with closed eyes throughout and blinks will not show. A photo with the "
            "eyes open works better.")


def covered_mouth_halves(face: FaceImage) -> tuple[bool, bool]:
    """Which halves of the mouth (subject's right, left) something covers. A hand, finger or
    object over part of the mouth: the line between the lips shows on one half and is missing
    on the other. A moustache over the whole mouth: it is missing on both (so would a hand over
    the whole mouth, which these measures cannot tell from a moustache)."""
    if face.source_iod < MIN_MEASURED_IOD_PX:
        return False, False
    right, left = mouth_line_contrast(face)
    if max(right, left) < HIDDEN_MOUTH_LINE:
        covered = max(right, left) < COVERED_WHOLE_MOUTH_LINE
        return covered, covered
    if min(right, left) >= HIDDEN_MOUTH_LINE or max(right, left) < VISIBLE_MOUTH_LINE:
        return False, False
    return right < HIDDEN_MOUTH_LINE, left < HIDDEN_MOUTH_LINE


def mouth_under_moustache(face: FaceImage) -> float:
    """How far below the fitted mouth (IOD) the line between the lips lies when a moustache
    hides the fitted one: the darkest row across the middle of the mouth, within
    MOUTH_UNDER_MOUSTACHE_REACH, if the mouth moved there shows its line on both halves as a
    visible mouth does (`mouth_line_contrast`); 0 when no such line is found."""
    p = face.points
    centre_x = 0.5 * (p[L.MOUTH_CORNERS_OUTER[0], 0] + p[L.MOUTH_CORNERS_OUTER[1], 0])
    half = 0.5 * abs(p[L.MOUTH_CORNERS_OUTER[1], 0] - p[L.MOUTH_CORNERS_OUTER[0], 0])
    centre_y = 0.5 * (p[L.UPPER_LIP_INNER, 1] + p[L.LOWER_LIP_INNER, 1])
    h, w = face.grey.shape
    rows = np.arange(int(round(centre_y)), min(int(round(centre_y + MOUTH_UNDER_MOUSTACHE_REACH
                                                             * UNIT_PX)), h))
    columns = np.clip(np.round(centre_x + np.linspace(-0.5, 0.5, 9) * half).astype(int), 0, w - 1)
    if len(rows) < 3:
        return 0.0
    profile = np.median(face.grey[rows][:, columns], axis=1)
    profile = np.convolve(profile, np.ones(3) / 3, mode="same")
    shift = (rows[int(np.argmin(profile[1:-1])) + 1] - centre_y) / UNIT_PX
    if shift < _MOUTH_UNDER_MOUSTACHE_MIN:
        return 0.0
    moved = mouth_moved_down((p[:, 0] - centre_x) / UNIT_PX, (p[:, 1] - centre_y) / UNIT_PX, shift)
    lowered = FaceImage(face.grey, np.stack([p[:, 0], centre_y + moved * UNIT_PX], axis=1),
                        face.source_iod)
    return float(shift) if min(mouth_line_contrast(lowered)) >= HIDDEN_MOUTH_LINE else 0.0


def covered_mouth_warning(covered: tuple[bool, bool]) -> Optional[str]:
    """Something over part of the mouth (`covered`: from `covered_mouth_halves`). A moustache
    over the whole mouth moves with the lips, and the renderer keeps it in front of them: it
    gets no warning."""
    if sum(covered) != 1:
        return None
    return ("Something covers part of the mouth (a hand or an object?). It stays over the lips "
            "as they move, but around them it moves with the face, so it will stretch and bend "
            "as the person speaks. A photo with the whole mouth visible works better.")


def engraving_warning(face: FaceImage) -> Optional[str]:
    if face.source_iod < MIN_MEASURED_IOD_PX or skin_line_texture(face) < ENGRAVED_SKIN:
        return None
    return ("This looks like an engraving or a drawing made of fine lines, not a photograph. The "
            "animation moves the picture's own pixels, so its lines will bend and stretch around "
            "the mouth and eyes, and the inside of the mouth is drawn like a photograph, which "
            "will not match. A photograph of the person works best.")


def not_human_face() -> NotHumanFaceError:
    """The refusal for a face-like shape that a face detector finds and the human face mesh will
    not fit. Measured: a crested macaque's face is found by the close-range detector (score
    0.55-0.72) and rejected by the mesh in the photo at 450-1500 pixels high; at 400 pixels and
    below the mesh may fit it as a small human face, or it is refused as too small. The Scream's
    stylised face is refused likewise."""
    return NotHumanFaceError(
        "The picture shows something face-like, but not a human face that can be animated: it "
        "looks like an animal, a statue or a stylised drawing, or a face that is mostly covered "
        "or turned away.",
        "Use a clear, well-lit photograph of one person's face, uncovered and looking roughly "
        "towards the camera.")


@dataclass(frozen=True)
class PortraitAssessment:
    warnings: list[str]  # each once
    # Halves of the mouth (subject's right, left) something covers (`covered_mouth_halves`):
    # the renderer keeps the cover in front of the parting lips.
    mouth_covered: tuple[bool, bool]
    # How far below the fitted lips the mouth really is (IOD; `mouth_under_moustache`): the
    # mesh is to be moved down that far, and the mouth is then no longer covered.
    mouth_lowered_by: float = 0.0


def assess_portrait(image: np.ndarray, landmarks: np.ndarray,
                    settings: FaceSettings) -> PortraitAssessment:
    """Refuses a face turned too far away; measures the rest once.

    `image`: the RGB photo as loaded; `landmarks`: the face mesh fitted on it (photo pixels)."""
    geometry = FaceGeometry.of(landmarks)
    yaw = geometry.pose[0]
    refuse_turned_away(yaw, settings)
    face = FaceImage.of(image, geometry)
    covered = covered_mouth_halves(face)
    lowered = mouth_under_moustache(face) if all(covered) else 0.0
    if lowered:
        covered = (False, False)
    notes = (turned_head_warning(yaw, settings),
             small_face_warning(float(np.ptp(landmarks[:, 0]))),
             closed_eyes_warning(landmarks),
             covered_mouth_warning(covered),
             engraving_warning(face))
    return PortraitAssessment(list(dict.fromkeys(n for n in notes if n)), covered, lowered)
