"""The typed values that flow one way through the pipeline (see DESIGN.md).

All are dataclasses that round-trip through JSON (`pipelines.serialization`). Times are seconds
(float); only the MotionTrack is per frame, because it is what the renderer consumes.
Fields marked `serialize=False` hold derived data that is rebuilt from the inputs on load.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# The 52 ARKit face blendshape names, in Apple's documented order.
ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft",
    "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight",
    "jawForward", "jawLeft", "jawRight", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthUpperUpLeft", "mouthUpperUpRight",
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight",
    "tongueOut",
)
BLENDSHAPE_INDEX: dict[str, int] = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}

# Head pose columns of MotionTrack.head_pose. Angles in degrees; translation in units of the
# portrait's inter-ocular distance (so it is independent of the image size).
HEAD_POSE_COLUMNS: tuple[str, ...] = ("yaw", "pitch", "roll", "tx", "ty", "tz")

# The MEAD emotion categories (used by the emotion stage and the expression overlay).
EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted", "contempt",
)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

@dataclass
class MediaRef:
    """A user's input file, identified by path and content hash (so a re-opened project can tell
    whether the file changed underneath it)."""

    path: str
    sha256: str


@dataclass
class Speech:
    """Decoded speech: 16 kHz mono float32 in [-1, 1]. `samples` are the user's audio as is;
    `analysis` is a loudness-normalised copy used only for analysis, never for export."""

    source: MediaRef
    sample_rate: int
    duration: float
    source_sample_rate: int
    source_channels: int
    samples: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32),
                                metadata={"serialize": False}, repr=False)
    analysis: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32),
                                 metadata={"serialize": False}, repr=False)


@dataclass
class Prosody:
    """Frame-level voice features of `Speech.analysis`, every `hop` seconds (value i at i * hop).
    Derived from the audio, so not stored in a Project."""

    hop: float
    rms: np.ndarray  # linear RMS of the normalised analysis copy
    loudness: np.ndarray  # 0..1: 0 at the noise floor / silence, 1 at the clip's loud speech
    f0: np.ndarray  # Hz, 0 where unvoiced
    voiced: np.ndarray  # bool
    speech: np.ndarray  # bool: voice activity (speech present)

    def sample(self, times: np.ndarray, name: str) -> np.ndarray:
        """Linear interpolation of a feature at arbitrary times (seconds)."""
        values = getattr(self, name).astype(np.float64)
        grid = np.arange(len(values)) * self.hop
        return np.interp(times, grid, values)


# --------------------------------------------------------------------------------------------
# Transcript
# --------------------------------------------------------------------------------------------

@dataclass
class Phone:
    """One phone, ARPAbet without stress digits (e.g. "AH", "P"), or "SIL" for silence."""

    label: str
    start: float
    end: float


@dataclass
class Word:
    text: str
    start: float
    end: float


@dataclass
class Transcript:
    """Words and phones with times. `source` says how the timing was obtained:
    "aligned" (script force-aligned), "asr" (recognised then aligned), "phones" (acoustic phone
    recognition only: no words), or "energy" (no phones: the mouth follows loudness)."""

    text: str
    words: list[Word] = field(default_factory=list)
    phones: list[Phone] = field(default_factory=list)
    source: str = "aligned"
    warnings: list[str] = field(default_factory=list)


@dataclass
class Segment:
    start: float
    end: float
    text: str = ""


# --------------------------------------------------------------------------------------------
# Emotion and scene (slots: the full multimodal embedding and LLM scene come later)
# --------------------------------------------------------------------------------------------

@dataclass
class SignalEstimate:
    """What one emotion signal (one backend) says about one segment.

    `probs` is a distribution over EMOTIONS (empty when the signal has no view on categories);
    `valence`/`arousal` in [-1, 1] (None when the signal does not estimate them); `confidence`
    in [0, 1] is how much fusion should trust this estimate (0 = no evidence, e.g. no words);
    `details` holds raw scores for the "why" view (e.g. VADER compound, pitch z-score)."""

    signal: str  # "text_sentiment" | "speech_emotion" | "valence_arousal"
    backend: str  # e.g. "vader", "prosody", "transformers:<model id>"
    probs: dict[str, float] = field(default_factory=dict)
    valence: Optional[float] = None
    arousal: Optional[float] = None
    confidence: float = 0.0
    details: dict[str, float] = field(default_factory=dict)


@dataclass
class FusedEmotion:
    """The multimodal embedding of one segment (what was detected, before any override)."""

    probs: dict[str, float] = field(default_factory=lambda: {e: float(e == "neutral") for e in EMOTIONS})
    valence: float = 0.0
    arousal: float = 0.0
    intensity: float = 0.0
    vector: list[float] = field(default_factory=list)
    contributions: dict[str, float] = field(default_factory=dict)  # fusion weight per signal

    @property
    def label(self) -> str:
        """The leading emotion when emotions together outweigh neutral (negative text spreads
        over sad/angry/fearful/disgusted, so a plain argmax would say neutral too often)."""
        emotions = {k: v for k, v in self.probs.items() if k != "neutral"}
        if emotions and sum(emotions.values()) > self.probs.get("neutral", 0.0):
            return max(emotions, key=emotions.get)
        return "neutral"


@dataclass
class SegmentEmotion:
    """One segment's emotion: the detected embedding and the effective values the face uses
    (the detected ones, or the user's overrides where set)."""

    segment: Segment
    label: str = "neutral"
    intensity: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0
    source: str = "detected"  # "detected" | "override"
    fused: Optional[FusedEmotion] = None
    signals: list[SignalEstimate] = field(default_factory=list)


@dataclass
class EmotionTrack:
    segments: list[SegmentEmotion] = field(default_factory=list)

    def at(self, t: float) -> Optional[SegmentEmotion]:
        for seg in self.segments:
            if seg.segment.start <= t < seg.segment.end:
                return seg
        return None


@dataclass
class SceneCue:
    kind: str  # e.g. "nod", "shake", "smile", "keep_still"
    start: float
    end: float
    strength: float = 1.0


@dataclass
class SceneDescription:
    text: str = ""
    cues: list[SceneCue] = field(default_factory=list)
    source: str = "none"  # "none" | "template" | "llm" | "user"


# --------------------------------------------------------------------------------------------
# Face
# --------------------------------------------------------------------------------------------

@dataclass
class Framing:
    """How the output frame is cut from the original portrait. `crop` is (x0, y0, x1, y1) in
    original pixel coordinates; the crop is scaled to `width` x `height`."""

    mode: str  # "crop" (face-centred) | "full"
    crop: tuple[float, float, float, float]
    width: int
    height: int


@dataclass
class FaceAnalysis:
    """MediaPipe face mesh of the portrait, in pixel coordinates of the *framed* image
    (x right, y down; z in pixels, negative towards the camera)."""

    portrait: MediaRef
    original_size: tuple[int, int]  # (width, height) of the user's image
    framing: Framing
    landmarks: np.ndarray  # (478, 3) float64
    box: tuple[float, float, float, float]  # face box in framed pixels
    num_faces: int = 1
    warnings: list[str] = field(default_factory=list)
    glasses: bool = False  # frames in front of the eyes (the rig then keeps the brows calmer)
    # Halves of the mouth (subject's right, left) something covers in the photo: a moustache
    # over the whole mouth, fingers over one half. The lips part behind it.
    mouth_covered: tuple[bool, bool] = (False, False)

    @property
    def inter_ocular(self) -> float:
        return self.geometry.iod

    @property
    def framing_scale(self) -> float:
        """How much the framed image enlarges the photo (> 1: upscaled, and that much softer)."""
        x0, y0, x1, y1 = self.framing.crop
        return float(self.framing.width / max(x1 - x0, 1e-6))

    @property
    def geometry(self):
        """The face's own frame (`pipelines.face.geometry.FaceGeometry`). Cheap; callers that
        need it per frame keep the value (the renderer builds it once per portrait)."""
        from .face.geometry import FaceGeometry

        return FaceGeometry.of(self.landmarks)


# --------------------------------------------------------------------------------------------
# Motion
# --------------------------------------------------------------------------------------------

@dataclass
class MotionTrack:
    """Per frame: head pose (HEAD_POSE_COLUMNS) and ARKit-52 blendshape weights in [0, 1].
    Frame i shows time i / fps."""

    fps: float
    blendshapes: np.ndarray  # (N, 52) float32
    head_pose: np.ndarray  # (N, 6) float32
    blendshape_names: tuple[str, ...] = ARKIT_BLENDSHAPES

    @property
    def num_frames(self) -> int:
        return int(self.blendshapes.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.blendshapes[:, self.blendshape_names.index(name)]
