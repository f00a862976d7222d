"""What covers the lips in the photo, kept in front of them as they part.

Under a moustache over the whole mouth, or fingers over one half of it, the face mesh puts the
lips where they would be, behind the cover. Parted there, they cut a dark opening through the
moustache or across the fingers. Real hair hangs from the upper lip over both lips (as the jaw
drops, the lower lip and the opening come out below its fringe, if at all), and fingers stay in
front of the mouth. So the photo's cover over the lips is drawn again over every frame, moved
as a rigid whole (it does not bend or shrink with the lips): a moustache, over the whole mouth,
by the upper lip it grows from; a hand or an object, over one half, by the head it rests on.
Where the line between the lips shows under a moustache's fringe, the face analysis moves the
mouth down onto it instead (`quality.mouth_under_moustache`), and nothing is covered.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face import mesh as L
from ..face.geometry import FaceGeometry

COVER_REACH = 0.04  # how far the cover reaches beyond the lips' outer contour (IOD)
COVER_FEATHER = 0.02  # its soft edge (IOD)
# A cover over one half fades out across this much of the mouth's middle (share of its width):
# the measure tells which half is covered, not where the cover ends.
HALF_BLEND = 0.15
_UPPER_LIP = (L.MOUTH_RIGHT,) + L.LIP_OUTER_UPPER + (L.MOUTH_LEFT,)
_LIPS_OUTLINE = _UPPER_LIP + tuple(reversed(L.LIP_OUTER_LOWER))


def _rigid_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + shift that best maps `src` points onto `dst` (least squares, as
    complex numbers: dst = a * src + b with |a| = 1). No scale: a moustache or a hand keeps its
    size when the lips under it round or stretch (scaled with an "oo" it shrank to 72% and
    uncovered the opening's edges)."""
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    ms, md = zs.mean(), zd.mean()
    a = np.vdot(zs - ms, zd - md)
    a = a / max(abs(a), 1e-9)
    b = md - a * ms
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], np.float64)


def _covered_share(shape: tuple[int, int], origin: np.ndarray, geometry: FaceGeometry,
                   covered: tuple[bool, bool]) -> np.ndarray:
    """1 over the covered halves of the mouth (subject's right, left), 0 over the others,
    blended across the middle."""
    if all(covered):
        return np.ones(shape, np.float32)
    p = geometry.landmarks[:, :2]
    right, left = p[L.MOUTH_RIGHT], p[L.MOUTH_LEFT]
    middle, half = (right + left) / 2, np.linalg.norm(left - right) / 2
    axis = (left - right) / max(2 * half, 1e-6)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    across = ((xx + origin[0] - middle[0]) * axis[0] + (yy + origin[1] - middle[1]) * axis[1])
    towards_left = np.clip(across / max(half, 1e-6) / (2 * HALF_BLEND) + 0.5, 0, 1)
    return (towards_left if covered[1] else 1 - towards_left).astype(np.float32)


class MouthCover:
    """Built once per portrait with a covered mouth (`FaceAnalysis.mouth_covered`); `cover`
    per frame, after the mouth's interior is drawn."""

    def __init__(self, plate: np.ndarray, geometry: FaceGeometry, covered: tuple[bool, bool]) -> None:
        p = geometry.landmarks[:, :2]
        reach = COVER_REACH * geometry.iod
        feather = max(0.6, COVER_FEATHER * geometry.iod)
        margin = int(np.ceil(reach + 3 * feather)) + 2
        h, w = plate.shape[:2]
        outline = p[list(_LIPS_OUTLINE)]
        x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int) - margin, 0)
        x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + margin, (w, h))
        self.origin = np.array([x0, y0], np.float64)
        self.patch = plate[y0:y1, x0:x1].astype(np.float32)
        mask = np.zeros(self.patch.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(outline - self.origin).astype(np.int32)], 255)
        grow = 2 * int(round(reach)) + 1
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
        alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), feather)
        self.alpha = alpha * _covered_share(alpha.shape, self.origin, geometry, covered)
        self.carried_by = list(_UPPER_LIP if all(covered) else L.HEAD_ONLY)
        self.carriers = p[self.carried_by].astype(np.float64)

    def cover(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Draws the photo's cover over the lips into `frame` (uint8 RGB, in place) where the
        frame's face (`points`, the deformed mesh) has carried it."""
        move = _rigid_fit(self.carriers, points[self.carried_by, :2].astype(np.float64))
        ph, pw = self.alpha.shape
        corners = np.array([[0, 0], [pw, 0], [0, ph], [pw, ph]], np.float64) + self.origin
        placed = corners @ move[:, :2].T + move[:, 2]
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(placed.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(placed.max(axis=0)).astype(int) + 1, (w, h))
        if x1 <= x0 or y1 <= y0:
            return frame
        # Patch pixels → frame pixels inside the box [x0:x1, y0:y1].
        to_box = move.copy()
        to_box[:, 2] = move[:, :2] @ self.origin + move[:, 2] - (x0, y0)
        size = (int(x1 - x0), int(y1 - y0))
        cover = cv2.warpAffine(self.patch, to_box, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(self.alpha, to_box, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + cover * alpha, 0, 255).astype(np.uint8)
        return frame
