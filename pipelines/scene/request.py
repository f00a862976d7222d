"""What a scene writer (LLM or template) is told about the clip, and the LLM prompt."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..types import EmotionTrack, FaceAnalysis, Segment, Transcript, Word
from .parser import SceneContext
from .vocabulary import CUE_KINDS, vocabulary_help


@dataclass(frozen=True)
class SegmentBrief:
    start: float
    end: float
    text: str
    label: str = "neutral"
    intensity: float = 0.0
    valence: float = 0.0
    arousal: float = 0.0


@dataclass(frozen=True)
class SceneRequest:
    duration: float
    segments: tuple[SegmentBrief, ...]
    words: tuple[Word, ...] = ()
    portrait: dict[str, Any] = field(default_factory=dict)  # describe_face() output
    transcript_source: str = "aligned"

    @classmethod
    def build(cls, duration: float, transcript: Transcript | None, emotion: EmotionTrack | None,
              face: FaceAnalysis | None) -> "SceneRequest":
        from ..face.describe import describe_face

        segs: list[SegmentBrief] = []
        if emotion is not None and emotion.segments:
            for s in emotion.segments:
                segs.append(SegmentBrief(s.segment.start, s.segment.end, s.segment.text, s.label,
                                         float(s.intensity), float(s.valence), float(s.arousal)))
        else:
            segs.append(SegmentBrief(0.0, duration, transcript.text if transcript else ""))
        return cls(duration=float(duration), segments=tuple(segs),
                   words=tuple(transcript.words) if transcript else (),
                   portrait=describe_face(face) if face is not None else {},
                   transcript_source=transcript.source if transcript else "energy")

    @property
    def context(self) -> SceneContext:
        return SceneContext(duration=self.duration, words=self.words,
                            segments=tuple(Segment(s.start, s.end, s.text) for s in self.segments))


SYSTEM_PROMPT = """You direct a short talking-head video made from one portrait photo and one \
speech recording. Describe what the speaker does and feels over time beyond what the audio \
alone says: head gestures, gaze, facial expression. Keep it natural and sparse (one or two \
gestures per sentence at most) and consistent with the emotion of each segment.

Answer with one JSON object and nothing else:
{"description": "2-4 sentences of free text: the speaker's look, mood and manner",
 "cues": [{"kind": "<one of the kinds below>", "start": <seconds>, "end": <seconds>,
           "strength": <0.3 to 1.5>, "word": "<optional spoken word the cue lands on>"}]}
Times are seconds from the start of the clip, between 0 and the clip's duration.

Cue kinds:
"""


def build_messages(request: SceneRequest, max_words: int = 400) -> list[dict[str, str]]:
    """Chat messages for an OpenAI-compatible endpoint: the transcript with segment times, the
    fused emotion of each segment and a short description of the portrait."""
    lines = [f"Clip duration: {request.duration:.2f} s."]
    if request.portrait:
        p = request.portrait
        lines.append(f"Portrait: {p.get('summary', '')} "
                     f"(framing: {p.get('framing', '?')}, facing {p.get('facing', '?')}).")
    lines.append("Segments (time, detected emotion, what is said):")
    for s in request.segments:
        lines.append(f"[{s.start:.2f}-{s.end:.2f} s] {s.label} (intensity {s.intensity:.2f}, "
                     f"valence {s.valence:+.2f}, arousal {s.arousal:+.2f}): "
                     f"{json.dumps(s.text or '(no words recognised)')}")
    if request.words:
        shown = request.words[:max_words]
        lines.append("Word start times: " + " ".join(f"{w.text}@{w.start:.2f}" for w in shown)
                     + (" …" if len(request.words) > max_words else ""))
    lines.append("Write the scene for this clip.")
    return [{"role": "system", "content": SYSTEM_PROMPT + vocabulary_help()},
            {"role": "user", "content": "\n".join(lines)}]


KIND_NAMES = tuple(k.name for k in CUE_KINDS)
