"""The landmark rig: ARKit blendshape weights + head pose → a dense warp of the portrait.

How it works (the CPU renderer's core):
1. At set-up, every blendshape channel gets a *basis*: a displacement of each face-mesh vertex
   in pixels at weight 1, written in a face-local frame (x along the eyes, y down the face,
   unit = inter-ocular distance) so it fits any face size and in-plane tilt. Channels move a few
   handle vertices (lip lines, lids, brows, mouth corners) and spread to nearby skin with a
   Gaussian falloff; vertices across a boundary (upper vs lower lip) are pinned so they do not
   drag each other.
2. Per frame, vertex displacements are a weighted sum of the bases (plus the lip-closing term,
   which depends on the jaw), densified over a triangle mesh (face mesh + a ring of still points)
   by precomputed barycentric weights on a half-resolution grid, then smoothed.
3. Head rotation is a rigid 3-D rotation of every pixel about a pivot behind the face, using a
   depth map from the mesh's z; its weight falls off down the neck so the shoulders stay put.
4. The total forward field is limited to the person (plus a small margin) by a matte, so the
   background never moves, then inverted by fixed-point iteration into a backward map for
   cv2.remap.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from ..types import BLENDSHAPE_INDEX
from ..face import mesh as L

# Jaw drop of the lower lip at jawOpen = 1, in inter-ocular distances.
JAW_DROP = 0.30
CORNER_DROP = 0.45  # the mouth corners drop this fraction of the jaw's drop
TEETH_LINE = np.array(L.INNER_UPPER_LINE)
BROW_CHANNELS = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft",
                 "browDownRight")
GLASSES_BROW_GAIN = 0.3
SKIN_SMOOTHING = 0.05  # the skin's extra smoothing of the expression field (IOD)


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


@dataclass
class RigFrame:
    """One frame's deformation: backward maps for cv2.remap and where the vertices went."""

    map_x: np.ndarray
    map_y: np.ndarray
    points: np.ndarray  # (478, 2) deformed landmark positions in the output frame
    # The neutral face's upper inner lip line, moved only with the head: where the upper teeth
    # hang from (they belong to the skull, not to the lip). Corners included, left to right.
    teeth_line: np.ndarray | None = None


