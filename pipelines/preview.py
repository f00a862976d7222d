"""Expression preview: one portrait under every emotion and the main mouth shapes, as one grid.

A creator sees in a few seconds how their face will move before rendering anything: each of
the eight emotions held at half and full intensity (the expression the motion model gives
inside a long segment of that emotion, with its head posture), then the six mouth shapes a
viewer notices most (rest, M/B/P, AA, EE, OO, F/V), each a face close-up labelled underneath.

The face is analysed once and the CPU renderer prepared once; every picture is then a single
frame of that renderer. The face analyser and renderer are built as the pipeline builds them
(`pipeline.portrait_components`), so a long-running host shares its loaded models with it.

    preview = preview_expressions("me.jpg")            # ExpressionPreview
    preview.save("grid.png")
    preview.picture("happy 1.0")                       # one cell's pixels

Cell positions do not depend on the portrait: `grid_layout(cell_size)` gives them without
rendering (the tests read a saved grid with it).
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import InputError
from .face import frame_image, load_portrait, rest_expression
from .files import atomic_output
from .motion.expressions import EXPRESSIONS, still_expression
from .motion.visemes import MOUTH_SHAPES, viseme_weights
from .pipeline import portrait_components
from .settings import PipelineSettings
from .types import EMOTIONS, FaceAnalysis, MediaRef

# progress(stage, fraction of that stage done), the pipeline's own stage names
ProgressCallback = Callable[[str, float], None]

EMOTION_AMOUNTS = (0.5, 1.0)
DEFAULT_CELL = 160  # pixels per face close-up
MIN_CELL, MAX_CELL = 64, 512
GAP = 6  # pixels between cells and around the grid
BACKGROUND = (246, 246, 248)
TEXT = (30, 30, 36)
# The close-up around the face mesh's extent: room above the forehead and below the chin
# (the jaw drops for AA, the head pitches with some emotions).
FACE_MARGIN = 0.12
# The face is rendered at about this many times the cell side, then shrunk: a sharp close-up
# even though the crop framing leaves space around the face.
OVERSAMPLE = 2.0


# ------------------------------------------------------------------------------ layout
@dataclass(frozen=True)
class PreviewCell:
    """One picture of the grid."""

    label: str  # written under the picture: "happy 0.5", "AA"
    kind: str  # "emotion" | "mouth"
    name: str  # the emotion's label or the mouth shape's name
    amount: float  # the emotion's intensity (1.0 for a mouth shape)
    box: tuple[int, int, int, int]  # the picture (without its label) in the grid: x0, y0, x1, y1


@dataclass(frozen=True)
class GridLayout:
    """Where each picture goes: one column per emotion, a row per intensity, then a row of
    mouth shapes."""

    cell: int
    label_height: int
    width: int
    height: int
    cells: tuple[PreviewCell, ...]

    def find(self, label: str) -> PreviewCell:
        for cell in self.cells:
            if cell.label == label:
                return cell
        raise KeyError(f"No picture labelled '{label}'; labels: {[c.label for c in self.cells]}")


def grid_layout(cell_size: int = DEFAULT_CELL) -> GridLayout:
    """The grid's geometry for pictures of `cell_size` pixels (independent of the portrait)."""
    check_cell_size(cell_size)
    label_height = max(16, round(cell_size * 0.16))
    columns = len(EMOTIONS)
    rows: list[list[tuple[str, str, str, float]]] = [
        [("emotion", name, f"{name} {amount:.1f}", amount) for name in EMOTIONS]
        for amount in EMOTION_AMOUNTS]
    rows.append([("mouth", name, name, 1.0) for name in MOUTH_SHAPES])
    step_x, step_y = cell_size + GAP, cell_size + label_height + GAP
    cells = []
    for r, row in enumerate(rows):
        for c, (kind, name, label, amount) in enumerate(row):
            x0, y0 = GAP + c * step_x, GAP + r * step_y
            cells.append(PreviewCell(label, kind, name, amount,
                                     (x0, y0, x0 + cell_size, y0 + cell_size)))
    return GridLayout(cell_size, label_height, GAP + columns * step_x, GAP + len(rows) * step_y,
                      tuple(cells))


def check_cell_size(cell_size: int) -> None:
    if not MIN_CELL <= int(cell_size) <= MAX_CELL:
        raise InputError(f"Picture size {cell_size} is out of range.",
                         f"Use {MIN_CELL}..{MAX_CELL} pixels.")


