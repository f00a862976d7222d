"""The face's own frame of reference, computed once per portrait and passed down as one value.

Everything that moves or draws a face sizes itself from this: the inter-ocular distance (IOD,
outer eye corner to outer eye corner) is the unit, `ex` runs along the eyes (towards the image's
right on an unrotated face) and `ey` down the face, so sizes fit any face size and in-plane tilt.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import mesh as L

# Where parted lips meet when they close: the upper lip comes down this share of the gap, the
# lower lip (with the jaw) comes up the rest.
UPPER_LIP_SHARE_OF_CLOSING = 0.4


def inter_ocular(landmarks: np.ndarray) -> float:
    """Outer eye corner to outer eye corner, in pixels (the unit of every face-relative size)."""
    p = np.asarray(landmarks)[:, :2]
    return float(np.linalg.norm(p[L.LEFT_EYE_OUTER] - p[L.RIGHT_EYE_OUTER]))


def _local(px: np.ndarray, centre: np.ndarray, iod: float, ex: np.ndarray,
           ey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rel = (np.asarray(px, dtype=np.float64) - centre) / iod
    return rel @ ex, rel @ ey


@dataclass(frozen=True)
class FaceGeometry:
    """Landmarks of one framed portrait and the face-local frame built on them.

    `u`, `v` are each landmark's position relative to the mouth centre, in IOD units, along
    `ex` and `ey`."""

    landmarks: np.ndarray  # (478, 3) pixels; z scaled like x
    iod: float
    ex: np.ndarray  # unit vector along the eyes (subject's right eye → left eye)
    ey: np.ndarray  # unit vector down the face
    mouth_center: np.ndarray
    u: np.ndarray
    v: np.ndarray
    pose: tuple[float, float, float]  # yaw, pitch, roll in degrees (see describe.head_pose)

    @classmethod
    def of(cls, landmarks: np.ndarray) -> "FaceGeometry":
        from .describe import head_pose

        lm = np.asarray(landmarks, dtype=np.float64)
        p = lm[:, :2]
        iod = max(inter_ocular(lm), 1e-6)
        ex = (p[L.LEFT_EYE_OUTER] - p[L.RIGHT_EYE_OUTER]) / iod
        ey = np.array([-ex[1], ex[0]])
        centre = (p[L.UPPER_LIP_INNER] + p[L.LOWER_LIP_INNER]) / 2
        u, v = _local(p, centre, iod, ex, ey)
        return cls(landmarks=lm, iod=iod, ex=ex, ey=ey, mouth_center=centre, u=u, v=v,
                   pose=head_pose(lm))

    @property
    def mouth_half_width(self) -> float:
        """Half the mouth's width between its outer corners, in IOD units."""
        return abs(float(self.u[L.MOUTH_LEFT] - self.u[L.MOUTH_RIGHT])) / 2

    def mouth_half(self, side: str) -> float:
        """One side's half of the mouth ("Left", "Right": the subject's), from the mouth's
        centre to that outer corner, in IOD units. On a turned head the far half is
        foreshortened: the two differ by up to half on a face turned 25 degrees."""
        corner = L.MOUTH_LEFT if side == "Left" else L.MOUTH_RIGHT
        # A floor, for a face turned so far that its far corner is almost at the centre.
        return max(abs(float(self.u[corner])), 0.2 * self.mouth_half_width, 1e-6)

    def across_mouth(self, u: np.ndarray) -> np.ndarray:
        """Where places `u` lie across the mouth, as a share of their own side's half-mouth:
        -1 at the subject's right corner, 0 at the centre, 1 at the left corner (beyond the
        corners, past ±1). Measured per side, a lip shaped across the mouth reaches both
        corners of a turned face, not the near one too early and the far one never."""
        u = np.asarray(u, dtype=np.float64)
        return np.where(u >= 0, u / self.mouth_half("Left"), u / self.mouth_half("Right"))

    def iris_of(self, side: str) -> tuple[int, ...]:
        """The iris landmarks (centre first, then four on its rim) of one eye ("Left",
        "Right"): the mesh's two iris groups are taken by nearness to each eye."""
        p = self.landmarks[:, :2]
        centre = p[list(L.EYE[side]["corners"])].mean(axis=0)
        return min(L.IRIS, key=lambda ids: np.linalg.norm(p[list(ids)].mean(0) - centre))

    def lid_travel(self, side: str) -> np.ndarray:
        """For each upper-lid point of one eye (mesh.EYE[side]["upper"]), the distance down the
        face to the lower lid below it, in IOD units (> 0 for an open eye). Lid actions are
        sized by it, so a narrow eye is never opened or shut by more than it has."""
        eye = L.EYE[side]
        upper, lower = list(eye["upper"]), list(eye["lower"])
        order = np.argsort(self.u[lower])
        below = np.interp(self.u[upper], self.u[lower][order], self.v[lower][order])
        return below - self.v[upper]

    def to_px(self, local: np.ndarray) -> np.ndarray:
        """Face-local (du, dv) displacements in IOD units → pixel (dx, dy)."""
        return self.iod * (local[..., :1] * self.ex + local[..., 1:2] * self.ey)

    def position(self, local: np.ndarray) -> np.ndarray:
        """Face-local (u, v) positions in IOD units (from the mouth's centre) → photo pixels."""
        return self.mouth_center + self.to_px(local)

    def local(self, px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Photo pixels (..., 2) → face-local (u, v) in IOD units: the inverse of `position`."""
        return _local(px, self.mouth_center, self.iod, self.ex, self.ey)

    def lip_gap(self) -> float:
        """The widest gap between the inner lips, in IOD units (0 when the lips touch)."""
        gap = self.v[list(L.LIP_INNER_LOWER)] - self.v[list(L.LIP_INNER_UPPER)]
        return float(max(gap.max(), 0.0))


def mouth_moved_down(u: np.ndarray, v: np.ndarray, shift: float) -> np.ndarray:
    """Heights `v` of the face mesh's points (their face-local `u`, `v`: IOD from the mouth's
    centre) with the mouth moved `shift` further down: the lips move whole, the skin above them
    stretches from the nose tip down and the skin below them shrinks towards the chin, so the
    mesh keeps its order. Beside the mouth the move fades out (from 1.2 to 2 half-mouth widths
    out), so the cheeks and the face's outline stay where the photo has them."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    lips = v[list(L.LIP_OUTER_UPPER + L.LIP_OUTER_LOWER)]
    top, bottom = lips.min(), lips.max()
    nose, chin = v[L.NOSE_TIP], v[L.CHIN]
    share = np.where(v < top, (v - nose) / max(top - nose, 1e-6),
                     np.where(v > bottom, (chin - v) / max(chin - bottom, 1e-6), 1.0))
    half_mouth = abs(u[L.MOUTH_LEFT] - u[L.MOUTH_RIGHT]) / 2
    beside = (2.0 * half_mouth - np.abs(u)) / max(0.8 * half_mouth, 1e-6)
    return v + shift * np.clip(share, 0.0, 1.0) * np.clip(beside, 0.0, 1.0)


def with_mouth_moved_down(landmarks: np.ndarray, shift: float) -> np.ndarray:
    """The face mesh with its mouth `shift` IOD further down the face (`mouth_moved_down`),
    for a mesh that put the lips too high (inside a moustache that hides them)."""
    g = FaceGeometry.of(landmarks)
    out = np.array(landmarks, dtype=np.float64)
    out[:, :2] += ((mouth_moved_down(g.u, g.v, shift) - g.v) * g.iod)[:, None] * g.ey[None, :]
    return out
