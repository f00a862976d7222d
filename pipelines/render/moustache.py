"""A moustache that hides the whole mouth, kept in front of the parting lips.

Under such a moustache the face mesh puts the lips where they would be, inside the hair. Parted
there, they open a dark hole through the middle of the moustache. Real hair hangs from the upper
lip over both lips: as the jaw drops, the lower lip and the opening come out below its fringe, if
at all. So the photo's hair over the lips is drawn again over every frame, carried by the upper
lip (its outer contour and corners, as a whole: hair does not stretch with the lip's bends).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face import mesh as L
from ..face.geometry import FaceGeometry

HAIR_REACH = 0.04  # how far the layer reaches beyond the lips' outer contour (IOD)
HAIR_FEATHER = 0.02  # its soft edge (IOD)
# What carries the hair: the upper lip's outer contour with the mouth's corners.
_CARRIERS = (L.MOUTH_CORNERS_OUTER[0],) + L.LIP_OUTER_UPPER + (L.MOUTH_CORNERS_OUTER[1],)
_LIPS_OUTLINE = _CARRIERS + tuple(reversed(L.LIP_OUTER_LOWER))


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + shift that best maps `src` points onto `dst`
    (least squares, as complex numbers: dst = a * src + b)."""
    zs = src[:, 0] + 1j * src[:, 1]
    zd = dst[:, 0] + 1j * dst[:, 1]
    ms, md = zs.mean(), zd.mean()
    a = np.vdot(zs - ms, zd - md) / max(np.vdot(zs - ms, zs - ms).real, 1e-9)
    b = md - a * ms
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], np.float64)


class HairOverMouth:
    """Built once per portrait whose mouth is under hair (`FaceAnalysis.mouth_under_hair`);
    `cover` per frame, after the mouth's interior is drawn."""

    def __init__(self, plate: np.ndarray, geometry: FaceGeometry) -> None:
        p = geometry.landmarks[:, :2]
        reach = HAIR_REACH * geometry.iod
        feather = max(0.6, HAIR_FEATHER * geometry.iod)
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
        self.alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), feather)
        self.carriers = p[list(_CARRIERS)].astype(np.float64)

    def cover(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Draws the photo's hair over the lips into `frame` (uint8 RGB, in place) where the
        frame's upper lip (`points`, the deformed mesh) has carried it."""
        move = _similarity(self.carriers, points[list(_CARRIERS), :2].astype(np.float64))
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
        hair = cv2.warpAffine(self.patch, to_box, size, flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(self.alpha, to_box, size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + hair * alpha, 0, 255).astype(np.uint8)
        return frame
