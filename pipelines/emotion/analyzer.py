"""Runs the three signal backends on every segment and fuses them; applies overrides."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from ..errors import InputError
from ..settings import EmotionSettings
from ..types import (
    EMOTIONS,
    EmotionTrack,
    Prosody,
    Segment,
    SegmentEmotion,
    Speech,
    Transcript,
)
from .fusion import CATEGORY_VA, fuse


class EmotionAnalyzer:
    """Backends are created on first use and kept (models load once per analyzer)."""

    def __init__(self, settings: EmotionSettings | None = None):
        self.settings = settings or EmotionSettings()
        self._text = self._speech = self._va = None

    def _backends(self):
        if self._text is None:
            from .speech_signals import make_speech_emotion, make_valence_arousal
            from .text_sentiment import make_text_sentiment

            s = self.settings
            # The embedded backends ignore the device; the transformers ones load onto it.
            self._text = make_text_sentiment(s.text_backend, s.text_model or None, s.device)
            self._speech = make_speech_emotion(s.speech_backend, s.speech_model or None, s.device)
            self._va = make_valence_arousal(s.valence_arousal_backend,
                                            s.valence_arousal_model or None, s.device)
        return self._text, self._speech, self._va

    def __call__(self, speech: Speech, prosody: Prosody, transcript: Transcript,
                 segments: list[Segment]) -> EmotionTrack:
        text_backend, speech_backend, va_backend = self._backends()
        out = []
        for seg in segments:
            signals = [text_backend(seg.text), speech_backend(speech, prosody, seg),
                       va_backend(speech, prosody, seg)]
            fused = fuse(signals)
            out.append(SegmentEmotion(segment=seg, label=fused.label, intensity=fused.intensity,
                                      valence=fused.valence, arousal=fused.arousal,
                                      source="detected", fused=fused, signals=signals))
        return EmotionTrack(out)


def parse_emotion(spec: str) -> tuple[str, float]:
    """"happy" or "happy:0.6" → ("happy", 0.6). Intensity defaults to 0.7."""
    label, _, intensity = spec.strip().lower().partition(":")
    _check_label(label)
    try:
        value = float(intensity) if intensity else 0.7
    except ValueError:
        raise InputError(f"Emotion intensity must be a number in 0..1, got '{intensity}'.") from None
    _check_range("intensity", value, 0.0, 1.0)
    return label, value


def _check_label(label: str) -> None:
    if label not in EMOTIONS:
        raise InputError(f"Unknown emotion '{label}'.", f"Use one of: {', '.join(EMOTIONS)}.")


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise InputError(f"Emotion {name} must be in {lo:g}..{hi:g}, got {value}.")


def apply_overrides(track: EmotionTrack, overrides) -> EmotionTrack:
    """The effective emotion per segment: detected values, replaced by the user's where set
    (None = keep detected). Overriding only the category also sets that category's typical
    valence/arousal, so the face and the head motion agree with the choice."""
    track = copy.deepcopy(track)
    n = len(track.segments)
    for seg in track.segments:  # start from what was detected: applying twice changes nothing
        if seg.fused is not None:
            seg.label, seg.intensity = seg.fused.label, seg.fused.intensity
            seg.valence, seg.arousal = seg.fused.valence, seg.fused.arousal
            seg.source = "detected"
    for ov in overrides:
        if ov.segment >= n:
            raise InputError(f"Emotion override for segment {ov.segment}, but the speech has "
                             f"only {n} segments (0..{n - 1}).")
        targets = track.segments if ov.segment < 0 else [track.segments[ov.segment]]
        for seg in targets:
            if ov.label is not None:
                _check_label(ov.label)
                seg.label = ov.label
                seg.valence, seg.arousal = CATEGORY_VA[ov.label]
                if ov.intensity is None and seg.source == "detected":
                    seg.intensity = 0.7 if ov.label != "neutral" else 0.0
            if ov.intensity is not None:
                _check_range("intensity", ov.intensity, 0.0, 1.0)
                seg.intensity = float(ov.intensity)
            if ov.valence is not None:
                _check_range("valence", ov.valence, -1.0, 1.0)
                seg.valence = float(ov.valence)
            if ov.arousal is not None:
                _check_range("arousal", ov.arousal, -1.0, 1.0)
                seg.arousal = float(ov.arousal)
            seg.source = "override"
    return track


def load_emotion_track_file(path: str | Path):
    """Reads per-segment overrides: a JSON list (or {"segments": [...]}) of objects with
    "segment" (index; omit or -1 for all) and any of "label" ("auto" = detected), "intensity",
    "valence", "arousal"."""
    from ..project import EmotionOverride

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"Emotion track file not found: {path}") from None
    except (OSError, ValueError) as e:
        raise InputError(f"Could not read emotion track {path}: {e}") from None
    items = data.get("segments") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputError(f"{path} must hold a list of segment overrides.",
                         'Example: [{"segment": 0, "label": "happy", "intensity": 0.8}]')
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"Entry {i} of {path} is not an object.")
        label = item.get("label")
        label = None if label in (None, "auto") else str(label).lower()
        if label is not None:
            _check_label(label)
        num = lambda k: None if item.get(k) in (None, "auto") else float(item[k])
        try:
            out.append(EmotionOverride(segment=int(item.get("segment", -1)), label=label,
                                       intensity=num("intensity"), valence=num("valence"),
                                       arousal=num("arousal")))
        except (TypeError, ValueError) as e:
            raise InputError(f"Entry {i} of {path}: {e}") from None
    return out
