"""Emotion stage. For now: segments at sentence ends and pauses, each neutral unless the user
overrides it (the multimodal embedding that detects emotion is a later stage and fills
`detect` in). The motion stage reads only the EmotionTrack, so nothing else changes then.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from ..types import EMOTIONS, EmotionTrack, Prosody, Segment, SegmentEmotion, Transcript

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*$")


def segment_speech(transcript: Transcript, prosody: Prosody, duration: float,
                   min_pause: float = 0.45, max_segment: float = 12.0) -> list[Segment]:
    """Splits at sentence ends of the script and at pauses of at least `min_pause` seconds
    (from word gaps, or from voice activity when there are no words). Segments tile [0, duration]."""
    cuts: list[float] = []
    if transcript.words:
        words = transcript.words
        script_tokens = transcript.text.split()
        for i in range(len(words) - 1):
            gap = words[i + 1].start - words[i].end
            ends_sentence = i < len(script_tokens) and bool(_SENTENCE_END.search(script_tokens[i]))
            if gap >= min_pause or (ends_sentence and gap >= 0.1):
                cuts.append((words[i].end + words[i + 1].start) / 2)
    else:
        speech = prosody.speech.astype(bool)
        run_start = None
        for i, active in enumerate(np.append(speech, True)):
            if not active and run_start is None:
                run_start = i
            elif active and run_start is not None:
                if (i - run_start) * prosody.hop >= min_pause and run_start > 0 and i < len(speech):
                    cuts.append((run_start + i) / 2 * prosody.hop)
                run_start = None
    bounds = [0.0] + [c for c in cuts if 0 < c < duration] + [duration]
    # Very long stretches without a pause are split evenly so an override stays local.
    fine: list[float] = [bounds[0]]
    for a, b in zip(bounds[:-1], bounds[1:]):
        parts = max(1, int(np.ceil((b - a) / max_segment)))
        fine += [a + (b - a) * k / parts for k in range(1, parts + 1)]
    segments = []
    for a, b in zip(fine[:-1], fine[1:]):
        text = " ".join(w.text for w in transcript.words if a <= (w.start + w.end) / 2 < b)
        segments.append(Segment(start=float(a), end=float(b), text=text))
    return segments


def parse_emotion(spec: str) -> tuple[str, float]:
    """"happy" or "happy:0.6" → ("happy", 0.6). Intensity defaults to 0.7."""
    label, _, intensity = spec.strip().lower().partition(":")
    if label not in EMOTIONS:
        raise InputError(f"Unknown emotion '{label}'.", f"Use one of: {', '.join(EMOTIONS)}.")
    try:
        value = float(intensity) if intensity else 0.7
    except ValueError:
        raise InputError(f"Emotion intensity must be a number in 0..1, got '{intensity}'.") from None
    if not 0.0 <= value <= 1.0:
        raise InputError(f"Emotion intensity must be in 0..1, got {value}.")
    return label, value


def build_emotion_track(segments: list[Segment], overrides) -> EmotionTrack:
    """Detected emotion per segment (neutral for now), then the user's overrides on top."""
    track = EmotionTrack([SegmentEmotion(segment=s) for s in segments])
    for ov in overrides:
        targets = track.segments if ov.segment < 0 else [track.segments[ov.segment]] \
            if ov.segment < len(track.segments) else []
        if not targets:
            raise InputError(f"Emotion override for segment {ov.segment}, but the speech has "
                             f"only {len(track.segments)} segments.")
        for seg in targets:
            if ov.label is not None:
                seg.label = ov.label
            if ov.intensity is not None:
                seg.intensity = float(ov.intensity)
            seg.source = "override"
    return track
