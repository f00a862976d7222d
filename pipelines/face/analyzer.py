"""Face detection, framing and the 478-point face mesh of the portrait (MediaPipe, CPU).

Steps of `FaceAnalyzer.analyze`:

1. Detect faces on a copy scaled down to `working_max_side` with MediaPipe's full-range face
   detector (finds faces down to ~5% of the image side). If it finds none, the face mesh's own
   short-range detector is tried (close-ups), then the full-range detector on overlapping tiles
   (small faces), so a face that is merely too small is reported as such, not as "no face".
2. Pick the most prominent face (largest box; boxes within 10% of the largest area are a tie,
   broken by distance to the image centre). More than one face gives a warning.
3. Fit the mesh on a square region around that face, cut from the full-resolution original:
   landmarks in original pixels. Refuse faces narrower than `min_face_px`, and a face-like shape
   the mesh will not fit (an animal, a statue). `quality.assess_portrait` refuses faces turned
   further than `max_yaw_deg` and notes what the animation cannot do well (closed eyes, a covered
   mouth, an engraving, a small face, a turned head).
4. Frame: "crop" = a square around the face (see `compute_framing`), "full" = the whole image.
5. Re-fit the mesh on the framed image at output resolution, around the face found in step 3,
   so the landmarks match exactly the pixels the renderer warps.

MediaPipe graphs are created lazily, once per analyzer, and are not thread-safe: calls on one
analyzer are serialised by a lock. Call `close()` (or use `with FaceAnalyzer(...)`) to free them.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Optional

import cv2
import numpy as np

from ..errors import FaceTooSmallError, ImageError, NoFaceError
from ..native import quiet_native_stderr
from ..settings import FaceSettings
from ..types import FaceAnalysis, Framing, MediaRef
from . import quality
from .describe import detect_glasses
from .geometry import inter_ocular, with_mouth_moved_down

NUM_LANDMARKS = 478
FACE_CENTER_Y = 0.48  # "crop" framing: face-box centre at this fraction of the crop height
_TIE_AREA = 0.10  # faces whose box areas differ by less than this are equally prominent
_TILE = 512  # tile side (working pixels) for the small-face search
_MESH_REGION = 2.2  # mesh region side over the face-box size
_MESH_MIN, _MESH_MAX = 256, 768  # the mesh region is resampled to a side in this range


@dataclass
class _Candidate:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in original pixels
    score: float


class FaceAnalyzer:
    """Finds, frames and meshes the face of a portrait. See the module docstring."""

    def __init__(self, settings: Optional[FaceSettings] = None):
        self.settings = settings if settings is not None else FaceSettings()
        self._mesh: Any = None
        self._detector: Any = None
        self._close_detector: Any = None
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- model lifetime
    def _get_mesh(self):
        if self._mesh is None:
            from mediapipe.python.solutions import face_mesh
            self._mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=2,
                                            refine_landmarks=True, min_detection_confidence=0.5)
        return self._mesh

    def _get_detector(self):
        if self._detector is None:
            from mediapipe.python.solutions import face_detection
            self._detector = face_detection.FaceDetection(model_selection=1,
                                                          min_detection_confidence=0.5)
        return self._detector

    def _get_close_detector(self):
        if self._close_detector is None:
            from mediapipe.python.solutions import face_detection
            self._close_detector = face_detection.FaceDetection(model_selection=0,
                                                                min_detection_confidence=0.5)
        return self._close_detector

    def close(self) -> None:
        with self._lock:
            for graph in (self._mesh, self._detector, self._close_detector):
                if graph is not None:
                    graph.close()
            self._mesh = self._detector = self._close_detector = None

    def __enter__(self) -> "FaceAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- analysis
    def analyze(self, image: np.ndarray, portrait: MediaRef, out_size: int) -> FaceAnalysis:
        """Face analysis of an RGB uint8 image (as from `load_portrait`); `out_size` is the
        output frame's side ("crop") or longer side ("full"), rounded down to an even number."""
        image = _as_rgb(image)
        if self.settings.framing not in ("crop", "full"):
            raise ImageError(f"Unknown framing '{self.settings.framing}'.", "Use 'crop' or 'full'.")
        out_size = int(out_size)
        if out_size < 64:
            raise ImageError(f"Output size {out_size} px is too small.", "Use at least 64 pixels.")
        out_size -= out_size % 2
        height, width = image.shape[:2]
        warnings: list[str] = []

        with self._lock:
            candidates = self._find_faces(image)
            if not candidates:
                raise NoFaceError(
                    "No face was found in the portrait.",
                    "Use a clear, well-lit, front-facing photo of one person's face (the face "
                    "should fill a good part of the picture; crop a group or wide shot closer "
                    "around the face).")
            order = _by_prominence(candidates, width, height)
            landmarks = None
            measured = 0.0
            for chosen, cand in enumerate(order):
                landmarks = self._mesh_region(image, cand.box)
                if landmarks is not None:
                    measured = float(np.ptp(landmarks[:, 0]))
                else:
                    measured = 0.9 * (cand.box[2] - cand.box[0])  # detector boxes are a bit wider
                if measured < self.settings.min_face_px or landmarks is not None:
                    break
            if measured < self.settings.min_face_px:
                raise FaceTooSmallError(
                    f"The face in the portrait is only about {measured:.0f} pixels wide; at least "
                    f"{self.settings.min_face_px} pixels are needed for a clean animation.",
                    "Use a closer or higher-resolution photo, or crop the photo around the face.")
            if landmarks is None:
                raise quality.not_human_face()
            num_faces = len(candidates)
            if num_faces > 1:
                cx = 0.5 * (landmarks[:, 0].min() + landmarks[:, 0].max())
                which = "the largest" if chosen == 0 else "the largest one that could be fitted"
                warnings.append(
                    f"{num_faces} faces were found; animating the most prominent one ({which}, "
                    f"{_horizontal_words(cx / width)}). Crop the photo to one person to choose "
                    "another.")

            # Measured on the photo itself, so the notes are the same at any output size.
            assessment = quality.assess_portrait(image, landmarks, self.settings)
            warnings.extend(assessment.warnings)

            framing, notes = compute_framing(landmarks, (width, height), out_size, self.settings)
            warnings.extend(notes)
            framed = frame_image(image, framing)
            mapped = map_to_frame(landmarks, framing)
            refined = self._mesh_region(framed, _bbox(mapped))
            iod = inter_ocular(mapped)
            if refined is not None and _mean_dist(refined, mapped) < 0.15 * max(iod, 1.0):
                final = refined
            else:  # the re-fit failed or latched onto something else: keep the mapped mesh
                final = mapped
            if assessment.mouth_lowered_by:
                final = with_mouth_moved_down(final, assessment.mouth_lowered_by)

        # YAML reads a bare yes/no as a boolean.
        choice = {True: "yes", False: "no"}.get(self.settings.glasses, str(self.settings.glasses).lower())
        glasses = detect_glasses(framed, final) if choice == "auto" else choice == "yes"
        if glasses:
            warnings.append("Glasses detected: the eyebrows move a little less, so that the "
                            "frames do not bend with them.")
        return FaceAnalysis(portrait=portrait, original_size=(width, height), framing=framing,
                            landmarks=final.astype(np.float64), box=_bbox(final),
                            num_faces=num_faces, warnings=list(dict.fromkeys(warnings)),
                            glasses=glasses, mouth_covered=assessment.mouth_covered)

    # ---------------------------------------------------------------- detection helpers
    def _find_faces(self, image: np.ndarray) -> list[_Candidate]:
        height, width = image.shape[:2]
        scale = min(1.0, self.settings.working_max_side / max(width, height))
        work = _resize(image, scale) if scale < 1.0 else image
        found = self._detect(work)
        if not found:
            found = self._mesh_boxes(work)
        if not found:
            # The close-range detector alone, without the mesh's check that the face is human:
            # a face-like shape that only it finds (an animal's) is then refused as not human,
            # not taken for a small face by the tiled search below.
            found = self._face_like_shapes(work)
        if not found:
            found = self._detect_tiled(work)
        if not found and scale < 1.0:
            # Small faces in big photos vanish at the working size: look again, tiled, at twice
            # that resolution, so the user hears "too small" rather than "no face".
            scale = min(1.0, 2 * scale)
            found = self._detect_tiled(_resize(image, scale) if scale < 1.0 else image)
        return [_Candidate(tuple(v / scale for v in box), score) for box, score in found]

    def _detect(self, img: np.ndarray, detector: Any = None
                ) -> list[tuple[tuple[float, float, float, float], float]]:
        with quiet_native_stderr():
            res = (detector or self._get_detector()).process(np.ascontiguousarray(img))
        h, w = img.shape[:2]
        out = []
        for det in res.detections or []:
            b = det.location_data.relative_bounding_box
            x0, y0 = max(b.xmin * w, 0.0), max(b.ymin * h, 0.0)
            x1, y1 = min((b.xmin + b.width) * w, w), min((b.ymin + b.height) * h, h)
            if x1 - x0 > 1 and y1 - y0 > 1:
                out.append(((x0, y0, x1, y1), float(det.score[0])))
        return out

    def _face_like_shapes(self, img: np.ndarray):
        """Close-range detections confirmed in the mirrored image and at half the size: a
        face-like shape is nearly symmetric and survives halving, while texture that fools the
        detector does neither (measured on 200 random-noise images: 63 detections, 8 confirmed by
        the mirror, none at half size; a macaque's face, 300-1024 pixels high: always both)."""
        detector = self._get_close_detector()
        found = self._detect(img, detector)
        if not found:
            return []
        w = img.shape[1]
        mirrored = [(w - x1, y0, w - x0, y1)
                    for (x0, y0, x1, y1), _ in self._detect(img[:, ::-1], detector)]
        halved = [tuple(2 * v for v in box) for box, _ in self._detect(_resize(img, 0.5), detector)]
        return [(box, score) for box, score in found  # IoU > 0.3: the same face, as in _dedupe
                if all(any(_iou(box, seen) > 0.3 for seen in view) for view in (mirrored, halved))]

    def _mesh_boxes(self, img: np.ndarray):
        with quiet_native_stderr():
            res = self._get_mesh().process(np.ascontiguousarray(img))
        h, w = img.shape[:2]
        out = []
        for face in res.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h) for p in face.landmark])
            out.append(((pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()), 1.0))
        return out

    def _detect_tiled(self, img: np.ndarray):
        h, w = img.shape[:2]
        if max(h, w) <= _TILE:
            return []
        stride = _TILE // 2
        xs = sorted({*range(0, max(w - _TILE, 0) + 1, stride), max(w - _TILE, 0)})
        ys = sorted({*range(0, max(h - _TILE, 0) + 1, stride), max(h - _TILE, 0)})
        found = []
        for ty in ys:
            for tx in xs:
                for (x0, y0, x1, y1), score in self._detect(img[ty:ty + _TILE, tx:tx + _TILE]):
                    found.append(((x0 + tx, y0 + ty, x1 + tx, y1 + ty), score))
        return _dedupe(found)

    def _mesh_region(self, img: np.ndarray, box) -> Optional[np.ndarray]:
        """Face mesh fitted in a square region around `box` of `img`: (478, 3) landmarks in
        `img` pixels (z scaled like x), or None when no face is found there."""
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0) * _MESH_REGION
        side = max(side, 16.0)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        rx, ry = int(round(cx - side / 2)), int(round(cy - side / 2))
        s = int(round(side))
        target = int(min(max(s, _MESH_MIN), _MESH_MAX))
        region = _crop_padded(img, rx, ry, s)
        region = cv2.resize(region, (target, target),
                            interpolation=cv2.INTER_AREA if target < s else cv2.INTER_CUBIC)
        with quiet_native_stderr():
            res = self._get_mesh().process(np.ascontiguousarray(region))
        faces = res.multi_face_landmarks or []
        if not faces:
            return None
        best, best_d = None, math.inf
        for face in faces:
            pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            if pts.shape[0] != NUM_LANDMARKS:
                continue
            d = float(np.hypot(*(pts[:, :2].mean(axis=0) - 0.5)))
            if d < best_d:
                best, best_d = pts, d
        if best is None:
            return None
        scale = s  # normalised region coordinates -> img pixels
        out = np.empty_like(best)
        out[:, 0] = rx + best[:, 0] * scale
        out[:, 1] = ry + best[:, 1] * scale
        out[:, 2] = best[:, 2] * scale
        return out