def check_output(path: str | Path) -> Path:
    """Refuses, before any work, an output the grid cannot be written to."""
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise InputError(f"The preview is a PNG picture: give a file name ending in .png, "
                         f"not '{out.name}'.")
    if out.is_dir():
        raise InputError(f"Output path {out} is a folder.", "Give a file name ending in .png.")
    return out


# ------------------------------------------------------------------------------ result
@dataclass
class ExpressionPreview:
    grid: np.ndarray  # (H, W, 3) RGB uint8
    layout: GridLayout  # where each picture is, and what it shows
    face: FaceAnalysis
    warnings: list[str]
    seconds: float  # from reading the portrait to the finished grid

    @property
    def cells(self) -> tuple[PreviewCell, ...]:
        return self.layout.cells

    def cell(self, label: str) -> PreviewCell:
        return self.layout.find(label)

    def picture(self, label: str) -> np.ndarray:
        x0, y0, x1, y1 = self.cell(label).box
        return self.grid[y0:y1, x0:x1]

    def save(self, path: str | Path) -> Path:
        """Writes the grid as a PNG; a failed write leaves no partial file."""
        out = check_output(path)
        with atomic_output(out, ".png") as tmp:
            Image.fromarray(self.grid).save(tmp, format="PNG")
        return out


# ------------------------------------------------------------------------------ rendering
def preview_settings(settings: PipelineSettings | None, cell_size: int) -> PipelineSettings:
    """`settings` (the preset: teeth, glasses, …) made for close-ups: crop framing, so the face
    has the same size in every preview whatever the photo; the CPU renderer, which draws the
    motion the diffusion renderer also starts from; a size giving sharp pictures of
    `cell_size` pixels."""
    settings = settings or PipelineSettings()
    size = int(round(cell_size * OVERSAMPLE / 2)) * 2
    return settings.with_overrides({"face": {"framing": "crop"},
                                    "render": {"renderer": "cpu", "size": max(256, size)}})


class ExpressionPreviewer:
    """Renders the preview grid of a portrait. Models load lazily, on the first call."""

    def __init__(self, face_analyzer, renderer, settings: PipelineSettings,
                 cell_size: int = DEFAULT_CELL):
        self.face_analyzer = face_analyzer
        self.renderer = renderer  # a CpuRenderer: prepare() and render_frame() are all it needs
        self.settings = settings
        self.layout = grid_layout(cell_size)

    @classmethod
    def from_settings(cls, settings: PipelineSettings | None = None,
                      cell_size: int = DEFAULT_CELL,
                      kept: Callable[[str, Callable[[], object]], object] | None = None,
                      ) -> "ExpressionPreviewer":
        check_cell_size(cell_size)
        settings = preview_settings(settings, cell_size)
        face_analyzer, renderer = portrait_components(settings, kept)
        return cls(face_analyzer, renderer, settings, cell_size)

    def __call__(self, portrait: str | Path | np.ndarray,
                 callback: ProgressCallback | None = None) -> ExpressionPreview:
        """The grid for a portrait file (or an RGB uint8 image). Raises the pipeline's own
        errors: ImageError for an unreadable file, NoFaceError, FaceTooSmallError, …"""
        progress = callback or (lambda stage, fraction: None)
        started = time.perf_counter()
        progress("portrait", 0.0)
        face, framed = self._face_of(portrait)
        progress("render", 0.0)
        pictures = self._close_ups(face, framed, progress)
        grid = compose_grid(self.layout, pictures)
        progress("done", 1.0)
        return ExpressionPreview(grid, self.layout, face, list(face.warnings),
                                 time.perf_counter() - started)

    def _face_of(self, portrait: str | Path | np.ndarray) -> tuple[FaceAnalysis, np.ndarray]:
        """The face analysis and the framed image, exactly as a render starts from them."""
        if isinstance(portrait, np.ndarray):
            image = np.ascontiguousarray(portrait, dtype=np.uint8)
            ref = MediaRef("", hashlib.sha256(image.tobytes()).hexdigest())
        else:
            image, ref = load_portrait(portrait, self.settings.face.max_megapixels)
        face = self.face_analyzer.analyze(image, ref, self.settings.render.size)
        return face, frame_image(image, face.framing)

    def _close_ups(self, face: FaceAnalysis, framed: np.ndarray,
                   progress: ProgressCallback) -> list[np.ndarray]:
        """One rendered frame per cell, cut to the same box around the face."""
        prepared = self.renderer.prepare(framed, face)
        box = face_close_up(face.landmarks, framed.shape[:2])
        poses = CellPoses(face.landmarks)
        pictures = []
        for i, cell in enumerate(self.layout.cells):
            blendshapes, head_pose = poses.of(cell)
            frame = self.renderer.render_frame(prepared, blendshapes, head_pose)
            pictures.append(close_up(frame, box, self.layout.cell))
            progress("render", (i + 1) / len(self.layout.cells))
        return pictures


