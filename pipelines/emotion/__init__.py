"""Emotion stage: segments, three signals per segment (text sentiment, speech emotion,
valence/arousal from the voice), fused into one embedding; then the user's overrides.

    EmotionAnalyzer(settings)(speech, prosody, transcript, segments) -> EmotionTrack (detected)
    apply_overrides(track, overrides) -> EmotionTrack (effective values the face uses)
"""
from __future__ import annotations

from .analyzer import (
           EmotionAnalyzer,
           apply_overrides,
           load_emotion_track_file,
           parse_emotion,
)
from .fusion import CATEGORY_VA, VECTOR_FIELDS, fuse
from .segments import merge_segments, segment_speech, split_segment

__all__ = ["CATEGORY_VA", "EmotionAnalyzer", "VECTOR_FIELDS", "apply_overrides", "fuse",
           "load_emotion_track_file", "merge_segments", "parse_emotion", "segment_speech",
           "split_segment"]