# -------------------------------------------------------------------- framing (public)
def compute_framing(landmarks: np.ndarray, image_size: tuple[int, int], out_size: int,
                    settings: FaceSettings) -> tuple[Framing, list[str]]:
    """Framing for landmarks in original pixels; returns (framing, user-facing notes).

    "crop": a square whose side makes the face-box width `face_fraction` of the frame, centred
    on the face horizontally, with the face centre at `FACE_CENTER_Y` of the height (room for
    the shoulders). It stays inside the photo: when the photo is too small around the face, the
    square shrinks (the face then fills more of the frame) and/or shifts (the face sits off
    centre). It is never padded: invented borders look fake once the head moves. The crop is
    in whole pixels. "full": the whole photo, longer side `out_size`, both sides even.
    """
    width, height = image_size
    out_size = int(out_size) - int(out_size) % 2
    notes: list[str] = []
    if settings.framing == "full":
        if width >= height:
            fw, fh = out_size, _even(height * out_size / width)
        else:
            fw, fh = _even(width * out_size / height), out_size
        return Framing("full", (0.0, 0.0, float(width), float(height)), fw, fh), notes

    x0, y0, x1, y1 = _bbox(landmarks)
    face_w = x1 - x0
    fraction = min(max(float(settings.face_fraction), 0.05), 0.95)
    wanted = face_w / fraction
    side = int(round(min(wanted, width, height)))
    side = max(side, 2)
    fcx, fcy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    want_x, want_y = fcx - side / 2, fcy - FACE_CENTER_Y * side
    cx0 = int(round(min(max(want_x, 0), width - side)))
    cy0 = int(round(min(max(want_y, 0), height - side)))
    if side < 0.8 * wanted:
        notes.append(
            f"The photo is tight around the face, so the face fills {100 * face_w / side:.0f}% of "
            f"the frame width instead of about {100 * fraction:.0f}%. A photo with more space "
            "around the head and shoulders frames better.")
    if max(abs(cx0 - want_x), abs(cy0 - want_y)) > 0.1 * side:
        notes.append("The face is close to the edge of the photo, so it is off-centre in the video.")
    if side < 0.4 * out_size:  # upscaled more than 2.5x
        notes.append(
            f"The face region is only {side} pixels, so the video ({out_size} pixels) is upscaled "
            f"{out_size / side:.1f}x and will look soft; a higher-resolution photo looks sharper.")
    crop = (float(cx0), float(cy0), float(cx0 + side), float(cy0 + side))
    return Framing("crop", crop, out_size, out_size), notes