def preview_expressions(portrait: str | Path | np.ndarray,
                        settings: PipelineSettings | None = None, *,
                        cell_size: int = DEFAULT_CELL,
                        callback: ProgressCallback | None = None) -> ExpressionPreview:
    """One-off preview (`launch.py preview`); a host that keeps models uses ExpressionPreviewer."""
    return ExpressionPreviewer.from_settings(settings, cell_size)(portrait, callback)


class CellPoses:
    """The blendshapes and head pose of each picture, on a portrait whose own expression (a
    smile in the photo, say) is the rest the renderer deforms from."""

    def __init__(self, landmarks: np.ndarray):
        self.rest = rest_expression(landmarks)

    def of(self, cell: PreviewCell) -> tuple[np.ndarray, np.ndarray]:
        if cell.kind == "emotion":
            return self.emotion(cell.name, cell.amount)
        return self.mouth(cell.name)

    def emotion(self, label: str, amount: float) -> tuple[np.ndarray, np.ndarray]:
        """The emotion held with the mouth at rest, and the head posture it brings (the motion
        adds the same offset, so the preview shows the nod-down of anger, the tilt of contempt)."""
        shapes = self._with_mouth(still_expression(label, amount, self.rest), "rest")
        pose = np.zeros(6, np.float32)
        pose[:3] = amount * np.asarray(EXPRESSIONS[label].posture, np.float32)
        return shapes, pose

    def mouth(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The mouth shape on the photo's own (neutral) expression, head still."""
        return (self._with_mouth(still_expression("neutral", 1.0, self.rest), name),
                np.zeros(6, np.float32))

    def _with_mouth(self, expression: np.ndarray, mouth_shape: str) -> np.ndarray:
        # Added, as the motion model adds mouth and expression layers; the mouth shape's own
        # closure (M/B/P) is already at its peak in viseme_weights.
        mouth = viseme_weights(MOUTH_SHAPES[mouth_shape])
        return np.clip(expression + mouth, 0.0, 1.0).astype(np.float32)


def face_close_up(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A square (x0, y0, x1, y1) around the face mesh with a margin, inside the framed image.
    One box for every picture, so that the pictures compare pixel for pixel."""
    height, width = shape
    pts = np.asarray(landmarks)[:, :2]
    (lx, ly), (hx, hy) = pts.min(axis=0), pts.max(axis=0)
    side = min(int(round(max(hx - lx, hy - ly) * (1 + 2 * FACE_MARGIN))), width, height)
    cx, cy = (lx + hx) / 2, (ly + hy) / 2
    x0 = int(np.clip(round(cx - side / 2), 0, width - side))
    y0 = int(np.clip(round(cy - side / 2), 0, height - side))
    return x0, y0, x0 + side, y0 + side


def close_up(frame: np.ndarray, box: tuple[int, int, int, int], cell: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = frame[y0:y1, x0:x1]
    shrinking = crop.shape[0] >= cell
    return cv2.resize(crop, (cell, cell),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def compose_grid(layout: GridLayout, pictures: list[np.ndarray]) -> np.ndarray:
    """The pictures at their places on a light background, each labelled underneath."""
    canvas = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=max(11, round(layout.label_height * 0.72)))
    for cell, picture in zip(layout.cells, pictures):
        x0, y0, x1, y1 = cell.box
        canvas.paste(Image.fromarray(picture), (x0, y0))
        draw.text(((x0 + x1) / 2, y1 + layout.label_height / 2), cell.label, fill=TEXT,
                  font=font, anchor="mm")
    return np.asarray(canvas)
