"""Segments: stretches of speech that each get one emotion, split at sentence ends of the
transcript and at pauses found by voice activity detection. Users can merge and split them."""
from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from ..types import Prosody, Segment, Transcript

_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*$")


def segment_speech(transcript: Transcript, prosody: Prosody, duration: float,
                   min_pause: float = 0.45, max_segment: float = 12.0,
                   min_segment: float = 0.8) -> list[Segment]:
    """Splits at sentence ends of the script and at pauses of at least `min_pause` seconds
    (silences found by voice activity detection, and gaps between aligned words). Segments tile
    [0, duration] and are at least `min_segment` long."""
    cuts: list[float] = list(vad_pauses(prosody, min_pause))
    if transcript.words:
        words = transcript.words
        script_tokens = transcript.text.split()
        for i in range(len(words) - 1):
            gap = words[i + 1].start - words[i].end
            ends_sentence = i < len(script_tokens) and bool(_SENTENCE_END.search(script_tokens[i]))
            if gap >= min_pause or (ends_sentence and gap >= 0.1):
                cuts.append((words[i].end + words[i + 1].start) / 2)
    cuts = _spaced(sorted(c for c in cuts if min_segment <= c <= duration - min_segment), min_segment)
    bounds = [0.0] + [c for c in cuts if 0 < c < duration] + [duration]
    # Very long stretches without a pause are split evenly so an override stays local.
    fine: list[float] = [bounds[0]]
    for a, b in zip(bounds[:-1], bounds[1:]):
        parts = max(1, int(np.ceil((b - a) / max_segment)))
        fine += [a + (b - a) * k / parts for k in range(1, parts + 1)]
    pairs = list(zip(fine[:-1], fine[1:]))
    if transcript.words:
        texts = [" ".join(w.text for w in transcript.words if a <= (w.start + w.end) / 2 < b)
                 for a, b in pairs]
    else:
        texts = _spread_script(transcript.text, pairs, prosody)
    return [Segment(start=float(a), end=float(b), text=t) for (a, b), t in zip(pairs, texts)]


def _spread_script(text: str, pairs: list[tuple[float, float]], prosody: Prosody) -> list[str]:
    """Without word timing (the script could not be aligned), the script's words still carry
    its sentiment: share them out in proportion to each segment's voiced time."""
    words = text.split()
    if not words:
        return ["" for _ in pairs]
    speech = prosody.speech.astype(float)
    voiced = np.array([speech[int(a / prosody.hop):int(b / prosody.hop)].sum() + 1e-3
                       for a, b in pairs])
    edges = np.round(np.concatenate([[0], np.cumsum(voiced)]) / voiced.sum() * len(words)).astype(int)
    return [" ".join(words[edges[i]:edges[i + 1]]) for i in range(len(pairs))]


def vad_pauses(prosody: Prosody, min_pause: float) -> list[float]:
    """Middles of the silences (no voice activity) of at least `min_pause` seconds."""
    speech = prosody.speech.astype(bool)
    out, run_start = [], None
    for i, active in enumerate(np.append(speech, True)):
        if not active and run_start is None:
            run_start = i
        elif active and run_start is not None:
            if (i - run_start) * prosody.hop >= min_pause and run_start > 0 and i < len(speech):
                out.append((run_start + i) / 2 * prosody.hop)
            run_start = None
    return out


def _spaced(cuts: list[float], min_gap: float) -> list[float]:
    kept: list[float] = []
    for c in cuts:
        if not kept or c - kept[-1] >= min_gap:
            kept.append(c)
    return kept


def merge_segments(segments: list[Segment], index: int) -> list[Segment]:
    """Merges segment `index` with the next one."""
    if not 0 <= index < len(segments) - 1:
        raise InputError(f"Cannot merge segment {index}: there are {len(segments)} segments "
                         "and the last one has no next segment.")
    a, b = segments[index], segments[index + 1]
    merged = Segment(a.start, b.end, " ".join(t for t in (a.text, b.text) if t))
    return segments[:index] + [merged] + segments[index + 2:]


def split_segment(segments: list[Segment], index: int, at: float,
                  transcript: Transcript | None = None) -> list[Segment]:
    """Splits segment `index` at time `at` (seconds); words go to the side of their middle."""
    if not 0 <= index < len(segments):
        raise InputError(f"No segment {index}: there are {len(segments)}.")
    seg = segments[index]
    if not seg.start + 0.1 < at < seg.end - 0.1:
        raise InputError(f"Split time {at:.2f}s must lie inside segment {index} "
                         f"({seg.start:.2f}-{seg.end:.2f}s), at least 0.1 s from its ends.")
    words = transcript.words if transcript else []
    text = lambda a, b: " ".join(w.text for w in words if a <= (w.start + w.end) / 2 < b)
    return segments[:index] + [Segment(seg.start, at, text(seg.start, at)),
                               Segment(at, seg.end, text(at, seg.end))] + segments[index + 1:]
