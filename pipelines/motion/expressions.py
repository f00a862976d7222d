"""Emotion overlay: per segment, a FACS-style expression (ARKit blendshapes) scaled by
intensity × expression_strength, cross-faded smoothly across segment boundaries; plus a small
posture offset and a head-motion gain per emotion."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..types import BLENDSHAPE_INDEX, EmotionTrack
from .signal import window


def _both(prefix: str, value: float) -> dict[str, float]:
    return {f"{prefix}Left": value, f"{prefix}Right": value}


@dataclass(frozen=True)
class Expression:
    shapes: dict[str, float]  # ARKit channel → weight at intensity 1
    posture: tuple[float, float, float] = (0.0, 0.0, 0.0)  # yaw, pitch, roll offsets (deg)
    head_gain: float = 1.0  # multiplies prosody-driven head motion at intensity 1
    # Lip channels while the jaw articulates, where they differ from `shapes`; the lip
    # closers (LIP_CLOSERS) go to 0 unless listed here.
    while_speaking: dict[str, float] = field(default_factory=dict)
    articulation: float = 1.0  # scales the speech mouth at intensity 1 (on top of arousal)


EXPRESSIONS: dict[str, Expression] = {
    "neutral": Expression({}),
    # AU6 + AU12 + AU25 (+ a little AU7): a broad smile with the lips parted over the upper
    # teeth, as the reference's laugh shows them (it parts the lips 0.17-0.23 IOD; this about
    # 0.1): a smile with closed lips reads as neutral on most faces.
    "happy": Expression({**_both("mouthSmile", 1.0), **_both("cheekSquint", 0.7),
                         **_both("eyeSquint", 0.3), **_both("mouthDimple", 0.1),
                         **_both("mouthUpperUp", 0.7), **_both("mouthLowerDown", 0.35),
                         "jawOpen": 0.1},
                        posture=(0.0, -1.5, 0.0), head_gain=1.15),
    # AU1 + AU4 + AU15 + AU17 (+ AU43 a little: heavy lids, eyes and head down): oblique
    # brows, corners pulled down, the chin pushing the lower lip up.
    "sad": Expression({"browInnerUp": 1.0, **_both("browDown", 0.55), **_both("mouthFrown", 1.0),
                       "mouthShrugLower": 0.35, **_both("eyeBlink", 0.3),
                       **_both("eyeLookDown", 0.25)},
                      posture=(0.0, 1.0, 0.0), head_gain=0.6,
                      # The frown stays on while talking (a talking mouth without it keeps a
                      # smiling photo's curve and reads as happy), and the lower lip, bent up
                      # at the sides by the frown, drops a little so that it still parts for
                      # each word. A sad voice moves the lips a little less, not so much less
                      # that the frowning lips stop parting (with its low arousal, 0.9 of
                      # the neutral mouth).
                      while_speaking={**_both("mouthFrown", 0.7),
                                      **_both("mouthLowerDown", 0.3)},
                      articulation=0.95),
    # The EMFACS anger prototype, AU4 + AU5 + AU7 + AU23/24 (+ AU17): brows lowered and
    # drawn together over a glare (upper lids raised, lower lids tightened), lips pressed
    # thin, the chin up. The nose wrinkler (AU9) and the lip corner depressor (AU15) belong
    # to disgust and sadness, and much of them lined the nose and turned the mouth down on an
    # angry face. A trace of each stays (AU9 comes with a hard AU4; the corners of pressed lips
    # turn down a little). Talking, it is the open-mouth anger prototype (AU10 + AU23 + AU25):
    # the lips stay tight and the upper lip lifts off the teeth. With the press simply let go
    # for speech, an angry face talked with a neutral mouth.
    "angry": Expression({**_both("browDown", 1.0), **_both("eyeWide", 0.5), **_both("eyeSquint", 0.5),
                         **_both("noseSneer", 0.3), **_both("mouthFrown", 0.1),
                         **_both("mouthPress", 0.5), "mouthShrugLower": 0.37,
                         "mouthRollLower": 0.35},
                        posture=(0.0, -3.0, 0.0), head_gain=1.2,
                        while_speaking={**_both("mouthPress", 0.3), **_both("mouthUpperUp", 0.25)}),
    # AU1 + AU2 + AU5 + AU26 with the lower lip dropped (AU16/25) and the lips rounding a
    # little (AU22): the mouth held open (the jaw alone parts the lips ~0.1 IOD), and speech
    # opening it wider still; a mouth opened only as far as speech opens it reads as neutral.
    # The whole brow rises (AU1 and AU2 alike): an inner brow raised above the outer one is
    # the oblique brow of fear and worry. The head goes back a little.
    "surprised": Expression({"browInnerUp": 0.8, **_both("browOuterUp", 1.0),
                             **_both("eyeWide", 1.0), "jawOpen": 0.14, "mouthFunnel": 0.3,
                             **_both("mouthLowerDown", 0.6)},
                            posture=(0.0, -2.0, 0.0), head_gain=1.2, articulation=1.15),
    # AU1 + AU2 + AU4 + AU5 + AU20: brows raised and drawn together (the middle of the
    # forehead lined, the skin between the brows furrowed), eyes wide, lips stretched sideways.
    "fearful": Expression({"browInnerUp": 0.8, **_both("browOuterUp", 0.4),
                           **_both("browDown", 0.25), **_both("eyeWide", 0.9),
                           **_both("mouthStretch", 0.5), "jawOpen": 0.1},
                          posture=(0.0, 1.0, 0.0), head_gain=0.9),
    # AU9 + AU10 (+ AU4, AU6).
    "disgusted": Expression({**_both("noseSneer", 0.7), **_both("mouthUpperUp", 0.45),
                             **_both("browDown", 0.23), **_both("cheekSquint", 0.3),
                             **_both("mouthFrown", 0.11), **_both("eyeSquint", 0.2)},
                            posture=(0.0, 0.5, 0.0)),
    # Unilateral AU12 + AU14.
    "contempt": Expression({"mouthSmileLeft": 0.35, "mouthDimpleLeft": 0.45,
                            "mouthPressLeft": 0.1, **_both("eyeSquint", 0.1)},
                           posture=(1.5, -1.0, 2.0)),
}

RAMP_S = 0.4  # cross-fade duration at segment boundaries

# Arousal widens the speech mouth more than its absence narrows it: an excited voice opens the
# jaw further, but a subdued one, narrowed as much, parted a frowning mouth's lips so little that
# the words could no longer be read off it.
AROUSAL_WIDENS, AROUSAL_NARROWS = 0.25, 0.1


def _arousal_articulation(arousal: float) -> float:
    return (AROUSAL_WIDENS if arousal > 0 else AROUSAL_NARROWS) * arousal

# Expression channels that hold the lips together (AU17 chin raise, AU24 press, AU28 roll):
# they give way while the jaw articulates, or a sad or angry face would mumble.
LIP_CLOSERS = ("mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
               "mouthRollLower", "mouthRollUpper")
SPEECH_JAW_FULL = 0.15  # speech jaw weight from which the talking variant applies fully


@dataclass
class ExpressionLayer:
    shapes: np.ndarray  # (N, 52) additive
    speaking_shapes: np.ndarray  # (N, 52) the same while the jaw articulates (`while_speaking`)
    posture: np.ndarray  # (N, 3) yaw, pitch, roll offsets
    head_gain: np.ndarray  # (N,) multiplies the prosody-driven head motion
    articulation: np.ndarray  # (N,) scales mouth movement: wider when aroused, smaller when low


# Emotions that keep the photo's own expression: a smiling photo stays smiling when neutral or
# happy. Every other emotion fades the smile out in proportion to its intensity: their actions
# oppose it (corners pulled down, lips pressed or stretched), or, for surprise, do not include
# it: raised brows and a dropped jaw on a face that keeps its grin read as a laugh, not as
# surprise.
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
    speaking = np.zeros_like(shapes)
    if emotion is None:
        return ExpressionLayer(shapes + rest, speaking + rest, posture, gain, articulation)
    for seg in emotion.segments:
        expr = EXPRESSIONS.get(seg.label)
        if expr is None:
            continue
        start = seg.segment.start if seg.segment.start > 1e-6 else -1e9
        end = seg.segment.end if seg.segment.end < duration - 1e-6 else 1e9
        w = window(times, start, end, RAMP_S, centred=True)
        amount = float(np.clip(seg.intensity, 0.0, 1.0)) * strength
        arousal = float(np.clip(seg.arousal, -1.0, 1.0))
        articulation += w * _arousal_articulation(arousal) * min(1.0, 0.5 + amount)
        if amount <= 0 or not w.any():
            continue
        articulation += w * amount * (expr.articulation - 1.0)
        if seg.label not in KEEPS_REST:
            suppress += w * min(1.0, amount)
        talking = {**expr.shapes, **{c: 0.0 for c in LIP_CLOSERS}, **expr.while_speaking}
        for out, values in ((shapes, expr.shapes), (speaking, talking)):
            for name, value in values.items():
                out[:, BLENDSHAPE_INDEX[name]] += w * amount * value
        posture += w[:, None] * amount * np.asarray(expr.posture)
        gain += w * (amount * (expr.head_gain - 1.0) + 0.2 * arousal)
    # The photo's own expression is a floor, not something to stack on: happy on a smiling
    # photo smiles as much as happy on a neutral one, not twice as much.
    kept_rest = rest[None, :] * (1 - np.clip(suppress, 0, 1))[:, None]
    return ExpressionLayer(np.maximum(shapes, kept_rest), np.maximum(speaking, kept_rest), posture,
                           np.clip(gain, 0.2, 2.0), np.clip(articulation, 0.6, 1.3))


def while_talking(layer: ExpressionLayer, speech_jaw: np.ndarray, fps: float) -> np.ndarray:
    """The expression per frame, moving to its talking variant where speech opens the jaw;
    smoothed over ~0.1 s so it changes for a word and returns in pauses, not per syllable."""
    sigma = max(1.0, 0.06 * fps)
    jaw = gaussian_filter1d(np.asarray(speech_jaw, float), sigma, mode="nearest")
    talking = np.clip(jaw / SPEECH_JAW_FULL, 0.0, 1.0)[:, None]
    return layer.shapes * (1 - talking) + layer.speaking_shapes * talking


def still_expression(label: str, amount: float, rest: np.ndarray | None = None,
                     speaking: bool = False) -> np.ndarray:
    """One held expression as ARKit-52 weights (what `expression_overlay` gives inside a long
    segment of `label` at intensity × strength = `amount`), on a portrait whose own expression
    is `rest`. `speaking` gives the variant used while the jaw articulates."""
    if label not in EXPRESSIONS:
        raise ValueError(f"Unknown emotion '{label}'; choose one of {', '.join(EXPRESSIONS)}.")
    expr = EXPRESSIONS[label]
    amount = float(np.clip(amount, 0.0, 1.0))
    rest = np.zeros(len(BLENDSHAPE_INDEX)) if rest is None else np.asarray(rest, float)
    values = ({**expr.shapes, **{c: 0.0 for c in LIP_CLOSERS}, **expr.while_speaking}
              if speaking else expr.shapes)
    shapes = np.zeros(len(BLENDSHAPE_INDEX))
    for name, value in values.items():
        shapes[BLENDSHAPE_INDEX[name]] += amount * value
    kept = rest * (1.0 if label in KEEPS_REST else 1.0 - min(1.0, amount))
    return np.maximum(shapes, kept)