def frame_image(image: np.ndarray, framing: Framing) -> np.ndarray:
    """The framed RGB image, (framing.height, framing.width, 3) uint8: the crop (rounded to whole
    pixels; parts outside the photo are filled by edge replication) resampled with INTER_AREA
    when shrinking and Lanczos when enlarging."""
    image = _as_rgb(image)
    x0, y0, x1, y1 = (int(round(v)) for v in framing.crop)
    if x1 <= x0 or y1 <= y0:
        raise ImageError(f"Invalid framing crop {framing.crop}.")
    h, w = image.shape[:2]
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        pad = cv2.copyMakeBorder(image, max(-y0, 0), max(y1 - h, 0), max(-x0, 0), max(x1 - w, 0),
                                 cv2.BORDER_REPLICATE)
        region = pad[y0 + max(-y0, 0):y1 + max(-y0, 0), x0 + max(-x0, 0):x1 + max(-x0, 0)]
    else:
        region = image[y0:y1, x0:x1]
    cw, ch = x1 - x0, y1 - y0
    if (cw, ch) == (framing.width, framing.height):
        return np.ascontiguousarray(region)
    shrink = framing.width <= cw and framing.height <= ch
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4
    return cv2.resize(np.ascontiguousarray(region), (framing.width, framing.height),
                      interpolation=interp)


