"""Eyes opened wider than in the photo: the iris and white that a raised upper lid uncovers.

The warp raises an upper lid (AU5: surprise, fear, a glare) by moving it and holding the iris,
so what lay just under the lid in the photo (its margin and the top of the iris) is stretched
into the new gap: the iris grows tall and the eye reads as rolled up. A real raised lid uncovers
the top of a round iris and the white above it. So that band is drawn over: inside the iris's
circle with the iris's own lower half (mirrored; irises are near round and the upper lid hides
the top of most of them), elsewhere in this photo's white of the eye, in the lid's shadow.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face import mesh as L
from ..face.describe import eye_openness
from ..face.geometry import FaceGeometry
from ..face.quality import CLOSED_EYES
from ..types import BLENDSHAPE_INDEX
from .actions import actions_by_channel

# The uncovered white lies in the lid's shadow: a little darker than the eye's brightest white
# (the sclera colour), and darker still right under the lid, fading over the band's height.
UNCOVERED_WHITE = 0.85
LID_SHADOW = 0.35
SHADOW_REACH = 1.0


class EyeWhites:
    """Built once per portrait; `uncover` per frame. Does nothing for eyes the photo shows
    closed or without a visible white (there is nothing of the eye to continue)."""

    def __init__(self, plate: np.ndarray, geometry: FaceGeometry, sclera: np.ndarray | None,
                 rest_expression: np.ndarray | None = None):
        self.plate = plate
        # The photo's lids are where its own expression (the rig's rest) has them: only
        # eyeWide beyond that raises them.
        self.rest = np.zeros(len(BLENDSHAPE_INDEX), np.float32) if rest_expression is None \
            else np.asarray(rest_expression, np.float32)
        self.sclera = None if sclera is None else np.asarray(sclera, np.float32)
        self.enabled = self.sclera is not None and eye_openness(geometry.landmarks) >= CLOSED_EYES
        # Lid raise per unit eyeWide weight, as a share of the eye's own lid gap (the rig's).
        self.raise_share = -actions_by_channel()["eyeWideLeft"].move[1]
        p = geometry.landmarks[:, :2]
        self.eyes = {}
        for side, eye in L.EYE.items():
            iris = geometry.iris_of(side)
            centre, radius = _iris_circle(p, iris)
            upper, lower = p[list(eye["upper"])], p[list(eye["lower"])]
            gap = float(geometry.lid_travel(side).mean()) * geometry.iod
            lower_lid = lower[np.argsort(lower[:, 0])]
            # Where the photo shows hardly any iris below its centre (an eye looking down,
            # under a low lid) there is nothing to mirror; the warp's own iris stays.
            below_centre = np.interp(centre[0], lower_lid[:, 0], lower_lid[:, 1]) - 1.0 - centre[1]
            mirrored = float(np.clip((below_centre / max(radius, 1e-6) - 0.2) / 0.3, 0, 1))
            self.eyes[side] = dict(iris=iris, centre=centre, radius=radius, gap=max(gap, 0.0),
                                   lower_lid=lower_lid, mirrored=mirrored)

    def uncover(self, frame: np.ndarray, points: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Draws, in place, what each eye's raised upper lid uncovers in this frame (`points`
        are its landmarks, `weights` its blendshapes)."""
        if not self.enabled:
            return frame
        for side, eye in self.eyes.items():
            i = BLENDSHAPE_INDEX[f"eyeWide{side}"]
            raised = self.raise_share * float(weights[i] - self.rest[i]) * eye["gap"]
            if raised >= 1.0:
                self._uncover_eye(frame, points, L.EYE[side], eye, raised)
        return frame

    def _uncover_eye(self, frame: np.ndarray, points: np.ndarray, ids: dict, eye: dict,
                     raised: float) -> None:
        upper = points[list(ids["upper"])]
        lower = points[list(ids["lower"])]
        corners = points[list(ids["corners"])]
        down = lower.mean(axis=0) - upper.mean(axis=0)
        down /= max(float(np.linalg.norm(down)), 1e-6)
        # Where the lid was before it rose: the band between is what it uncovered (less
        # towards the corners, which stay).
        reach = np.full(len(upper), raised)
        reach[[0, -1]] *= 0.6
        was = upper + reach[:, None] * down[None, :]
        band_outline = np.vstack([corners[0], upper, corners[1], was[::-1]])
        opening_outline = np.vstack([corners[0], upper, corners[1], lower[::-1]])
        pad = 3
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(band_outline.min(axis=0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(band_outline.max(axis=0)).astype(int) + pad, [w, h])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        off = np.array([x0, y0], np.float64)
        band = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(band, [np.round((band_outline - off) * 4).astype(np.int32)], 1.0, cv2.LINE_AA, 2)
        inside = np.zeros_like(band)
        cv2.fillPoly(inside, [np.round((opening_outline - off) * 4).astype(np.int32)], 1.0, cv2.LINE_AA, 2)
        alpha = band * inside
        if alpha.max() <= 0:
            return
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        # Distance below the lid's edge, along the face's "down".
        order = np.argsort(upper[:, 0])
        lid_y = np.interp(xx, upper[order, 0], upper[order, 1])
        below = (yy - lid_y) * float(down[1])
        # The lashes and the lid's margin stay the photo's: the band fades in under them.
        alpha *= np.clip((below - 1.0) / 2.0, 0, 1)
        shade = UNCOVERED_WHITE - LID_SHADOW * np.exp(-np.clip(below, 0, None) / max(SHADOW_REACH * raised, 1.0))
        fill = self.sclera[None, None, :] * shade[..., None]
        fill, over_iris = self._iris(fill, points, eye, xx, yy)
        alpha *= over_iris
        fill = cv2.GaussianBlur(fill, (0, 0), 0.5)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        out = roi * (1 - alpha[..., None]) + fill * alpha[..., None]
        frame[y0:y1, x0:x1] = np.clip(out, 0, 255).astype(np.uint8)

    def _iris(self, fill: np.ndarray, points: np.ndarray, eye: dict, xx: np.ndarray,
              yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The iris's uncovered top, from its visible lower half mirrored across its centre;
        and where to draw (over the iris and just beside it)."""
        centre, radius = _iris_circle(points, eye["iris"])
        dx, dy = xx - centre[0], yy - centre[1]
        scale = eye["radius"] / max(radius, 1e-6)
        src_x = (eye["centre"][0] + dx * scale).astype(np.float32)
        # The lower lid hides the bottom of most irises: a mirrored point beyond it is taken
        # from just above the lid instead (the iris's rim is much the same colour all round),
        # so the top is a whole disc: leaving such points to the warp would put its stretched
        # lid margin between them, a jagged notch across the iris.
        lid = eye["lower_lid"]
        visible = np.interp(src_x, lid[:, 0], lid[:, 1]) - 1.0 - eye["centre"][1]
        src_y = (eye["centre"][1] + np.minimum(np.abs(dy) * scale, visible)).astype(np.float32)
        sample = cv2.remap(self.plate, src_x, src_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        in_circle = np.clip((radius - np.hypot(dx, dy)) / 1.0 + 0.5, 0, 1)
        disc = in_circle * eye["mirrored"]
        # Beside the iris the lid uncovers white that the warp already shows (stretched from
        # the white under the lid); only over the iris did it stretch the iris itself. The drawn
        # white fades into the warp's over half the iris's radius, not at an edge.
        over_iris = np.clip((1.5 * radius - np.abs(dx)) / max(0.5 * radius, 1.0), 0, 1)
        draw = over_iris * (1 - in_circle * (1 - eye["mirrored"]))
        return fill * (1 - disc[..., None]) + sample * disc[..., None], draw


def _iris_circle(points: np.ndarray, iris: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """Centre and radius of an iris from its landmarks (centre first, then four on its rim)."""
    centre = points[iris[0]]
    return centre, float(np.mean(np.linalg.norm(points[list(iris[1:])] - centre, axis=1)))
