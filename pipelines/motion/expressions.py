"""Emotion overlay: per segment, a FACS-style expression (ARKit blendshapes) scaled by
intensity × expression_strength, cross-faded smoothly across segment boundaries; plus a small
posture offset and a head-motion gain per emotion."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import BLENDSHAPE_INDEX, EmotionTrack
from .signal import window


def _both(prefix: str, value: float) -> dict[str, float]:
    return {f"{prefix}Left": value, f"{prefix}Right": value}


@dataclass(frozen=True)
class Expression:
    shapes: dict[str, float]  # ARKit channel → weight at intensity 1
    posture: tuple[float, float, float] = (0.0, 0.0, 0.0)  # yaw, pitch, roll offsets (deg)
    head_gain: float = 1.0  # multiplies prosody-driven head motion at intensity 1


EXPRESSIONS: dict[str, Expression] = {
    "neutral": Expression({}),
    # AU6 + AU12 + AU25 (+ a little AU7): a broad smile with the lips parted over the teeth.
    "happy": Expression({**_both("mouthSmile", 1.0), **_both("cheekSquint", 0.7),
                         **_both("eyeSquint", 0.3), **_both("mouthDimple", 0.1),
                         **_both("mouthUpperUp", 0.8), **_both("mouthLowerDown", 0.4)},
                        posture=(0.0, -1.5, 0.0), head_gain=1.15),
    # AU1 + AU15 + AU17 (+ AU4, AU43 a little: heavy lids, eyes down).
    "sad": Expression({"browInnerUp": 1.0, **_both("mouthFrown", 0.5),
                       **_both("browDown", 0.15),
                       **_both("eyeBlink", 0.15), **_both("eyeLookDown", 0.08)},
                      posture=(0.0, 3.0, 0.0), head_gain=0.6),
    # AU4 + AU7 + AU24 (+ AU9 a little).
    "angry": Expression({**_both("browDown", 1.0), **_both("eyeSquint", 0.5),
                         **_both("mouthPress", 0.6), **_both("mouthFrown", 0.35),
                         **_both("noseSneer", 0.35), "jawForward": 0.1},
                        posture=(0.0, 1.5, 0.0), head_gain=1.2),
    # AU1 + AU2 + AU5 + AU26; the jaw drop is kept small while speaking (held wide open it
    # swamped the visemes: lip-sync correlation 0.27 instead of 0.52 on the sample).
    "surprised": Expression({"browInnerUp": 0.8, **_both("browOuterUp", 0.8),
                             **_both("eyeWide", 0.9), "jawOpen": 0.12, "mouthFunnel": 0.25,
                             "mouthPucker": 0.2},
                            posture=(0.0, -2.0, 0.0), head_gain=1.2),
    # AU1 + AU2 + AU4 + AU5 + AU20.
    "fearful": Expression({"browInnerUp": 0.75, **_both("browOuterUp", 0.3),
                           **_both("browDown", 0.1), **_both("eyeWide", 0.55),
                           **_both("mouthStretch", 0.4), "jawOpen": 0.05},
                          posture=(0.0, 1.0, 0.0), head_gain=0.9),
    # AU9 + AU10 (+ AU4, AU6).
    "disgusted": Expression({**_both("noseSneer", 0.7), **_both("mouthUpperUp", 0.45),
                             **_both("browDown", 0.35), **_both("cheekSquint", 0.3),
                             **_both("mouthFrown", 0.2), **_both("eyeSquint", 0.2)},
                            posture=(0.0, 0.5, 0.0)),
    # Unilateral AU12 + AU14.
    "contempt": Expression({"mouthSmileLeft": 0.35, "mouthDimpleLeft": 0.45,
                            "mouthPressLeft": 0.1, **_both("eyeSquint", 0.1)},
                           posture=(1.5, -1.0, 2.0)),
}

RAMP_S = 0.4  # cross-fade duration at segment boundaries


@dataclass
class ExpressionLayer:
    shapes: np.ndarray  # (N, 52) additive
    posture: np.ndarray  # (N, 3) yaw, pitch, roll offsets
    head_gain: np.ndarray  # (N,) multiplies the prosody-driven head motion
    articulation: np.ndarray  # (N,) scales mouth movement: wider when aroused, smaller when low


# Emotions that keep the photo's own expression (a smiling photo stays smiling); any other
# emotion fades it out in proportion to its intensity.
KEEPS_REST = ("neutral", "happy")


def expression_overlay(times: np.ndarray, emotion: EmotionTrack | None, strength: float,
                       duration: float, rest: np.ndarray | None = None) -> ExpressionLayer:
    """Segments touching the clip's start or end hold their expression up to the edge (no
    fade-in from neutral at the first frame). `rest` is the portrait's own expression
    (ARKit weights); it is the baseline that other emotions replace."""
    n = len(times)
    shapes, posture, gain = np.zeros((n, len(BLENDSHAPE_INDEX))), np.zeros((n, 3)), np.ones(n)
    articulation = np.ones(n)
    suppress = np.zeros(n)
    rest = np.zeros(len(BLENDSHAPE_INDEX)) if rest is None else np.asarray(rest, float)
    if emotion is None:
        return ExpressionLayer(shapes + rest, posture, gain, articulation)
    for seg in emotion.segments:
        expr = EXPRESSIONS.get(seg.label)
        if expr is None:
            continue
        start = seg.segment.start if seg.segment.start > 1e-6 else -1e9
        end = seg.segment.end if seg.segment.end < duration - 1e-6 else 1e9
        w = window(times, start, end, RAMP_S, centred=True)
        amount = float(np.clip(seg.intensity, 0.0, 1.0)) * strength
        arousal = float(np.clip(seg.arousal, -1.0, 1.0))
        articulation += w * 0.25 * arousal * min(1.0, 0.5 + amount)
        if amount <= 0 or not w.any():
            continue
        if seg.label not in KEEPS_REST:
            suppress += w * min(1.0, amount)
        for name, value in expr.shapes.items():
            shapes[:, BLENDSHAPE_INDEX[name]] += w * amount * value
        posture += w[:, None] * amount * np.asarray(expr.posture)
        gain += w * (amount * (expr.head_gain - 1.0) + 0.2 * arousal)
    # The photo's own expression is a floor, not something to stack on: happy on a smiling
    # photo smiles as much as happy on a neutral one, not twice as much.
    kept_rest = rest[None, :] * (1 - np.clip(suppress, 0, 1))[:, None]
    shapes = np.maximum(shapes, kept_rest)
    return ExpressionLayer(shapes, posture, np.clip(gain, 0.2, 2.0), np.clip(articulation, 0.7, 1.3))
