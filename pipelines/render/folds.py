"""The smile's nasolabial folds, smoothed away as the photo's smile is taken off.

A smiling photo has deep creases from the nose wings to the mouth corners. The rig can take the
smile away (the corners come in and down), but the creases are shading in the photo: dragged
with the corners they bend into a hook around a bright cheek, which reads as a swollen cheek
(and as a smile). So the renderer keeps, per side, a version of the plate with the crease band
filled from the skin around it (its fine grain kept), and blends it in by the share of that side's
smile the frame has taken off.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..types import BLENDSHAPE_INDEX
from ..face import mesh as L

# Mesh vertices along each nasolabial fold, from the nose wing to below the mouth corner (a
# deep smile's crease runs on past the corner towards the chin).
NASOLABIAL = {"Right": (129, 203, 206, 216, 212, 210), "Left": (358, 423, 426, 436, 432, 430)}
FOLD_WIDTH = 0.14  # of the crease band, in inter-ocular distances
FILL_BLUR = 0.12  # how far around the band the fill takes its skin from (IOD)
GRAIN = 0.02  # detail finer than this (IOD) is the skin's grain and is kept...
GRAIN_MAX = 4.0  # ...up to this many grey levels
# The photo's smile (its rest mouthSmile) from which its creases start to fade, and from which
# they fade fully: a slight smile's creases are the face's own lines (Hopper's, at 0.25).
SMILE_CREASES = (0.3, 0.6)
# Features the fill must not take colour from: lips and eyes (the warp's sharp features), and
# the nose's base with the nostrils.
_NOT_SKIN = L.SHARP_FEATURES + (
    (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64),)


def _skin(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """1 on the face's skin, 0 elsewhere and on its features (_NOT_SKIN)."""
    p = landmarks[:, :2]
    skin = np.zeros(shape, np.float32)
    cv2.fillPoly(skin, [np.round(p[list(L.FACE_OVAL)]).astype(np.int32)], 1.0)
    for ids in _NOT_SKIN:
        cv2.fillConvexPoly(skin, cv2.convexHull(np.round(p[list(ids)]).astype(np.int32)), 0.0)
    return skin


@dataclass
class _Fold:
    channel: int  # the side's mouthSmile blendshape index
    rest_smile: float
    strength: float  # 0..1, from how deeply the photo smiles (SMILE_CREASES)
    box: tuple[int, int, int, int]  # y0, y1, x0, x1 of the band in the plate
    change: np.ndarray  # (smoothed - plate) in the box, float32, for a fully removed smile


class SmileFolds:
    """Built once per portrait (`rest_expression` from face.describe); `apply` per frame."""

    def __init__(self, plate: np.ndarray, landmarks: np.ndarray, iod: float,
                 rest_expression: np.ndarray) -> None:
        self.folds: list[_Fold] = []
        skin = None
        for side, path in NASOLABIAL.items():
            channel = BLENDSHAPE_INDEX[f"mouthSmile{side}"]
            rest = float(rest_expression[channel])
            lo, hi = SMILE_CREASES
            strength = float(np.clip((rest - lo) / (hi - lo), 0, 1))
            if strength == 0:
                continue
            if skin is None:
                skin = _skin(plate.shape[:2], landmarks)
            fold = self._smoothed(plate, skin, landmarks, iod, path)
            if fold is not None:
                box, change = fold
                self.folds.append(_Fold(channel, rest, strength, box, change))

    @staticmethod
    def _smoothed(plate, skin, landmarks, iod, path):
        h, w = plate.shape[:2]
        p = landmarks[:, :2]
        band = np.zeros((h, w), np.float32)
        cv2.polylines(band, [np.round(p[list(path)] * 16).astype(np.int32)], False, 1.0,
                      max(1, int(FOLD_WIDTH * iod)), cv2.LINE_AA, 4)
        band = cv2.GaussianBlur(band, (0, 0), 0.04 * iod) \
            * cv2.GaussianBlur(skin, (0, 0), 0.01 * iod)
        ys, xs = np.nonzero(band > 0.01)
        if len(ys) == 0:
            return None
        pad = int(np.ceil(3 * FILL_BLUR * iod))
        y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
        img = plate[y0:y1, x0:x1].astype(np.float32)
        band, skin = band[y0:y1, x0:x1], skin[y0:y1, x0:x1]
        # The fill: skin around the band (the band itself and non-skin weighted out), blurred.
        source = skin * (1 - np.clip(band * 3, 0, 1))
        s = FILL_BLUR * iod
        fill = cv2.GaussianBlur(img * source[..., None], (0, 0), s) \
            / np.maximum(cv2.GaussianBlur(source, (0, 0), s), 1e-3)[..., None]
        # Clipped: the crease's own sharp core is fine detail too, and far stronger than grain.
        grain = np.clip(img - cv2.GaussianBlur(img, (0, 0), GRAIN * iod), -GRAIN_MAX, GRAIN_MAX)
        change = (fill + grain - img) * band[..., None]
        return (y0, y1, x0, x1), change.astype(np.float32)

    def apply(self, plate: np.ndarray, blendshapes: np.ndarray) -> np.ndarray:
        """The plate with each fold faded by the fraction of its side's smile taken off (the
        plate itself, untouched, when none is)."""
        out = plate
        for fold in self.folds:
            removed = fold.strength * float(np.clip(
                1 - blendshapes[fold.channel] / fold.rest_smile, 0, 1))
            if removed <= 0.01:
                continue
            if out is plate:
                out = plate.copy()
            y0, y1, x0, x1 = fold.box
            region = out[y0:y1, x0:x1].astype(np.float32) + removed * fold.change
            out[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
        return out
