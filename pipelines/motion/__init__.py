"""Audio-to-motion (A2M): transcript, prosody, emotion and scene cues → MotionTrack.

Public API:
    AudioToMotion(settings)(transcript=..., prosody=..., duration=..., fps=..., seed=...,
                            emotion=None, scene=None) -> MotionTrack
    motion_to_csv(track, path)
    known_cue_kinds() -> the scene cue kinds understood
"""
from .a2m import AudioToMotion
from .cues import CUE_HANDLERS, known_cue_kinds
from .expressions import EXPRESSIONS
from .io import motion_to_csv

__all__ = ["AudioToMotion", "motion_to_csv", "known_cue_kinds", "CUE_HANDLERS", "EXPRESSIONS"]
