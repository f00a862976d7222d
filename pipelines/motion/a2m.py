"""AudioToMotion: transcript + prosody (+ emotion, scene cues) → per-frame head pose and ARKit
blendshapes. The layers, in order:

1. mouth (visemes.py): coarticulated visemes from timed phones with a loudness-driven jaw, or
   loudness alone when there are no phones; sampled `lip_lead_s` ahead of the audio;
2. head (head.py): accent nods/turns, phrase-level pitch, speech sway, idle drift, breathing;
3. emotion (expressions.py): FACS-style overlay per segment, posture, head-motion gain;
4. scene cues (cues.py): gestures, expressions, gaze, damping of head motion;
5. eyes (blinks.py): blinks, saccades, gaze stabilisation against head turns;
6. bilabial closure last, so P/B/M close the lips whatever the other layers do.

Deterministic per seed: every random draw comes from np.random.default_rng(seed), split into
independent streams per layer.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..settings import MotionSettings
from ..types import BLENDSHAPE_INDEX, EmotionTrack, MotionTrack, Prosody, SceneDescription, Transcript
from .blinks import blink_curves, blink_times, eye_shapes, gaze_path
from .cues import apply_cues
from .expressions import expression_overlay, while_talking
from .features import ProsodyFeatures
from .head import PITCH, YAW, head_motion
from .visemes import apply_closure, mouth_from_energy, mouth_from_phones, normalise_label

# Safety limits for the renderer (cues can stack); typical motion stays far inside.
POSE_LIMITS = np.array([25.0, 20.0, 15.0, 0.3, 0.3, 0.3])


class AudioToMotion:
    """The embedded, procedural A2M module (CPU, no weights)."""

    def __init__(self, settings: MotionSettings):
        self.settings = settings

    def __call__(self, *, transcript: Transcript, prosody: Prosody, duration: float, fps: float,
                 seed: int, emotion: EmotionTrack | None = None,
                 scene: SceneDescription | None = None,
                 rest_expression: np.ndarray | None = None) -> MotionTrack:
        s = self.settings
        if not fps or fps <= 0 or not np.isfinite(fps):
            raise InputError(f"Frame rate must be positive, got {fps}.")
        if duration is None or not np.isfinite(duration) or duration < 0:
            raise InputError(f"Duration must be a non-negative number of seconds, got {duration}.")
        n = int(round(duration * fps))
        times = np.arange(n) / fps
        streams = np.random.default_rng(seed).spawn(4)
        head_rng, blink_rng, gaze_rng, cue_rng = streams
        feats = ProsodyFeatures.from_prosody(prosody, duration)

        # 1. Mouth, ahead of the audio.
        mouth_times = times + s.lip_lead_s
        if transcript.source != "energy" and any(normalise_label(p.label) != "SIL"
                                                 for p in transcript.phones):
            mouth = mouth_from_phones(transcript, feats, mouth_times, duration, fps,
                                      s.articulation, s.jaw_gain)
        else:
            mouth = mouth_from_energy(feats, mouth_times, s.articulation, s.jaw_gain)

        # 2–4. Head: prosody and idle layers, emotion gain and posture, scene cues.
        head = head_motion(feats, times, fps, head_rng)
        expr = expression_overlay(times, emotion, s.expression_strength, duration, rest_expression)
        cues = apply_cues(times, scene, cue_rng)
        pose = head.audio * (s.head_motion * expr.head_gain)[:, None] + head.idle * s.idle_motion
        pose *= cues.head_damp[:, None]
        pose[:, :3] += expr.posture
        pose += cues.head
        pose = np.clip(pose, -POSE_LIMITS, POSE_LIMITS)

        # 5. Eyes.
        onsets = blink_times(duration, s.blink_rate_per_min, blink_rng,
                             feats.accent_times, feats.accent_strength)
        blink = blink_curves(times, fps, onsets, blink_rng)
        gaze = gaze_path(times, gaze_rng, s.saccades) * cues.gaze_damp[:, None] + cues.gaze
        # Gaze stabilisation: the eyes counter-rotate a little against head turns and nods
        # (an eyeLook weight of 1 is roughly 30 degrees).
        gaze[:, 0] += s.gaze_stabilisation * pose[:, YAW] / 30.0
        gaze[:, 1] += s.gaze_stabilisation * pose[:, PITCH] / 30.0

        mouth_shapes = mouth.shapes * expr.articulation[:, None]
        expr_shapes = while_talking(expr, mouth_shapes[:, BLENDSHAPE_INDEX["jawOpen"]], fps)
        shapes = mouth_shapes + expr_shapes + cues.shapes + eye_shapes(n, blink, gaze)
        shapes = np.clip(shapes, 0.0, 1.0)
        # 6. Bilabial closure wins.
        apply_closure(shapes, mouth.closure)
        shapes = np.clip(shapes, 0.0, 1.0)
        return MotionTrack(fps=float(fps), blendshapes=shapes.astype(np.float32),
                           head_pose=pose.astype(np.float32))
