"""The landmark rig: ARKit blendshape weights + head pose → a dense warp of the portrait.

How it works (the CPU renderer's core):
1. At set-up, every blendshape channel gets a *basis*: a displacement of each face-mesh vertex
   in pixels at weight 1, written in a face-local frame (x along the eyes, y down the face,
   unit = inter-ocular distance) so it fits any face size and in-plane tilt. Channels move a few
   handle vertices (lip lines, lids, brows, mouth corners) and spread to nearby skin with a
   Gaussian falloff; vertices across a boundary (upper vs lower lip) are pinned so they do not
   drag each other.
2. Per frame, vertex displacements are a weighted sum of the bases (plus the lip-closing term,
   which depends on the jaw), densified over a triangle mesh (face mesh + rings of still points;
   those just beside the face let its edge slide past) by precomputed barycentric weights on a
   half-resolution grid, then smoothed.
3. Head rotation is a rigid 3-D rotation of every pixel about a pivot behind the face, using a
   depth map from the mesh's z; its weight falls off down the neck and out beside the lower
   face, so the shoulders stay put.
4. The total forward field is limited to the person (plus a small margin) by a matte, so the
   background never moves, then inverted by fixed-point iteration into a backward map for
   cv2.remap.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from ..face import mesh as L
from ..face.geometry import UPPER_LIP_SHARE_OF_CLOSING, FaceGeometry
from ..types import BLENDSHAPE_INDEX
from .actions import FacialAction, actions_by_channel

# Jaw drop of the lower lip at jawOpen = 1, in inter-ocular distances (the table's jawOpen row).
JAW_DROP = 0.30
# A face triangle may shrink to this share of its rest area, never less (nor flip).
MIN_AREA = 0.1
# The channels speech moves the mouth with, kept whole while an expression is scaled back.
SPEECH_CHANNELS = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker")
# The most the rounded lips may narrow the mouth (a share of its width).
MAX_NARROWING = 0.3
# How far around an output pixel (IOD) the field's largest movement bounds where its source lies.
INVERSE_REACH = 0.1
# The backward map: a source that misses its output pixel by more than SOLVED_PX after the Newton
# steps is solved again with the field applied in CONTINUATION stages, CONTINUATION_STEPS each.
SOLVED_PX = 0.5
CONTINUATION = (0.25, 0.5, 0.75, 1.0)
CONTINUATION_STEPS = 3
MIN_VISIBLE_AREA = 0.0002  # in IOD²: smaller mesh triangles are not checked for folds
MIN_VISIBLE_PIXELS = 1.0  # a fold in a triangle smaller than this (pixels²) is never seen
CORNER_DROP = 0.45  # the mouth corners drop this fraction of the jaw's drop
TEETH_LINE = np.array(L.INNER_UPPER_LINE)
BROW_CHANNELS = ("browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft",
                 "browDownRight")
GLASSES_BROW_GAIN = 0.3
SKIN_SMOOTHING = 0.05  # the skin's extra smoothing of the expression field (IOD)
# Beyond the side of the face from the mouth down (in frontal IODs, see FRONTAL_FACE_HEIGHT):
# from here the head's turn fades out, and from here on it does not reach (the shoulders).
SHOULDER_CLEARANCE = (0.25, 0.65)
FRONTAL_FACE_HEIGHT = 1.4  # nose bridge to chin in IODs, on a face seen from the front
# Beside the face (where the face oval's edge is within this cosine of vertical), the
# expression's movement fades out within FACE_EDGE_SLIDE (IOD) outside the oval.
SIDE_OF_FACE = 0.7
SIDE_ABOVE_CHIN = 0.6  # ... and above this share of the way from the mouth down to the chin
FACE_EDGE_SLIDE = 0.1


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
    def __init__(self, geometry: FaceGeometry, image_size: tuple[int, int], matte: np.ndarray,
                 rest_expression: np.ndarray | None = None, field_scale: float = 0.5,
                 brow_gain: float = 1.0):
        self.width, self.height = image_size
        self.geometry = geometry
        # Per-channel gain: glasses in front of the brows cannot bend, so a bespectacled
        # portrait moves its brows less (the warp would drag the frames along).
        self.channel_gain = np.ones(len(BLENDSHAPE_INDEX), np.float32)
        for name in BROW_CHANNELS:
            self.channel_gain[BLENDSHAPE_INDEX[name]] = brow_gain
        self.landmarks = geometry.landmarks
        self.n_face = len(self.landmarks)
        self.iod, self.ex, self.ey = geometry.iod, geometry.ex, geometry.ey
        self.mouth_center, self.u, self.v = geometry.mouth_center, geometry.u, geometry.v
        self.mouth_half_width = geometry.mouth_half_width
        # Weights the photo already shows (e.g. its smile): deformation is relative to them.
        self.rest_expression = (np.zeros(len(BLENDSHAPE_INDEX), np.float32) if rest_expression is None
                                else np.asarray(rest_expression, np.float32))
        self._field_scale = field_scale
        self._speech_channels = [BLENDSHAPE_INDEX[n] for n in SPEECH_CHANNELS]
        self._narrowing_channels = [(BLENDSHAPE_INDEX[name], a.move[0])
                                    for name, a in actions_by_channel().items()
                                    if a.region == "mouth_narrow"]
        self._setup_mesh()
        self._setup_bases()
        self._setup_rest()
        self._setup_fold_guard()
        self._setup_rigid(matte)

    # ---------------------------------------------------------------- set-up
    def _to_px(self, local: np.ndarray) -> np.ndarray:
        """Local (du, dv) displacements in IOD units → pixel (dx, dy)."""
        return self.geometry.to_px(local)

    def _setup_mesh(self) -> None:
        p = self.landmarks[:, :2]
        oval = p[list(L.FACE_OVAL)]
        center = p.mean(axis=0)
        ring = [center + (oval - center) * s for s in (1.7, 2.4)]
        w, h = self.width, self.height
        border = [(x, y) for x in np.linspace(0, w - 1, 9) for y in (0, h - 1)]
        border += [(x, y) for y in np.linspace(0, h - 1, 9)[1:-1] for x in (0, w - 1)]
        # Last in the ring, so that `_ring_displacement` finds them at its end.
        self.ring = np.vstack(ring + [np.array(border, dtype=np.float64),
                                      self._beside_the_face_ring()])
        self._setup_still_points(len(self.ring) - len(self._side_oval))
        self.vertices = np.vstack([p, self.ring])
        tri = Delaunay(self.vertices)
        self.triangles = tri.simplices
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

    def _beside_the_face_ring(self) -> np.ndarray:
        """Points just outside the face's sides, from the temples down to where the jaw
        turns under the chin. Hair, ears, glasses' arms and background beside the face are
        not attached to the skin the brows, cheeks and jaw move: the face's edge slides past
        them, and pushes them aside only where it moves outwards (`_ring_displacement`).
        Without these the movement faded out over the whole gap to the outer ring: hair
        hanging beside the jaw bent with every word, and hair at the temples rose with the
        brows. Below the chin it still fades slowly (a beard hangs from the chin and moves
        with it)."""
        g = self.geometry
        ids = np.array(L.FACE_OVAL)
        uv = np.stack([g.u[ids], g.v[ids]], axis=1)
        tangent = np.roll(uv, -1, axis=0) - np.roll(uv, 1, axis=0)
        tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
        above_chin = uv[:, 1] < SIDE_ABOVE_CHIN * g.v[L.CHIN]
        normal = np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)
        normal *= np.sign(np.sum(normal * (uv - uv.mean(axis=0)), axis=1))[:, None]
        normal = g.to_px(normal) / self.iod  # unit, in pixels
        points = self.landmarks[ids, :2] + FACE_EDGE_SLIDE * self.iod * normal
        # On a turned face the far cheek, not the oval, is the face's edge: a point beside
        # the oval there would lie on the cheek.
        hull = cv2.convexHull(self.landmarks[:, :2].astype(np.float32))
        outside = np.array([cv2.pointPolygonTest(hull, (float(x), float(y)), True)
                            for x, y in points]) < -0.5 * FACE_EDGE_SLIDE * self.iod
        side = (np.abs(tangent[:, 1]) > SIDE_OF_FACE) & above_chin & outside
        self._side_oval, self._side_normal = ids[side], normal[side]
        # Towards the chin the ring follows the face's edge more and more, into the slow
        # fade below it: a still point beside the jaw's lowest part, next to the chin that
        # drops furthest, would fold the skin between them.
        self._side_follows = _smoothstep(uv[side, 1], 0.0, SIDE_ABOVE_CHIN * g.v[L.CHIN])
        return points[side]

    def _setup_still_points(self, count: int) -> None:
        """For the first `count` ring points (the outer rings and the frame's edge): the face's
        edge point nearest each, and the way from it, for `_ring_displacement`."""
        oval = np.array(L.FACE_OVAL)
        gaps = self.ring[:count, None, :] - self.landmarks[oval, :2][None]
        nearest = np.argmin(np.hypot(gaps[..., 0], gaps[..., 1]), axis=1)
        away = gaps[np.arange(count), nearest]
        self._still_gap = np.maximum(np.hypot(away[:, 0], away[:, 1]), 1e-6)
        self._still_oval = oval[nearest]
        self._still_away = away / self._still_gap[:, None]

    def _ring_displacement(self, d_vertices: np.ndarray) -> np.ndarray:
        """The still ring's movement for these face-vertex displacements: a point moves only
        where the face's edge would squeeze the band between them to less than half its width,
        pushed away by as much more as the edge comes. Beside the face that is the jaw dropping
        where its edge slants; at the frame's edge, a chin close to a tight photo's bottom
        (held still there, a dropping jaw would fold the skin under the chin, and the fold
        guard would take the expression back at every wide-open sound)."""
        out = np.zeros((len(self.ring), 2), np.float32)
        n = len(self._still_gap)
        towards = np.einsum("ij,ij->i", d_vertices[self._still_oval], self._still_away)
        out[:n] = (np.maximum(towards - 0.5 * self._still_gap, 0.0)[:, None]
                   * self._still_away)
        edge = d_vertices[self._side_oval]
        outwards = np.einsum("ij,ij->i", edge, self._side_normal)
        push = np.maximum(outwards - 0.5 * FACE_EDGE_SLIDE * self.iod, 0.0)
        slide = push[:, None] * self._side_normal
        t = self._side_follows[:, None]
        out[len(out) - len(edge):] = (1 - t) * slide + t * edge
        return out

    def densify(self, vertex_values: np.ndarray) -> np.ndarray:
        """Per-vertex values (V, C) → field grid (fh, fw, C), piecewise linear."""
        vals = vertex_values[self._tri_vertices]  # (npix, 3, C)
        out = np.einsum("nk,nkc->nc", self._bary, vals.astype(np.float32))
        return out.reshape(self.fh, self.fw, -1)

    # ------------------------------------------------------------- the bases
    def _spread(self, handles: dict[int, tuple[float, float]], sigma: float,
                pins: tuple[int, ...] = (), region: np.ndarray | None = None,
                pin_reach: float | None = None) -> np.ndarray:
        """Handle displacements (local units) spread to nearby vertices with a Gaussian falloff;
        pinned vertices stay still and hold back their neighbours (within `pin_reach`, default
        `sigma`). Returns (478, 2) local units."""
        idx = np.array(list(handles.keys()) + [i for i in pins if i not in handles], dtype=int)
        disp = np.array(list(handles.values()) + [(0.0, 0.0)] * (len(idx) - len(handles)),
                        dtype=np.float64)
        if sigma <= 0:
            spread = np.zeros((self.n_face, 2))
        else:
            uv = np.stack([self.u, self.v], axis=1)
            d2 = ((uv[:, None, :] - uv[None, idx, :]) ** 2).sum(-1)
            reach = np.full(len(idx), sigma)
            reach[len(handles):] = sigma if pin_reach is None else pin_reach
            k = np.exp(-d2 / (2 * reach[None, :] ** 2)) + 1e-12
            spread = (k @ disp) / k.sum(axis=1, keepdims=True) * k.max(axis=1, keepdims=True)
        spread[idx] = disp
        if region is not None:
            spread *= region[:, None]
        return spread

    def _holds(self, which: str, side: str | None) -> tuple[int, ...]:
        """Points an action keeps still (see FacialAction.holds)."""
        eyes = [L.EYE[s] for s in ((side,) if side else L.EYE)]
        iris = tuple(i for ids in L.IRIS for i in ids)
        if which == "lips":
            return (L.UPPER_LIP_OUTER, L.UPPER_LIP_INNER, L.LOWER_LIP_INNER, L.LOWER_LIP_OUTER)
        if which == "eyes":
            return iris + tuple(i for e in eyes for i in e["upper"] + e["lower"] + e["corners"]
                                + e["lower2"])
        if which == "iris":
            return iris + tuple(i for e in eyes for i in e["corners"])
        if which == "lids":
            return tuple(i for e in eyes for i in e["upper"] + e["lower"] + e["corners"])
        if which == "eye_corners":
            return tuple(i for e in eyes for i in e["corners"] + e["lower3"])
        if which == "none":
            return ()
        raise ValueError(f"unknown hold set {which}")

    def _setup_bases(self) -> None:
        """One basis per blendshape channel, built from the facial-action table (actions.py)."""
        B = np.zeros((len(BLENDSHAPE_INDEX), self.n_face, 2))
        side_left = _smoothstep(self.u, -0.05, 0.05)  # subject's left = image right
        self._side = {"Left": side_left, "Right": 1 - side_left, "": np.ones(self.n_face)}
        self._iris_for_eye = {s: self.geometry.iris_of(s) for s in L.EYE}
        self._jaw_weight = self._jaw_weights()
        for channel, action in actions_by_channel().items():
            side = next((s for s in ("Left", "Right") if channel.endswith(s) and action.sided), "")
            B[BLENDSHAPE_INDEX[channel]] = self._action_basis(channel, action, side)
        self._bases_px = self._to_px(B).astype(np.float32)  # (52, 478, 2)
        size = np.hypot(B[..., 0], B[..., 1])
        self._basis_reach = size > 0.05 * np.maximum(size.max(axis=1, keepdims=True), 1e-9)
        self._close_px = self._to_px(self._lip_close_basis()).astype(np.float32)

    def _action_basis(self, channel: str, a: FacialAction, side: str) -> np.ndarray:
        """The displacement (478, 2, local IOD units) of one table row at weight 1."""
        du, dv = a.move
        out_sign = {"Left": 1.0, "Right": -1.0, "": 1.0}[side]
        pins = self._holds(a.holds, side or None)
        mask = self._side[side][:, None]
        eye = L.EYE.get(side)
        region = a.region
        if region == "jaw":
            return self._jaw_basis(du, dv)
        if region in ("brow_inner", "brow_outer", "brow"):
            eyes = [eye] if eye else list(L.EYE.values())
            h = {}
            for e, s in ((e, s) for s in L.EYE for e in [L.EYE[s]] if e in eyes):
                sign = 1.0 if s == "Left" else -1.0
                ids = e["brow_inner"] if region == "brow_inner" else e["brow_outer"] if region == "brow_outer" else e["brow"]
                if region == "brow":
                    # AU4 pulls the brows down and together at the inner ends (the corrugator
                    # sits there): the brow tilts into a frown, its outer end moving least.
                    ids = list(ids)
                    across = np.abs(self.u[ids] - self.u[list(e["brow_inner"])].mean())
                    t = np.clip(across / max(float(across.max()), 1e-6), 0, 1)
                    h.update({i: (sign * du * (1.3 - 0.8 * ti), dv * (1.3 - 0.8 * ti))
                              for i, ti in zip(ids, t)})
                else:
                    h.update({i: (sign * du, dv) for i in ids})
                if region == "brow":
                    h.update(self._lid_skin_under_lowered_brow(e, h))
            return self._spread(h, a.reach, pins=pins)
        if region in ("upper_lid", "lower_lid", "blink", "iris"):
            return self._eye_basis(region, side, du, dv, a.reach, pins)
        if region == "cheek":
            return self._cheek_lift(side, -dv, a.reach)
        if region == "nose_wing":
            return self._nose_sneer(side, dv, a.reach)
        if region == "cheek_side":
            puff = (np.abs(self.u) > 1.2 * self.mouth_half_width) & (self.v > -0.45) & (self.v < 0.35)
            return np.stack([np.sign(self.u) * du * puff, np.zeros(self.n_face)], axis=1)
        if region == "lip_line_to_corner":
            return self._lip_line(side, du, dv, a.reach, a.bend) * mask
        if region in ("upper_lip", "lower_lip", "both_lips"):
            upper = (du, dv) if region in ("upper_lip", "both_lips") else None
            lower = ((du, -dv) if region == "both_lips" else (du, dv)) if region != "upper_lip" else None
            return self._lips(upper, lower, a.inner, a.reach, per_thickness=a.unit == "lip") * mask
        if region == "mouth_narrow":
            return self._narrowing(du, dv, a.reach)
        if region == "mouth_shift":
            mouth = np.exp(-((self.u / (2.2 * self.mouth_half_width)) ** 2 + (self.v / 0.35) ** 2))
            return np.stack([du * mouth, np.zeros(self.n_face)], axis=1)
        raise ValueError(f"no basis for region {region} ({channel})")

    def _jaw_basis(self, du: float, dv: float) -> np.ndarray:
        """Everything below the mouth line moves with the jaw, less towards the ears."""
        return np.stack([du * self._jaw_weight, dv * self._jaw_weight], axis=1)

    def _jaw_weights(self) -> np.ndarray:
        u, v = self.u, self.v
        upper_lip = L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER
        lower_lip = L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER
        corners = L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER
        # "Below" is measured from the lower lip's own line (level with the corners beyond
        # them): a smiling photo raises its corners, and skin beside the lower lip measured
        # from the mouth centre's height would stay put while the lip dropped, shearing the
        # cheek into a zigzag.
        chin_v = v[L.CHIN]
        lateral = 1 - _smoothstep(np.abs(u), 0.4, 1.0)
        below = v - self._contour_v(L.INNER_LOWER_LINE, u)
        jaw_w = _smoothstep(below, 0.0, 0.25 * chin_v) * lateral
        jaw_w[below < -0.02] = 0.0
        # The lower lip hangs from the corners: it drops most in the middle, so the opening
        # is a lens, not a box with vertical sides. Every vertex of the lower lip (the mesh's
        # mid-lip rows too) gets this, or those left on the chin ramp would fold the lip.
        lower_idx = list(lower_lip) + self._lower_lip_interior()
        jaw_w[lower_idx] = CORNER_DROP + (1 - CORNER_DROP) * self._hung_from_corners(lower_idx)
        jaw_w[list(corners)] = CORNER_DROP
        # The corners pull the upper lip beside them down too (it is stretched, not lifted),
        # so the opening narrows to a point at each corner instead of a box with dark wings.
        upper_idx = list(upper_lip)
        from_centre = np.clip(np.abs(self.geometry.across_mouth(u[upper_idx])), 0, 1)
        jaw_w[upper_idx] = CORNER_DROP * from_centre ** 2
        return jaw_w

    def _lip_close_basis(self) -> np.ndarray:
        """Lips closing against an open jaw (used as jawOpen * mouthClose, see
        vertex_displacement): each lip meets the other halfway, the lower lip going most."""
        drop = JAW_DROP
        close = {i: (0.0, 0.38 * drop) for i in L.LIP_INNER_UPPER}
        close.update({i: (0.0, 0.3 * drop) for i in L.LIP_OUTER_UPPER})
        close.update({i: (0.0, -0.62 * drop) for i in L.LIP_INNER_LOWER})
        close.update({i: (0.0, -0.55 * drop) for i in L.LIP_OUTER_LOWER})
        close.update({i: (0.0, -0.1 * drop) for i in L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER})
        return self._spread(close, 0.05)

    def _lips(self, upper, lower, inner_scale: float, sigma: float,
              per_thickness: bool = False) -> np.ndarray:
        """One or both lips moved as a whole (outer contour by the move, inner by inner_scale
        of it); a lip that does not move is held still so it is not dragged along. With
        `per_thickness` dv is a share of the lip's own thickness at each point (a press or a
        lip suck thins a lip by a part of what it has: a thin lip, or one mostly under a
        moustache, would otherwise vanish)."""
        h: dict[int, tuple[float, float]] = {}
        pins: tuple[int, ...] = ()
        for move, outer, inner in ((upper, L.LIP_OUTER_UPPER, L.LIP_INNER_UPPER),
                                   (lower, L.LIP_OUTER_LOWER, L.LIP_INNER_LOWER)):
            if move is None:
                pins += inner + outer
                continue
            for ids, scale in ((outer, 1.0), (inner, inner_scale)):
                size = (self._lip_thickness(ids, outer, inner) if per_thickness
                        else self._hung_from_corners(ids))
                h.update({i: (move[0] * scale, move[1] * scale * t) for i, t in zip(ids, size)})
        return self._spread(h, sigma, pins=pins)

    def _hung_from_corners(self, ids) -> np.ndarray:
        """How far each lip point (`ids`) moves when its lip is raised or lowered as a whole:
        a lip hangs from the mouth's corners, so it moves most in the middle and not at all at
        the corners, in a smooth curve (an even move bends it sharply beside each corner, and a
        lowered lip turns into a V)."""
        across = self.geometry.across_mouth(self.u[list(ids)])
        return np.sqrt(np.clip(1 - across ** 2, 0, 1))

    def _lip_thickness(self, ids, outer, inner) -> np.ndarray:
        """The lip's thickness (IOD, outer to inner contour) at each point's place across."""
        u = self.u[list(ids)]
        return np.abs(self._contour_v(outer, u) - self._contour_v(inner, u))

    def _lid_skin_under_lowered_brow(self, eye: dict, brow: dict[int, tuple[float, float]]
                                     ) -> dict[int, tuple[float, float]]:
        """The lowered brow pushes the skin below it over the lid's fold, and the lid's margin
        stays (it belongs to the eye): each point of that skin moves its share of the brow's
        movement above it, by where it lies between the margin and the brow's lower edge, so
        the skin there is squeezed evenly. Fixed shares by row would squeeze the two rows above
        the lid's fold into each other where they lie close (over deep-set eyes 0.003-0.02 IOD
        apart) and fold them, and the fold guard would stop the brow short."""
        lower_edge = [i for i in eye["brow"] if i not in eye["brow_top"]]
        edge_u = self.u[lower_edge]
        order = np.argsort(edge_u)
        moves = np.array([brow[i] for i in lower_edge])[order]
        out = {}
        for i in eye["upper2"] + eye["upper3"]:
            margin = float(self._contour_v(eye["upper"], self.u[i]))
            top = float(self._contour_v(lower_edge, self.u[i]))
            share = float(np.clip((margin - self.v[i]) / max(margin - top, 1e-6), 0.0, 1.0))
            du = np.interp(self.u[i], edge_u[order], moves[:, 0])
            dv = np.interp(self.u[i], edge_u[order], moves[:, 1])
            out[i] = (share * du, share * dv)
        return out

    def _contour_v(self, contour, u: np.ndarray) -> np.ndarray:
        """The height (v) of a contour through the mesh points `contour`, at places `u` across
        the face (linear between its points, level beyond its ends)."""
        ids = np.asarray(contour)
        order = np.argsort(self.u[ids])
        return np.interp(u, self.u[ids][order], self.v[ids][order])

    def _narrowing(self, amount: float, lift: float, sigma: float) -> np.ndarray:
        """Pucker/funnel: the whole mouth narrows towards its centre (corners most) and the lips
        push forward, the upper up and the lower down by `lift`. Squeezing every lip point, not
        just the corners, keeps the lip line ordered."""
        corners = L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER
        mouth_pts = (L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER + L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER
                     + corners)
        # Each point moves `amount` of its own distance to the mouth's centre: the mouth
        # narrows by a share of its width, so a small or foreshortened mouth (a turned head)
        # is never squeezed past its centre.
        squeeze = -self.u[list(mouth_pts)]
        up = set(L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER)
        low = set(L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER)
        outer = set(L.LIP_OUTER_UPPER + L.LIP_OUTER_LOWER)
        h = {}
        for i, k in zip(mouth_pts, squeeze):
            # Narrowed lips bunch up and push forward: the outer contour moves away from the
            # lip line, so the lips thicken as much as they narrow and keep their area.
            thicken = 0.8 * abs(amount * float(k)) if i in outer else 0.0
            dv = -(lift + thicken) if i in up else (lift + thicken) if i in low else 0.0
            h[int(i)] = (amount * float(k), dv)
        return self._spread(h, sigma)

    def _lip_line(self, s: str, du: float, dv: float, sigma: float, bend: float) -> np.ndarray:
        """A lip-corner action (AU12 pulls the corner up and out, AU15 down, AU20 out): the
        corner moves by (du, dv) and the lip line follows it smoothly, stretching evenly
        across (du × the share t of the half-mouth) and bending most near the corner (dv ×
        t ** bend). Upper and lower lips move together at each point along the mouth,
        so they neither part nor cross, and a smile taken off a photo and a frown put on it
        bend the same line instead of kinking it at the corners."""
        lips = (L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER + L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER
                + L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER)
        sign = 1.0 if s == "Left" else -1.0
        # A corner's sideways pull is foreshortened with its half of the mouth (a turned head's
        # far corner moves less across the picture); its rise or fall is not.
        du *= self.geometry.mouth_half(s) / max(self.mouth_half_width, 1e-6)
        # Lips pulled wider get thinner (their outer edges come towards the line where they
        # meet); without it a stretched mouth reads as swollen lips.
        thin = 0.35 * max(du, 0.0)
        upper_outer, lower_outer = set(L.LIP_OUTER_UPPER), set(L.LIP_OUTER_LOWER)
        h = {}
        for i in lips:
            t = float(np.clip(sign * self.geometry.across_mouth(self.u[i]), 0.0, 1.0))
            towards_line = thin * t * (1 - t) * 4 * (1 if i in upper_outer else -1 if i in lower_outer else 0)
            h[int(i)] = (sign * du * t, dv * t ** bend + towards_line)
        return self._spread(h, sigma)

    def _lower_lip_interior(self) -> list[int]:
        return self._lip_interior(L.INNER_LOWER_LINE, L.LIP_OUTER_LOWER)

    def _upper_lip_interior(self) -> list[int]:
        return self._lip_interior(L.INNER_UPPER_LINE, L.LIP_OUTER_UPPER)

    def _lip_vertices(self) -> tuple[list[int], list[int]]:
        """Every vertex of the upper lip and of the lower lip (contours and the rows inside)."""
        return (list(L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER) + self._upper_lip_interior(),
                list(L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER) + self._lower_lip_interior())

    def _lip_interior(self, inner_line: tuple[int, ...], outer: tuple[int, ...]) -> list[int]:
        """The mesh's vertices inside one lip: between its inner and outer contour, within the
        mouth's width, the contours themselves excluded."""
        u, v = self.u, self.v
        near = self._contour_v(inner_line, u)
        far = self._contour_v((L.MOUTH_RIGHT,) + outer + (L.MOUTH_LEFT,), u)
        span = (u > min(u[78], u[308])) & (u < max(u[78], u[308]))
        inside = span & (v > np.minimum(near, far)) & (v < np.maximum(near, far))
        contours = (L.LIP_INNER_LOWER + L.LIP_OUTER_LOWER + L.LIP_INNER_UPPER + L.LIP_OUTER_UPPER
                    + L.MOUTH_CORNERS_OUTER + L.MOUTH_CORNERS_INNER)
        inside[list(contours)] = False
        return [int(i) for i in np.nonzero(inside[: self.n_face])[0]]

    def _cheek_lift(self, s: str, amount: float, reach: float) -> np.ndarray:
        """AU6: the cheek mound (below the eye, above the mouth corner, beside the nose) rises
        and pushes the lower lid up a little; the upper lid does not move."""
        eye = L.EYE[s]
        lower_lid_v = self.v[list(eye["lower"])].mean()
        cheek_u = self.u[list(eye["lower"])].mean()
        cheek_v = lower_lid_v + 0.35 * (0 - lower_lid_v)
        w = np.exp(-(((self.u - cheek_u) / reach) ** 2 + ((self.v - cheek_v) / (0.9 * reach)) ** 2))
        w[list(eye["upper"] + eye["corners"])] = 0.0
        w[list(self._iris_for_eye[s])] = 0.0
        w[list(eye["lower"])] *= 0.6
        return np.stack([np.zeros(self.n_face), -amount * w], axis=1)

    def _nose_sneer(self, s: str, lift: float, reach: float) -> np.ndarray:
        sign = 1.0 if s == "Left" else -1.0
        nose_v = self.v[L.NOSE_TIP]
        w = np.exp(-(((self.u - sign * 0.18) / reach) ** 2 + ((self.v - nose_v) / reach) ** 2))
        return np.stack([np.zeros(self.n_face), lift * w], axis=1)

    def _eye_basis(self, region: str, s: str, du: float, dv: float, reach: float,
                   pins: tuple[int, ...]) -> np.ndarray:
        """Lid and gaze actions, sized by this eye's own lid gap (dv) and width (du)."""
        eye = L.EYE[s]
        upper, lower = list(eye["upper"]), list(eye["lower"])
        travel = self.geometry.lid_travel(s)
        below = self.v[upper] + travel
        gap = float(max(travel.mean(), 1e-4))
        iris = self._iris_for_eye[s]
        if region == "blink":
            closed_line = below - (1 - dv) * travel
            h = {i: (0.0, float(cl - self.v[i])) for i, cl in zip(upper, closed_line)}
            h.update({i: (0.0, -0.12 * gap) for i in lower})
            h.update({i: (0.0, 0.55 * gap) for i in eye["upper2"]})
            h.update({i: (0.0, 0.18 * gap) for i in eye["upper3"]})
            # The eye's content squeezes towards the lower lid instead of folding over.
            iris_v = self.v[list(iris)]
            top, bottom = self.v[upper].min(), below.max()
            t = np.clip((iris_v - top) / max(bottom - top, 1e-6), 0, 1)
            h.update({i: (0.0, float((1 - ti) * gap * dv)) for i, ti in zip(iris, t)})
            return self._spread(h, reach, pins=pins)
        if region == "upper_lid":
            h = {i: (0.0, dv * gap) for i in upper}
            h.update({i: (0.0, 0.45 * dv * gap) for i in eye["upper2"]})
            return self._spread(h, reach, pins=pins)
        if region == "lower_lid":
            h = {i: (0.0, dv * gap) for i in lower}
            h.update({i: (0.0, 0.55 * dv * gap) for i in eye["lower2"]})
            h.update({i: (0.0, -0.3 * dv * gap) for i in upper})
            return self._spread(h, reach, pins=pins)
        # Gaze: the iris slides; "Out" is towards the subject's own side.
        eye_width = abs(self.u[eye["corners"][0]] - self.u[eye["corners"][1]])
        out_sign = 1.0 if s == "Left" else -1.0
        h = {i: (out_sign * du * eye_width, dv * gap) for i in iris}
        return self._spread(h, reach, pins=pins)

    def _setup_rest(self) -> None:
        """Rest pose: the photo's own open or smiling mouth closed by its lips. Each lip moves
        as a whole (inner and outer contours alike, so it keeps its thickness and texture) until
        the inner contours meet; the upper lip comes down UPPER_LIP_SHARE_OF_CLOSING of the gap,
        the lower lip and the skin below it come up the rest. Whatever the photo showed between
        them is squeezed into the line where the lips meet."""
        up, lo = np.array(L.LIP_INNER_UPPER), np.array(L.LIP_INNER_LOWER)
        gap_at = np.maximum(self.v[lo] - self.v[up], 0.0)
        self.rest_gap = float(gap_at.max())
        order = np.argsort(self.u[up])
        corners_u = self.u[[78, 308]]
        us = np.concatenate([[corners_u.min()], self.u[up][order], [corners_u.max()]])
        gs = np.concatenate([[0.0], gap_at[order], [0.0]])

        def gap(ids) -> np.ndarray:
            return np.interp(self.u[list(ids)], us, gs)

        upper_ids, lower_ids = self._lip_vertices()
        down = UPPER_LIP_SHARE_OF_CLOSING
        h = {int(i): (0.0, float(down * g)) for i, g in zip(upper_ids, gap(upper_ids))}
        h.update({int(i): (0.0, float((down - 1) * g)) for i, g in zip(lower_ids, gap(lower_ids))})
        self._lip_pairs = (up, lo)
        self._outer_lower = np.array(L.LIP_OUTER_LOWER)
        # Where each inner-lip point sits between the inner corners (0 = image-left corner).
        left, right = self.u[78], self.u[308]
        self._inner_lip = np.concatenate([up, lo])
        self._inner_lip_t = (self.u[self._inner_lip] - left) / max(right - left, 1e-6)
        self._rest_px = self._to_px(self._spread(h, 0.08)) if self.rest_gap > 0 else \
            np.zeros((self.n_face, 2))
        # The upper teeth hang from the *neutral* upper-lip line: on a smiling photo the raised
        # lip corners are the smile, not the teeth, and would bend the teeth into a grin after
        # the smile is taken away (sad, surprised).
        neutral = np.tensordot(-self.rest_expression * self.channel_gain,
                               self._bases_px[:, TEETH_LINE], axes=1)
        self.teeth_rest = self.landmarks[TEETH_LINE, :2] + self._rest_px[TEETH_LINE] + neutral

    def _setup_fold_guard(self) -> None:
        """The triangles whose orientation must survive every frame: the whole face mesh except
        the mouth's and the eyes' openings, which close (lips meeting, a blink) by design."""
        openings = [set(L.INNER_LIP_RING)]
        for s, eye in L.EYE.items():
            openings.append(set(eye["upper"] + eye["lower"] + eye["corners"]
                                + self._iris_for_eye[s]))
        tri = self.triangles
        inside = np.zeros(len(tri), bool)
        for ids in openings:
            inside |= np.isin(tri, list(ids)).all(axis=1)
        # A triangle with a corner on each lip bridges the mouth's opening too: on a photo with
        # closed lips it is a sliver along their seam, and it turns over as soon as the lips
        # part a little askew. Guarded, it made the relaxation below pull the upper lip's
        # middle down towards the lower lip, a V hanging into the open mouth.
        upper, lower = self._lip_vertices()
        bridging = np.isin(tri, upper).any(axis=1) & np.isin(tri, lower).any(axis=1)
        inside |= bridging
        area = self._signed_areas(self.vertices[:, :2], tri)
        # Slivers smaller than a few pixels show nothing a viewer could see fold.
        visible = np.abs(area) > MIN_VISIBLE_AREA * self.iod ** 2
        keep = (~inside) & visible & (tri < self.n_face).any(axis=1)
        self._guarded = tri[keep]
        self._guarded_area = area[keep]
        # On a small face (25-30 pixels between the eyes) many guarded triangles are under a
        # pixel. The relaxation still smooths them, but one left folded is not seen, and must
        # not scale the expression back (sub-pixel slivers at the mouth's corners stopped the
        # speech itself).
        self._seen = np.abs(self._guarded_area) > MIN_VISIBLE_PIXELS
        # Each vertex's neighbours along the mesh's edges, for relaxing a fold away.
        n = len(self.vertices)
        adjacency = np.zeros((n, n), np.float32)
        for a, b in ((0, 1), (1, 2), (2, 0)):
            adjacency[tri[:, a], tri[:, b]] = 1
            adjacency[tri[:, b], tri[:, a]] = 1
        # The lips part: neither is relaxed towards the other across the opening.
        adjacency[np.ix_(upper, lower)] = 0
        adjacency[np.ix_(lower, upper)] = 0
        self._neighbour_mean = (adjacency / np.maximum(adjacency.sum(1, keepdims=True), 1))[
            : self.n_face]
        self._setup_lip_rows()
        self._rest_px = self._unfold(self._coherent_lips(self._rest_px.astype(np.float32)))
        # What still folds at rest is the photo's opening squeezed shut beside the corners:
        # the rest pose is the reference the frames are checked against, not something to undo.
        settled = np.ones(len(self._guarded), bool)
        settled[self._folded(self._rest_px)] = False
        self._guarded, self._guarded_area = self._guarded[settled], self._guarded_area[settled]
        self._seen = self._seen[settled]

    def _setup_lip_rows(self) -> None:
        """The mesh's rows inside each lip, between its inner and outer contour: each follows
        the two contours at its own place across the mouth and depth through the lip, so a lip
        moves as one piece of tissue and never folds inside itself."""
        rows, weights = [], []
        contours = {}
        for name, inner, outer, interior in (
                ("upper", L.INNER_UPPER_LINE, (L.MOUTH_RIGHT,) + L.LIP_OUTER_UPPER + (L.MOUTH_LEFT,),
                 self._upper_lip_interior()),
                ("lower", L.INNER_LOWER_LINE, (L.MOUTH_RIGHT,) + L.LIP_OUTER_LOWER + (L.MOUTH_LEFT,),
                 self._lower_lip_interior())):
            contours[name] = (np.array(inner), np.array(outer))
            for i in interior:
                w = np.zeros(self.n_face, np.float32)
                wi = self._along(np.array(inner), self.u[i])
                wo = self._along(np.array(outer), self.u[i])
                v_in, v_out = wi @ self.v, wo @ self.v
                t = float(np.clip((self.v[i] - v_in) / (v_out - v_in), 0, 1)) if v_out != v_in else 0.5
                w += (1 - t) * wi + t * wo
                rows.append(i)
                weights.append(w)
        self._lip_rows = np.array(rows, int)
        self._lip_row_weights = np.array(weights, np.float32).reshape(len(rows), self.n_face)

    def _along(self, contour: np.ndarray, u: float) -> np.ndarray:
        """Weights (478,) of the two contour points either side of `u` (linear interpolation)."""
        cu = self.u[contour]
        order = np.argsort(cu)
        cu, ids = cu[order], contour[order]
        w = np.zeros(self.n_face, np.float32)
        k = int(np.clip(np.searchsorted(cu, u), 1, len(cu) - 1))
        a, b = cu[k - 1], cu[k]
        t = float(np.clip((u - a) / (b - a), 0, 1)) if b > a else 0.5
        w[ids[k - 1]] += 1 - t
        w[ids[k]] += t
        return w

    def _coherent_lips(self, d: np.ndarray) -> np.ndarray:
        if len(self._lip_rows):
            d[self._lip_rows] = self._lip_row_weights @ d[: self.n_face]
        return d

    @staticmethod
    def _signed_areas(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
        a, b, c = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
        return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))

    def folded_triangles(self, d_vertices: np.ndarray) -> np.ndarray:
        """Indices (into the guarded triangles) of those big enough to be seen that flipped or
        shrank below MIN_AREA of their rest area for these vertex displacements (pixels, 478 × 2)."""
        folded = self._folded(d_vertices)
        return folded[self._seen[folded]]

    def _folded(self, d_vertices: np.ndarray) -> np.ndarray:
        """The same for every guarded triangle, sub-pixel ones included."""
        moved = self.vertices[:, :2].copy()
        moved[: self.n_face] += d_vertices
        moved[self.n_face:] += self._ring_displacement(d_vertices)
        area = self._signed_areas(moved, self._guarded)
        return np.nonzero(area / self._guarded_area < MIN_AREA)[0]

    def _beside_the_lower_face_weight(self) -> np.ndarray:
        """Per grid point: 1 on and near the head; 0 from the mouth down, further than
        SHOULDER_CLEARANCE beyond the side of the face."""
        g = self.geometry
        u, v = g.local(self.grid_xy)
        oval = list(L.FACE_OVAL)
        level = np.abs(g.v[oval]) < 0.35  # the oval's sides around the mouth's height
        right, left = float(g.u[oval][level].min()), float(g.u[oval][level].max())
        # In units of the face's height: a turned face's IOD shrinks in the picture, but the
        # head beside it (ear, hair, the back of the jaw) does not.
        height = float(g.v[L.CHIN] - g.v[L.NOSE_BRIDGE]) / FRONTAL_FACE_HEIGHT
        beyond = np.maximum(right - u, u - left) / max(height, 1.0)
        lo, hi = SHOULDER_CLEARANCE
        aside = _smoothstep(beyond, lo, hi) * _smoothstep(v, -0.1, 0.4)
        return 1 - aside

    def _setup_rigid(self, matte: np.ndarray) -> None:
        """Depth map, pivot and weights for head rotation; the motion-allowed mask."""
        p3 = self.landmarks
        oval_z = float(np.median(p3[list(L.FACE_OVAL), 2]))
        z = np.concatenate([p3[:, 2], np.full(len(self.ring), oval_z)])
        depth = self.densify(z[:, None])[..., 0]
        self._depth = cv2.GaussianBlur(depth, (0, 0), 2.0)
        centre = p3[:, :2].mean(axis=0)
        self._pivot = np.array([*(centre + 0.35 * self.iod * self.ey), oval_z + 0.9 * self.iod])
        # Head weight: 1 on the head, fading down the neck (in face-local "v" below the chin)
        # and, from the mouth down, out to the sides beyond the jaw: a shoulder raised beside the
        # face (a sitter leaning in) belongs to the body and stays put while the head turns.
        # Ears, and hair close beside the face, are within SHOULDER_CLEARANCE; higher up, what
        # is beside the face (a hand or a camera held to it) still moves with the head.
        rel = (self.grid_xy - self.landmarks[L.CHIN, :2]) / self.iod
        below_chin = rel @ self.ey
        self._head_weight = ((1 - _smoothstep(below_chin, 0.1, 1.1))
                             * self._beside_the_lower_face_weight()).astype(np.float32)
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
        """Expression displacement of the 478 face vertices (pixels) for 52 blendshape weights.
        Where a stack of strong actions on an unusual face would fold the skin, the actions
        that move the folding skin are scaled back, as far as needed: the expression stops
        there where the skin would tear, and the rest of the face keeps it whole (a brow
        stopped short over a deep-set eye leaves the angry face's pressed lips as they are).
        Speech keeps moving the mouth: the jaw and lip rounding give way last."""
        w = self._within_narrowing(np.asarray(weights, dtype=np.float32))
        delta = (w - self.rest_expression) * self.channel_gain
        speech = np.zeros_like(delta)
        speech[self._speech_channels] = delta[self._speech_channels]
        jaw = w[BLENDSHAPE_INDEX["jawOpen"]]
        close = min(1.0, float(w[BLENDSHAPE_INDEX["mouthClose"]]))
        d_speech = np.tensordot(speech, self._bases_px, axes=1) + jaw * close * self._close_px
        expression = delta - speech
        d_rest = np.tensordot(expression, self._bases_px, axes=1)
        full = self._settle(d_speech + d_rest + self._rest_px)
        folded = self.folded_triangles(full)
        if not len(folded):
            return full
        there = self._channels_moving(self._guarded[folded]) & (expression != 0)
        if there.any():
            d_there = np.tensordot(expression * there, self._bases_px, axes=1)
            d_elsewhere = d_speech + d_rest - d_there + self._rest_px
            if not len(self.folded_triangles(self._settle(d_elsewhere.copy()))):
                scale = self._largest_unfolded(lambda k: d_elsewhere + k * d_there)
                return self._settle(d_elsewhere + scale * d_there)
        scale = self._largest_unfolded(lambda k: d_speech + k * d_rest + self._rest_px)
        if scale > 0:
            return self._settle(d_speech + scale * d_rest + self._rest_px)
        scale = self._largest_unfolded(lambda k: k * d_speech + self._rest_px)
        return self._settle(scale * d_speech + self._rest_px)

    def _within_narrowing(self, w: np.ndarray) -> np.ndarray:
        """Rounded lips (pucker and funnel, often both: a surprised mouth saying "oo") narrow
        the mouth by at most MAX_NARROWING of its width; more would squeeze the skin beside
        the corners into a crease the warp cannot draw."""
        narrowing = sum(w[i] * share for i, share in self._narrowing_channels)
        if narrowing <= MAX_NARROWING:
            return w
        w = w.copy()
        for i, _ in self._narrowing_channels:
            w[i] *= MAX_NARROWING / narrowing
        return w

    def _channels_moving(self, triangles: np.ndarray) -> np.ndarray:
        """Which channels move any face vertex of these triangles (by more than a twentieth of
        their largest movement; their Gaussian spread reaches further, negligibly)."""
        ids = np.unique(triangles)
        ids = ids[ids < self.n_face]
        return self._basis_reach[:, ids].any(axis=1)

    def _largest_unfolded(self, displacement) -> float:
        """The largest k in [0, 1] (bisected) for which displacement(k) folds nothing."""
        lo, hi = 0.0, 1.0
        for _ in range(7):
            mid = 0.5 * (lo + hi)
            if len(self.folded_triangles(self._settle(displacement(mid)))):
                hi = mid
            else:
                lo = mid
        return lo

    def _settle(self, d: np.ndarray) -> np.ndarray:
        """Lips that meet without crossing, lip tissue moving as one piece, folds relaxed."""
        return self._unfold(self._coherent_lips(self._uncross_lips(d)))

    def _unfold(self, d: np.ndarray, rounds: int = 30) -> np.ndarray:
        """Relaxes folds locally: the vertices of a folding triangle move halfway towards the
        mean of their neighbours' displacements, round after round, until nothing folds. A
        shear between two close vertices (a lip point moving past the skin point beside it)
        becomes a smooth stretch, and the rest of the face keeps its motion."""
        d = np.array(d, dtype=np.float32)
        padded = np.zeros((len(self.vertices), 2), np.float32)
        for _ in range(rounds):
            bad = self._folded(d)
            if not len(bad):
                break
            ids = np.unique(self._guarded[bad])
            ids = ids[ids < self.n_face]
            padded[: self.n_face] = d
            padded[self.n_face:] = self._ring_displacement(d)
            d[ids] = 0.5 * d[ids] + 0.5 * (self._neighbour_mean[ids] @ padded)
        return d

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
        expr = self.densify(np.vstack([d_vertices, self._ring_displacement(d_vertices)]))
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

    def _inverse(self, forward: np.ndarray, iterations: int) -> np.ndarray:
        """The backward map: for each output pixel x, the source s with s + d(s) = x. Newton
        steps (each through the field's local Jacobian) rather than plain fixed-point steps,
        which diverge where the skin is stretched to more than twice its size (beside a
        puckered mouth) and tear the frame into fragments there. Pixels they leave unsolved
        are solved again by continuation (`_solve_gradually`)."""
        fs = self._field_scale
        step = 1.0 / fs
        grads = [np.gradient(forward[..., c], axis=a) / step for c in (0, 1) for a in (1, 0)]
        field = np.dstack([forward] + grads).astype(np.float32)  # d, ∂dx/∂x, ∂dx/∂y, ∂dy/∂x, ∂dy/∂y
        # s = x - d(s), so a source lies no further from its output pixel than the field moves
        # anything near it. Where the skin is squeezed to a line (lids meeting in a blink) the
        # inverse is ill-posed and an unbounded step could land on the brow or the cheek.
        magnitude = np.hypot(forward[..., 0], forward[..., 1]).astype(np.float32)
        near = max(3, int(round(INVERSE_REACH * self.iod * fs)) | 1)
        bound = cv2.dilate(magnitude, np.ones((near, near), np.uint8)) + 1.0
        src = self.grid_xy - forward
        for i in range(iterations):
            f = self._sample(field, src)
            rx = self.grid_xy[..., 0] - src[..., 0] - f[..., 0]
            ry = self.grid_xy[..., 1] - src[..., 1] - f[..., 1]
            if i == iterations - 1:
                unsolved = np.hypot(rx, ry) > SOLVED_PX
            src = src + self._newton_step(f, rx, ry)
        if iterations and unsolved.any():
            src[unsolved] = self._solve_gradually(field, self.grid_xy[unsolved], src[unsolved])
        away = src - self.grid_xy
        length = np.hypot(away[..., 0], away[..., 1])
        return self.grid_xy + away * np.minimum(1.0, bound / np.maximum(length, 1e-6))[..., None]

    def _sample(self, field: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The field (and its Jacobian) at image points, a grid (H, W, 2) or a list (N, 2),
        bilinear on the field grid."""
        fs = self._field_scale
        if points.ndim == 2:  # as rows of 256 (a remap map is at most 32767 wide)
            n = len(points)
            rows = np.zeros((-(-n // 256) * 256, 2), np.float32)
            rows[:n] = points
            return self._sample(field, rows.reshape(-1, 256, 2)).reshape(-1, field.shape[-1])[:n]
        fx = (points[..., 0] * fs + 0.5 * fs - 0.5).astype(np.float32)
        fy = (points[..., 1] * fs + 0.5 * fs - 0.5).astype(np.float32)
        return cv2.remap(field, fx, fy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    @staticmethod
    def _newton_step(f: np.ndarray, rx: np.ndarray, ry: np.ndarray, scale: float = 1.0) -> np.ndarray:
        """The step that solves s + scale * d(s) = x to first order, from the residual (rx, ry)
        and the field's Jacobian at s (`f` as from `_sample`)."""
        a, b, c, d = 1 + scale * f[..., 2], scale * f[..., 3], scale * f[..., 4], 1 + scale * f[..., 5]
        det = np.maximum(a * d - b * c, 0.1)
        return np.stack([(d * rx - b * ry) / det, (a * ry - c * rx) / det], axis=-1)

    def _solve_gradually(self, field: np.ndarray, x: np.ndarray, guess: np.ndarray) -> np.ndarray:
        """Sources for output points `x` (N, 2) that the direct Newton steps did not reach (from
        `guess`, far from the source where the skin is strongly squeezed or stretched, as
        beside a puckered mouth, the steps wander and fetch bright skin from the cheek: white
        blobs ringed with dark on the lips). The field is applied in stages, a quarter more
        each, every stage starting from the last one's answer, which lies close to its own.
        The better of the two answers is kept for each point."""
        s = x.copy()
        for scale in CONTINUATION:
            for _ in range(CONTINUATION_STEPS):
                f = self._sample(field, s)
                s = s + self._newton_step(f, x[:, 0] - s[:, 0] - scale * f[:, 0],
                                          x[:, 1] - s[:, 1] - scale * f[:, 1], scale)
        miss = lambda p, f: np.hypot(x[:, 0] - p[:, 0] - f[:, 0], x[:, 1] - p[:, 1] - f[:, 1])
        better = miss(s, self._sample(field, s)) < miss(guess, self._sample(field, guess))
        return np.where(better[:, None], s, guess)

    def frame(self, weights: np.ndarray, pose: np.ndarray, iterations: int = 3) -> RigFrame:
        pose = np.asarray(pose, dtype=np.float64)
        d_vertices = self.vertex_displacement(weights)
        expr = self.expression_field(d_vertices)
        rigid = self._rigid(self.grid_xy, self._depth, pose) * self._head_weight[..., None]
        forward = (expr + rigid) * self._allowed[..., None]
        src = self._inverse(forward, iterations)
        full = cv2.resize(src, (self.width, self.height), interpolation=cv2.INTER_LINEAR)
        # Where the vertices went (for the mouth interior): forward-deform them exactly.
        p = self.landmarks
        rigid_v = self._rigid(p[:, :2] + d_vertices, p[:, 2], pose) * self._vertex_head_weight[:, None]
        points = p[:, :2] + d_vertices + rigid_v
        rest = self.teeth_rest
        teeth_line = rest + self._rigid(rest, p[TEETH_LINE, 2], pose) * self._vertex_head_weight[TEETH_LINE, None]
        return RigFrame(map_x=full[..., 0], map_y=full[..., 1], points=points, teeth_line=teeth_line)