class FaceRig:
    def __init__(self, landmarks: np.ndarray, image_size: tuple[int, int], matte: np.ndarray,
                 rest_expression: np.ndarray | None = None, field_scale: float = 0.5,
                 brow_gain: float = 1.0):
        self.width, self.height = image_size
        # Per-channel gain: glasses in front of the brows cannot bend, so a bespectacled
        # portrait moves its brows less (the warp would drag the frames along).
        self.channel_gain = np.ones(len(BLENDSHAPE_INDEX), np.float32)
        for name in BROW_CHANNELS:
            self.channel_gain[BLENDSHAPE_INDEX[name]] = brow_gain
        self.landmarks = landmarks.astype(np.float64)
        self.n_face = len(landmarks)
        # Weights the photo already shows (e.g. its smile): deformation is relative to them.
        self.rest_expression = (np.zeros(len(BLENDSHAPE_INDEX), np.float32) if rest_expression is None
                                else np.asarray(rest_expression, np.float32))
        self._field_scale = field_scale
        self._setup_frame()
        self._setup_mesh()
        self._setup_bases()
        self._setup_rest()
        self._setup_rigid(matte)

    # ---------------------------------------------------------------- set-up
    def _setup_frame(self) -> None:
        p = self.landmarks[:, :2]
        right_eye, left_eye = p[33], p[263]
        self.iod = float(np.linalg.norm(left_eye - right_eye))
        ex = (left_eye - right_eye) / self.iod
        self.ex = ex
        self.ey = np.array([-ex[1], ex[0]])  # image "down" along the face
        self.mouth_center = (p[13] + p[14]) / 2
        rel = (p - self.mouth_center) / self.iod
        self.u = rel @ self.ex
        self.v = rel @ self.ey
        self.mouth_half_width = abs(self.u[291] - self.u[61]) / 2

    def _to_px(self, local: np.ndarray) -> np.ndarray:
        """Local (du, dv) displacements in IOD units → pixel (dx, dy)."""
        return self.iod * (local[..., :1] * self.ex + local[..., 1:2] * self.ey)

    def _setup_mesh(self) -> None:
        p = self.landmarks[:, :2]
        oval = p[list(L.FACE_OVAL)]
        center = p.mean(axis=0)
        ring = [center + (oval - center) * s for s in (1.7, 2.4)]
        w, h = self.width, self.height
        border = [(x, y) for x in np.linspace(0, w - 1, 9) for y in (0, h - 1)]
        border += [(x, y) for y in np.linspace(0, h - 1, 9)[1:-1] for x in (0, w - 1)]
        self.ring = np.vstack(ring + [np.array(border, dtype=np.float64)])
        self.vertices = np.vstack([p, self.ring])
        tri = Delaunay(self.vertices)
        # Barycentric coordinates of every field-grid pixel, once.
        fs = self._field_scale
        self.fw, self.fh = int(round(w * fs)), int(round(h * fs))
        gx, gy = np.meshgrid((np.arange(self.fw) + 0.5) / fs - 0.5,
                             (np.arange(self.fh) + 0.5) / fs - 0.5)
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        simplex = tri.find_simplex(pts)
        simplex[simplex < 0] = 0  # outside the hull (corners only): any triangle, zero motion there
        trans = tri.transform[simplex]
        b = np.einsum("nij,nj->ni", trans[:, :2], pts - trans[:, 2])
        bary = np.concatenate([b, 1 - b.sum(axis=1, keepdims=True)], axis=1)
        self._tri_vertices = tri.simplices[simplex]  # (npix, 3)
        self._bary = bary.astype(np.float32)
        self.grid_xy = pts.reshape(self.fh, self.fw, 2).astype(np.float32)

    def densify(self, vertex_values: np.ndarray) -> np.ndarray:
        """Per-vertex values (V, C) → field grid (fh, fw, C), piecewise linear."""
        vals = vertex_values[self._tri_vertices]  # (npix, 3, C)
        out = np.einsum("nk,nkc->nc", self._bary, vals.astype(np.float32))
        return out.reshape(self.fh, self.fw, -1)

    # ------------------------------------------------------------- the bases
    def _spread(self, handles: dict[int, tuple[float, float]], sigma: float,
                pins: tuple[int, ...] = (), region: np.ndarray | None = None) -> np.ndarray:
        """Handle displacements (local units) spread to nearby vertices with a Gaussian falloff;
        pinned vertices stay still and hold back their neighbours. Returns (478, 2) local units."""
        idx = np.array(list(handles.keys()) + list(pins), dtype=int)
        disp = np.array(list(handles.values()) + [(0.0, 0.0)] * len(pins), dtype=np.float64)
        uv = np.stack([self.u, self.v], axis=1)
        d2 = ((uv[:, None, :] - uv[None, idx, :]) ** 2).sum(-1)
        k = np.exp(-d2 / (2 * sigma ** 2)) + 1e-12
        spread = (k @ disp) / k.sum(axis=1, keepdims=True) * k.max(axis=1, keepdims=True)
        spread[idx] = disp
        if region is not None:
            spread *= region[:, None]
        return spread

    def _setup_bases(self) -> None:
        n = self.n_face
        u, v = self.u, self.v
        B = np.zeros((len(BLENDSHAPE_INDEX), n, 2))
        upper_lip = L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER
        lower_lip = L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER
        corners = L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER
        side_left = _smoothstep(u, -0.05, 0.05)  # subject's left = image right
        side = {"Left": side_left, "Right": 1 - side_left}

        def put(name: str, local: np.ndarray) -> None:
            B[BLENDSHAPE_INDEX[name]] = local

        # Jaw: everything below the mouth line drops, less towards the ears. "Below" is measured
        # from the lower lip's own line (level with the corners beyond them): a smiling photo
        # raises its corners, and skin beside the lower lip measured from the mouth centre's
        # height stayed put while the lip dropped, shearing the cheek into a zigzag.
        chin_v = v[L.CHIN]
        lateral = 1 - _smoothstep(np.abs(u), 0.4, 1.0)
        line = np.array(L.INNER_LOWER_LINE)
        order = np.argsort(u[line])
        below = v - np.interp(u, u[line][order], v[line][order])
        jaw_w = _smoothstep(below, 0.0, 0.25 * chin_v) * lateral
        jaw_w[below < -0.02] = 0.0
        # The lips get their own weights below, exempt from that cut: a smiling photo lifts the
        # lower lip's sides above the mouth centre, and a lower lip left hanging there shapes
        # every open mouth into the smile's crescent even after the smile is taken away.
        # The lower lip hangs from the corners: it drops most in the middle, so the opening
        # is a lens, not a box with vertical sides.
        # Every vertex of the lower lip, including the mesh's mid-lip rows between its inner
        # and outer contours: left on the chin ramp they would lag the contours and fold the lip.
        lower_idx = list(lower_lip) + self._lower_lip_interior()
        across = np.clip(1 - (u[lower_idx] / max(self.mouth_half_width, 1e-6)) ** 2, 0, 1)
        jaw_w[lower_idx] = CORNER_DROP + (1 - CORNER_DROP) * np.sqrt(across)
        jaw_w[list(corners)] = CORNER_DROP
        # The corners pull the upper lip beside them down too (it is stretched, not lifted),
        # so the opening narrows to a point at each corner: with the upper lip held still the
        # dropped corners drew a box with vertical sides, dark wings beside the teeth.
        upper_idx = list(upper_lip)
        from_centre = np.clip(np.abs(u[upper_idx]) / max(self.mouth_half_width, 1e-6), 0, 1)
        jaw_w[upper_idx] = CORNER_DROP * from_centre ** 2
        self._jaw_weight = jaw_w
        put("jawOpen", np.stack([np.zeros(n), JAW_DROP * jaw_w], axis=1))
        for name, sign in (("jawLeft", 1.0), ("jawRight", -1.0)):
            put(name, np.stack([sign * 0.07 * jaw_w, np.zeros(n)], axis=1))

        # Lip closing against an open jaw (used as jawOpen * mouthClose, see vertex_displacement).
        close = {i: (0.0, 0.38 * JAW_DROP) for i in L.LIP_INNER_UPPER}
        close.update({i: (0.0, 0.3 * JAW_DROP) for i in L.LIP_OUTER_UPPER})
        close.update({i: (0.0, -0.62 * JAW_DROP) for i in L.LIP_INNER_LOWER})
        close.update({i: (0.0, -0.55 * JAW_DROP) for i in L.LIP_OUTER_LOWER})
        close.update({i: (0.0, -0.1 * JAW_DROP) for i in corners})
        self._close_basis = self._spread(close, 0.05)

        def lips(upper: tuple[float, float] | None, lower: tuple[float, float] | None,
                 inner_scale: float = 1.0, sigma: float = 0.09, weight=None) -> np.ndarray:
            h: dict[int, tuple[float, float]] = {}
            pins: tuple[int, ...] = ()
            if upper is not None:
                h.update({i: upper for i in L.LIP_OUTER_UPPER})
                h.update({i: (upper[0] * inner_scale, upper[1] * inner_scale)
                          for i in L.LIP_INNER_UPPER})
            else:
                pins += L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER
            if lower is not None:
                h.update({i: lower for i in L.LIP_OUTER_LOWER})
                h.update({i: (lower[0] * inner_scale, lower[1] * inner_scale)
                          for i in L.LIP_INNER_LOWER})
            else:
                pins += L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER
            out = self._spread(h, sigma, pins=pins)
            return out * weight[:, None] if weight is not None else out

        put("mouthRollLower", lips(None, (0.0, -0.045), inner_scale=0.5))
        put("mouthRollUpper", lips((0.0, 0.035), None, inner_scale=0.4))
        put("mouthShrugLower", lips(None, (0.0, -0.035)))
        put("mouthShrugUpper", lips((0.0, -0.025), None))
        for s in ("Left", "Right"):
            put(f"mouthUpperUp{s}", lips((0.0, -0.07), None, weight=side[s]))
            put(f"mouthLowerDown{s}", lips(None, (0.0, 0.07), weight=side[s]))
            put(f"mouthPress{s}", lips((0.0, 0.02), (0.0, -0.02), inner_scale=0.3,
                                       weight=side[s]))

        def corner_move(s: str, du: float, dv: float, sigma: float = 0.16) -> np.ndarray:
            """Moves one mouth corner (du outward from the mouth centre); lips follow partway."""
            sign = 1.0 if s == "Left" else -1.0
            outer, inner = (291, 308) if s == "Left" else (61, 78)
            h = {outer: (sign * du, dv), inner: (sign * du, dv)}
            return self._spread(h, sigma, pins=(13, 14, 0, 17)) * side[s][:, None]

        for s in ("Left", "Right"):
            smile = corner_move(s, 0.08, -0.10, sigma=0.2)
            cheek = self._cheek_lift(s, 0.045)
            put(f"mouthSmile{s}", smile + cheek)
            put(f"mouthFrown{s}", self._lip_droop(s, 0.175) * side[s][:, None])
            put(f"mouthStretch{s}", corner_move(s, 0.06, 0.035))
            put(f"mouthDimple{s}", corner_move(s, 0.035, -0.005))
            put(f"cheekSquint{s}", self._cheek_lift(s, 0.05))
            put(f"noseSneer{s}", self._nose_sneer(s))
        for name, du in (("mouthLeft", 0.06), ("mouthRight", -0.06)):
            mouth_region = np.exp(-((u / (2.2 * self.mouth_half_width)) ** 2 + (v / 0.35) ** 2))
            put(name, np.stack([du * mouth_region, np.zeros(n)], axis=1))

        # Pucker/funnel: the whole mouth narrows towards its centre (corners most), lips push
        # forward. Squeezing every lip point, not just the corners, keeps the lip line ordered.
        mouth_pts = L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER + L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER + corners
        squeeze = -u[list(mouth_pts)] / max(self.mouth_half_width, 1e-6)

        def narrowing(amount: float, dv: dict[int, float]) -> dict[int, tuple[float, float]]:
            return {int(i): (amount * float(k), dv.get(int(i), 0.0))
                    for i, k in zip(mouth_pts, squeeze)}

        pucker = narrowing(0.12, {**{i: -0.012 for i in L.LIP_OUTER_UPPER},
                                  **{i: 0.012 for i in L.LIP_OUTER_LOWER}})
        put("mouthPucker", self._spread(pucker, 0.12))
        funnel = narrowing(0.08, {**{i: -0.02 for i in L.LIP_INNER_UPPER},
                                  **{i: 0.03 for i in L.LIP_INNER_LOWER}})
        put("mouthFunnel", self._spread(funnel, 0.1))
        puff = (np.abs(u) > 1.2 * self.mouth_half_width) & (v > -0.45) & (v < 0.35)
        put("cheekPuff", np.stack([np.sign(u) * 0.04 * puff, np.zeros(n)], axis=1))

        self._setup_eye_bases(put, side)
        self._bases_px = self._to_px(B).astype(np.float32)  # (52, 478, 2)
        self._close_px = self._to_px(self._close_basis).astype(np.float32)

    def _lip_droop(self, s: str, drop: float) -> np.ndarray:
        """AU15, the lip-corner depressor: the corners drop by `drop` (IOD units; a full AU15
        is about a sixth of the eye distance, and a weaker one never read as sad at the 48 px
        an expression classifier sees) and the lip line bends smoothly towards them. Upper and
        lower lips move together at each point along the mouth, so the lips neither part nor
        cross at the corners and the opening keeps its lens shape while speaking."""
        lips = (L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER + L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER
                + L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER)
        sign = 1.0 if s == "Left" else -1.0
        h = {}
        for i in lips:
            t = np.clip(sign * self.u[i] / max(self.mouth_half_width, 1e-6), 0.0, 1.0)
            h[int(i)] = (-sign * 0.1 * drop * t ** 2, drop * t ** 2)
        return self._spread(h, 0.16)

    def _lower_lip_interior(self) -> list[int]:
        u, v = self.u, self.v

        def contour(ids: tuple[int, ...]) -> np.ndarray:
            ids = np.array(ids)
            order = np.argsort(u[ids])
            return np.interp(u, u[ids][order], v[ids][order])

        inner = contour(L.INNER_LOWER_LINE)
        outer = contour((61,) + L.LIP_OUTER_LOWER + (291,))
        span = (u > min(u[78], u[308])) & (u < max(u[78], u[308]))
        inside = span & (v > inner) & (v < outer)
        contours = (L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER + L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER
                    + L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER)
        inside[list(contours)] = False
        return [int(i) for i in np.nonzero(inside[: self.n_face])[0]]

    def _cheek_lift(self, s: str, amount: float) -> np.ndarray:
        eye = L.EYE[s]
        lower_lid_v = self.v[list(eye["lower"])].mean()
        eye_u = self.u[list(eye["lower"])].mean()
        # The cheek mound: below the eye, above the mouth corner, beside the nose.
        cheek_u = eye_u
        cheek_v = lower_lid_v + 0.35 * (0 - lower_lid_v)
        w = np.exp(-(((self.u - cheek_u) / 0.28) ** 2 + ((self.v - cheek_v) / 0.25) ** 2))
        w[list(eye["upper"] + eye["corners"])] = 0.0  # the lid line itself does not lift
        w[list(eye["lower"])] *= 0.6
        return np.stack([np.zeros(self.n_face), -amount * w], axis=1)

    def _nose_sneer(self, s: str) -> np.ndarray:
        sign = 1.0 if s == "Left" else -1.0
        nose_v = self.v[L.NOSE_TIP]
        wing_u = sign * 0.18
        w = np.exp(-(((self.u - wing_u) / 0.12) ** 2 + ((self.v - nose_v) / 0.12) ** 2))
        return np.stack([np.zeros(self.n_face), -0.05 * w], axis=1)

    def _setup_eye_bases(self, put, side) -> None:
        p = self.landmarks[:, :2]
        self._iris_for_eye = {}
        for s, eye in L.EYE.items():
            upper, lower = list(eye["upper"]), list(eye["lower"])
            # Lid travel: each upper-lid vertex to the lower lid below it (by u).
            lower_u, lower_v = self.u[lower], self.v[lower]
            order = np.argsort(lower_u)
            below = np.interp(self.u[upper], lower_u[order], lower_v[order])
            travel = below - self.v[upper]  # > 0
            gap = float(travel.mean())
            closed_line = below - 0.15 * travel
            blink = {i: (0.0, float(cl - self.v[i])) for i, cl in zip(upper, closed_line)}
            blink.update({i: (0.0, -0.12 * gap) for i in lower})
            blink.update({i: (0.0, 0.55 * gap) for i in eye["upper2"]})
            blink.update({i: (0.0, 0.18 * gap) for i in eye["upper3"]})
            # The eye's content squeezes towards the lower lid instead of folding over.
            centre = p[list(eye["corners"])].mean(axis=0)
            iris = min(L.IRIS, key=lambda ids: np.linalg.norm(p[list(ids)].mean(0) - centre))
            self._iris_for_eye[s] = iris
            iris_v = self.v[list(iris)]
            top, bottom = self.v[upper].min(), below.max()
            t = np.clip((iris_v - top) / max(bottom - top, 1e-6), 0, 1)
            blink.update({i: (0.0, float((1 - ti) * gap * 0.85)) for i, ti in zip(iris, t)})
            pins = tuple(eye["corners"]) + tuple(eye["lower3"])
            put(f"eyeBlink{s}", self._spread(blink, 0.04, pins=pins))
            wide = {i: (0.0, -0.45 * gap) for i in upper}
            wide.update({i: (0.0, -0.3 * gap) for i in eye["upper2"]})
            put(f"eyeWide{s}", self._spread(wide, 0.04, pins=pins))
            squint = {i: (0.0, -0.28 * gap) for i in lower}
            squint.update({i: (0.0, -0.15 * gap) for i in eye["lower2"]})
            squint.update({i: (0.0, 0.08 * gap) for i in upper})
            put(f"eyeSquint{s}", self._spread(squint, 0.04, pins=tuple(eye["corners"])))
            # Gaze: the iris slides; "Out" is towards the subject's own side.
            eye_width = abs(self.u[eye["corners"][0]] - self.u[eye["corners"][1]])
            out_sign = 1.0 if s == "Left" else -1.0
            shift = 0.2 * eye_width
            lid_pins = tuple(upper) + tuple(lower) + tuple(eye["corners"])
            for name, d in (("Out", (out_sign * shift, 0.0)), ("In", (-out_sign * shift, 0.0)),
                            ("Up", (0.0, -0.35 * gap)), ("Down", (0.0, 0.3 * gap))):
                h = {i: d for i in iris}
                put(f"eyeLook{name}{s}", self._spread(h, 0.02, pins=lid_pins))
            # Brows.
            brow = list(eye["brow"])
            towards_nose = -out_sign
            down = {i: (towards_nose * 0.062, 0.155) for i in brow}
            lid_and_below = tuple(lower) + tuple(eye["corners"]) + tuple(eye["lower2"])
            put(f"browDown{s}", self._spread(down, 0.14, pins=lid_and_below))
            outer = {i: (0.0, -0.11) for i in eye["brow_outer"]}
            put(f"browOuterUp{s}", self._spread(outer, 0.16, pins=lid_and_below))
        inner = {}
        for s, eye in L.EYE.items():
            inner.update({i: (0.0, -0.168) for i in eye["brow_inner"]})
        pins = tuple(i for eye in L.EYE.values() for i in eye["lower"] + eye["corners"])
        put("browInnerUp", self._spread(inner, 0.16, pins=pins))

    def _setup_rest(self) -> None:
        """Rest pose: the photo's own lip gap closed, so a smiling, open-mouthed portrait still
        rests with closed lips and opens only with speech."""
        up, lo = np.array(L.LIP_INNER_UPPER), np.array(L.LIP_INNER_LOWER)
        gap = np.maximum(self.v[lo] - self.v[up], 0.0)
        h = {int(i): (0.0, float(g * 0.6)) for i, g in zip(up, gap)}
        h.update({int(i): (0.0, float(-g * 0.6)) for i, g in zip(lo, gap)})
        h.update({int(i): (0.0, float(g * 0.3)) for i, g in zip(L.LIP_OUTER_UPPER, gap)})
        h.update({int(i): (0.0, float(-g * 0.3)) for i, g in zip(L.LIP_OUTER_LOWER, gap)})
        self.rest_gap = float(gap.max())
        self._lip_pairs = (up, lo)
        self._outer_lower = np.array(L.LIP_OUTER_LOWER)
        # Where each inner-lip point sits between the inner corners (0 = image-left corner).
        left, right = self.u[78], self.u[308]
        self._inner_lip = np.concatenate([up, lo])
        self._inner_lip_t = (self.u[self._inner_lip] - left) / max(right - left, 1e-6)
        self._rest_px = self._to_px(self._spread(h, 0.06))
        # The upper teeth hang from the *neutral* upper-lip line: on a smiling photo the raised
        # lip corners are the smile, not the teeth, and would bend the teeth into a grin after
        # the smile is taken away (sad, surprised).
        neutral = np.tensordot(-self.rest_expression * self.channel_gain,
                               self._bases_px[:, TEETH_LINE], axes=1)
        self.teeth_rest = self.landmarks[TEETH_LINE, :2] + self._rest_px[TEETH_LINE] + neutral

    def _setup_rigid(self, matte: np.ndarray) -> None:
        """Depth map, pivot and weights for head rotation; the motion-allowed mask."""
        p3 = self.landmarks
        oval_z = float(np.median(p3[list(L.FACE_OVAL), 2]))
        z = np.concatenate([p3[:, 2], np.full(len(self.ring), oval_z)])
        depth = self.densify(z[:, None])[..., 0]
        self._depth = cv2.GaussianBlur(depth, (0, 0), 2.0)
        centre = p3[:, :2].mean(axis=0)
        self._pivot = np.array([*(centre + 0.35 * self.iod * self.ey), oval_z + 0.9 * self.iod])
        # Head weight: 1 on the head, fading down the neck (in face-local "v" below the chin).
        rel = (self.grid_xy - self.landmarks[L.CHIN, :2]) / self.iod
        below_chin = rel @ self.ey
        self._head_weight = (1 - _smoothstep(below_chin, 0.1, 1.1)).astype(np.float32)
        # The same fall-off at the landmarks themselves (for the forward-deformed points).
        p = self.landmarks
        self._vertex_head_weight = np.interp(((p[:, :2] - p[L.CHIN, :2]) / self.iod) @ self.ey,
                                             [0.1, 1.1], [1, 0])
        # Motion is allowed on the person and a thin margin around it, so the background holds.
        person = (matte > 0.5).astype(np.uint8)
        margin = max(3, int(0.12 * self.iod))
        person = cv2.dilate(person, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
        allowed = cv2.GaussianBlur(person.astype(np.float32), (0, 0), margin / 2)
        self._allowed = cv2.resize(allowed, (self.fw, self.fh), interpolation=cv2.INTER_AREA)
        # Where the expression field may be smoothed more: everywhere but the lips and the eyes,
        # whose edges must stay where their vertices put them.
        fs = self._field_scale
        sharp = np.zeros((self.fh, self.fw), np.float32)
        for ids in L.SHARP_FEATURES:
            hull = cv2.convexHull(np.round(p[list(ids), :2] * fs).astype(np.int32))
            cv2.fillConvexPoly(sharp, hull, 1.0)
        reach = max(1.0, SKIN_SMOOTHING * self.iod * fs)
        sharp = cv2.GaussianBlur(cv2.dilate(sharp, np.ones((3, 3), np.uint8), iterations=max(
            1, int(round(reach / 2)))), (0, 0), reach)
        self._skin_smoothing = np.clip(1 - 1.5 * sharp, 0, 1)[..., None]
        self._skin_sigma = reach

    # ------------------------------------------------------------- per frame
    def vertex_displacement(self, weights: np.ndarray) -> np.ndarray:
        """Expression displacement of the 478 face vertices (pixels) for 52 blendshape weights."""
        w = np.asarray(weights, dtype=np.float32)
        d = np.tensordot((w - self.rest_expression) * self.channel_gain, self._bases_px, axes=1)
        jaw = w[BLENDSHAPE_INDEX["jawOpen"]]
        close = min(1.0, float(w[BLENDSHAPE_INDEX["mouthClose"]]))
        d += jaw * close * self._close_px
        d += self._rest_px
        return self._uncross_lips(d)

    def _uncross_lips(self, d: np.ndarray) -> np.ndarray:
        """Lips may meet but never pass through each other (e.g. a frown plus a raised lower
        lip): crossing inner-lip pairs meet at their midpoint, and the lower lip's outer edge
        follows, so the warp never folds over itself."""
        up, lo = self._lip_pairs
        p = self.landmarks[:, :2]
        gap = ((p[lo] + d[lo]) - (p[up] + d[up])) @ self.ey
        overlap = np.minimum(gap, 0.0)
        if overlap.any():
            shift = (overlap[:, None] / 2) * self.ey[None, :]
            d[up] += shift
            d[lo] -= shift
            d[self._outer_lower] -= shift
        # Nor do inner-lip points slide out past the mouth corners (a bow-tie opening).
        q = (p + d) @ self.ex
        left, right = q[78], q[308]
        t = self._inner_lip_t
        lo_bound = left + 0.5 * t * (right - left)
        hi_bound = right - 0.5 * (1 - t) * (right - left)
        x = q[self._inner_lip]
        clamped = np.clip(x, lo_bound, np.maximum(hi_bound, lo_bound))
        if right > left and np.any(clamped != x):
            d[self._inner_lip] += (clamped - x)[:, None] * self.ex[None, :]
        return d

    def expression_field(self, d_vertices: np.ndarray) -> np.ndarray:
        """Vertex displacements → the forward displacement field on the field grid (pixels)."""
        expr = self.densify(np.vstack([d_vertices, np.zeros((len(self.ring), 2), np.float32)]))
        expr = cv2.GaussianBlur(expr, (0, 0), 0.8)
        # Skin between vertices that move very differently (a dropped lip beside a cheek that
        # stays) bends along the mesh's triangle edges into a zigzag; smoothing it there, and
        # not on the lips or eyes, gives a smooth stretch instead.
        smooth = cv2.GaussianBlur(expr, (0, 0), self._skin_sigma)
        return expr + (smooth - expr) * self._skin_smoothing

    def _rotation(self, pose: np.ndarray) -> np.ndarray:
        yaw, pitch, roll = np.radians(pose[:3])
        cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
        # Image axes: x right, y down, z into the scene. Yaw about y, pitch about x, roll about z.
        r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        return r_roll @ r_pitch @ r_yaw

    def _rigid(self, xy: np.ndarray, z: np.ndarray, pose: np.ndarray) -> np.ndarray:
        pts = np.concatenate([xy, z[..., None]], axis=-1) - self._pivot
        moved = pts @ self._rotation(pose).T
        scale = 1.0 + 0.1 * float(pose[5])
        shift = self.iod * (pose[3] * self.ex + pose[4] * self.ey)
        return (moved[..., :2] * scale - pts[..., :2] + shift).astype(np.float32)

    def frame(self, weights: np.ndarray, pose: np.ndarray, iterations: int = 3) -> RigFrame:
        pose = np.asarray(pose, dtype=np.float64)
        d_vertices = self.vertex_displacement(weights)
        expr = self.expression_field(d_vertices)
        rigid = self._rigid(self.grid_xy, self._depth, pose) * self._head_weight[..., None]
        forward = (expr + rigid) * self._allowed[..., None]
        # Backward map by fixed-point iteration: source s such that s + d(s) = x.
        fs = self._field_scale
        src = self.grid_xy - forward
        for _ in range(iterations):
            fx = src[..., 0] * fs + 0.5 * fs - 0.5
            fy = src[..., 1] * fs + 0.5 * fs - 0.5
            d = cv2.remap(forward, fx.astype(np.float32), fy.astype(np.float32),
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            src = self.grid_xy - d
        full = cv2.resize(src, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        # Where the vertices went (for the mouth interior): forward-deform them exactly.
        p = self.landmarks
        rigid_v = self._rigid(p[:, :2] + d_vertices, p[:, 2], pose) * self._vertex_head_weight[:, None]
        points = p[:, :2] + d_vertices + rigid_v
        rest = self.teeth_rest
        teeth_line = rest + self._rigid(rest, p[TEETH_LINE, 2], pose) * self._vertex_head_weight[TEETH_LINE, None]
        return RigFrame(map_x=full[..., 0], map_y=full[..., 1], points=points, teeth_line=teeth_line)
