"""The CPU renderer: the portrait warped by the landmark rig, frame by frame."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np

from ..face.describe import rest_expression
from ..native import quiet_native_stderr
from ..settings import RenderSettings
from ..types import FaceAnalysis, MotionTrack
from .folds import SmileFolds
from .creases import ExpressionCreases
from .eyes import EyeWhites
from .cover import MouthCover
from .mouth import MouthInterior, MouthLook, photo_mouth_open, sclera_colour
from .rig import GLASSES_BROW_GAIN, FaceRig


@dataclass
class PreparedPortrait:
    """Everything the renderer derives from the framed portrait once, before the frame loop."""

    plate: np.ndarray  # the framed portrait
    rig: FaceRig
    mouth: MouthInterior
    folds: SmileFolds  # the photo's smile creases, faded as the smile is taken off
    creases: ExpressionCreases | None = None  # the skin's folds as the brows move
    eyes: EyeWhites | None = None  # what a raised upper lid uncovers
    cover: MouthCover | None = None  # what covers the lips in the photo, kept in front of them


class PersonMatte:
    """MediaPipe selfie segmentation (its model ships in the mediapipe wheel), loaded lazily."""

    def __init__(self) -> None:
        self._model = None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        with quiet_native_stderr():
            if self._model is None:
                import mediapipe as mp

                self._model = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
            mask = self._model.process(np.ascontiguousarray(image)).segmentation_mask
        return np.asarray(mask, dtype=np.float32)

    def close(self) -> None:
        if self._model is not None:
            self._model.close()
            self._model = None


class CpuRenderer:
    name = "cpu"

    def __init__(self, settings: RenderSettings, matte: PersonMatte | None = None):
        self.settings = settings
        self.matte = matte or PersonMatte()

    def prepare(self, framed: np.ndarray, face: FaceAnalysis) -> PreparedPortrait:
        h, w = framed.shape[:2]
        geometry = face.geometry
        rig = FaceRig(geometry, (w, h), self.matte(framed),
                      rest_expression=rest_expression(face.landmarks),
                      brow_gain=GLASSES_BROW_GAIN if face.glasses else 1.0)
        plate = framed.copy()
        look = MouthLook.of_photo(plate, geometry, upscale=face.framing_scale)
        mouth = MouthInterior(look, geometry, teeth=self.settings.teeth,
                              seam=photo_mouth_open(geometry), frame_size=(w, h))
        folds = SmileFolds(plate, face.landmarks, rig.iod, rig.rest_expression)
        eyes = EyeWhites(plate, geometry, sclera_colour(plate, geometry), rig.rest_expression)
        cover = MouthCover(plate, geometry, face.mouth_covered) if any(face.mouth_covered) else None
        creases = ExpressionCreases(plate, geometry, rig.rest_expression, look.soften)
        return PreparedPortrait(plate=plate, rig=rig, mouth=mouth, folds=folds, eyes=eyes,
                                cover=cover, creases=creases)

    def render_frame(self, prepared: PreparedPortrait, blendshapes: np.ndarray,
                     head_pose: np.ndarray) -> np.ndarray:
        return self.draw(prepared, prepared.rig.frame(blendshapes, head_pose), blendshapes)

    def draw(self, prepared: PreparedPortrait, f, blendshapes: np.ndarray) -> np.ndarray:
        """The frame for an already computed rig deformation (`FaceRig.frame`) of `blendshapes`."""
        plate = prepared.folds.apply(prepared.plate, blendshapes)
        if prepared.creases is not None:
            plate = prepared.creases.apply(plate, blendshapes, owned=plate is not prepared.plate)
        out = cv2.remap(plate, f.map_x, f.map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        prepared.mouth.cover_photo_opening(out, f.map_x, f.map_y, f.points)
        if prepared.eyes is not None:
            prepared.eyes.uncover(out, f.points, blendshapes)
        out = prepared.mouth.composite(out, f.points, f.teeth_line)
        if prepared.cover is not None:
            prepared.cover.cover(out, f.points)
        return out

    def frames(self, prepared: PreparedPortrait, motion: MotionTrack, job=None) -> Iterator[np.ndarray]:
        """Frame by frame (`job`, the diffusion renderer's prompt and progress, is not needed)."""
        for i in range(motion.num_frames):
            yield self.render_frame(prepared, motion.blendshapes[i], motion.head_pose[i])