def map_to_frame(points: np.ndarray, framing: Framing) -> np.ndarray:
    """Original-pixel points (N, 2 or 3) -> framed-pixel points (z scales like x)."""
    x0, y0, x1, y1 = (float(round(v)) for v in framing.crop)
    sx, sy = framing.width / (x1 - x0), framing.height / (y1 - y0)
    out = np.array(points, dtype=np.float64, copy=True)
    out[:, 0] = (out[:, 0] - x0) * sx
    out[:, 1] = (out[:, 1] - y0) * sy
    if out.shape[1] > 2:
        out[:, 2] *= sx
    return out


def map_to_original(points: np.ndarray, framing: Framing) -> np.ndarray:
    """Inverse of `map_to_frame`."""
    x0, y0, x1, y1 = (float(round(v)) for v in framing.crop)
    sx, sy = framing.width / (x1 - x0), framing.height / (y1 - y0)
    out = np.array(points, dtype=np.float64, copy=True)
    out[:, 0] = out[:, 0] / sx + x0
    out[:, 1] = out[:, 1] / sy + y0
    if out.shape[1] > 2:
        out[:, 2] /= sx
    return out


# -------------------------------------------------------------------- small helpers
def _as_rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(f"Expected an RGB image array (H, W, 3), got shape {arr.shape}.")
    if arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _crop_padded(img: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    if x >= 0 and y >= 0 and x + side <= w and y + side <= h:
        return img[y:y + side, x:x + side]
    fill = [int(v) for v in img.reshape(-1, img.shape[2]).mean(axis=0)]
    out = np.empty((side, side, img.shape[2]), dtype=img.dtype)
    out[:] = fill
    sx0, sy0, sx1, sy1 = max(x, 0), max(y, 0), min(x + side, w), min(y + side, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y:sy1 - y, sx0 - x:sx1 - x] = img[sy0:sy1, sx0:sx1]
    return out


def _bbox(points: np.ndarray) -> tuple[float, float, float, float]:
    return (float(points[:, 0].min()), float(points[:, 1].min()),
            float(points[:, 0].max()), float(points[:, 1].max()))


def _mean_dist(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean())


def _even(v: float) -> int:
    return max(2, int(round(v / 2.0)) * 2)


def _area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = _area(a) + _area(b) - inter
    return inter / union if union > 0 else 0.0


def _dedupe(found):
    kept: list = []
    for box, score in sorted(found, key=lambda f: -f[1]):
        if all(_iou(box, k[0]) < 0.3 for k in kept):
            kept.append((box, score))
    return kept


def _by_prominence(cands: list[_Candidate], width: int, height: int) -> list[_Candidate]:
    """Largest first; areas within _TIE_AREA of each other are ordered by distance to centre."""
    def centre_dist(c: _Candidate) -> float:
        cx, cy = 0.5 * (c.box[0] + c.box[2]), 0.5 * (c.box[1] + c.box[3])
        return math.hypot(cx / width - 0.5, cy / height - 0.5)

    rest = sorted(cands, key=lambda c: -_area(c.box))
    ordered: list[_Candidate] = []
    while rest:
        top = _area(rest[0].box)
        tied = [c for c in rest if _area(c.box) >= (1 - _TIE_AREA) * top]
        tied.sort(key=centre_dist)
        ordered.append(tied[0])
        rest.remove(tied[0])
    return ordered


def _horizontal_words(x: float) -> str:
    if x < 0.33:
        return "on the left"
    if x > 0.67:
        return "on the right"
    return "in the middle"
