"""Fusion of the three emotion signals into one embedding per segment (SynchroRaMa's
multimodal emotion embedding).

The rule, in order:
1. Every signal reports a distribution over EMOTIONS (or none), valence, arousal and a
   confidence c in [0, 1]. Its fusion weight is BASE_WEIGHT[signal] * c.
2. A voice that clearly contradicts the words wins: when the speech signals are confident
   (c >= VOICE_CONFIDENT) and their valence has the opposite sign to the text's with
   |valence| >= VOICE_CLEAR, the text's weight is multiplied by CONTRARY_TEXT_FACTOR. The text
   alone therefore cannot turn an angry-sounding voice happy; with a neutral voice it can.
3. Categories: a weighted mixture of the signals' distributions plus a neutral prior of
   weight NEUTRAL_PRIOR, so weak or missing evidence stays near neutral. A voice that merely
   sounds calm is weak evidence against an emotion (most speech is prosodically neutral), so
   the voice signals' "neutral" mass counts VOICE_NEUTRAL_FACTOR as much.
4. Valence: weighted mean of the signals' valences with VALENCE_TRUST per signal (the words are
   the best valence cue, the voice the best arousal cue); arousal likewise with AROUSAL_TRUST.
5. Intensity: how far from neutral, (1 - p_neutral) scaled up by |valence| and arousal.
6. The fixed-length vector (VECTOR_FIELDS): the 8 probabilities, valence, arousal, intensity,
   then (valence, arousal, confidence) of each signal (0 where absent): 20 numbers.
"""
from __future__ import annotations

import numpy as np

from ..types import EMOTIONS, FusedEmotion, SignalEstimate
from .categories import CATEGORY_VA  # noqa: F401  (re-exported)

SIGNALS = ("text_sentiment", "speech_emotion", "valence_arousal")
BASE_WEIGHT = {"text_sentiment": 1.0, "speech_emotion": 1.0, "valence_arousal": 0.8}
VALENCE_TRUST = {"text_sentiment": 1.0, "speech_emotion": 0.5, "valence_arousal": 0.5}
AROUSAL_TRUST = {"text_sentiment": 0.3, "speech_emotion": 1.0, "valence_arousal": 1.0}
NEUTRAL_PRIOR = 0.35
VOICE_CONFIDENT = 0.4
VOICE_CLEAR = 0.3
CONTRARY_TEXT_FACTOR = 0.3
VOICE_NEUTRAL_FACTOR = 0.5

VECTOR_FIELDS = (tuple(f"p_{e}" for e in EMOTIONS) + ("valence", "arousal", "intensity")
                 + tuple(f"{s}_{k}" for s in SIGNALS for k in ("valence", "arousal", "confidence")))



def _weighted_mean(values: list[tuple[float, float]]) -> float:
    total = sum(w for _, w in values)
    return float(sum(v * w for v, w in values) / total) if total > 1e-9 else 0.0


def fuse(signals: list[SignalEstimate]) -> FusedEmotion:
    weights = {s.signal: BASE_WEIGHT.get(s.signal, 0.5) * float(np.clip(s.confidence, 0, 1))
               for s in signals}
    by_name = {s.signal: s for s in signals}

    # 2. A clearly contrary voice overrules the words.
    voice = [s for s in signals if s.signal != "text_sentiment" and s.valence is not None]
    text = by_name.get("text_sentiment")
    if voice and text is not None and text.valence is not None:
        voice_conf = max(s.confidence for s in voice)
        voice_valence = _weighted_mean([(s.valence, s.confidence) for s in voice])
        if (voice_conf >= VOICE_CONFIDENT and abs(voice_valence) >= VOICE_CLEAR
                and voice_valence * text.valence < 0):
            weights["text_sentiment"] *= CONTRARY_TEXT_FACTOR

    # 3. Categories with a neutral prior.
    probs = np.zeros(len(EMOTIONS))
    probs[EMOTIONS.index("neutral")] = NEUTRAL_PRIOR
    for s in signals:
        if s.probs:
            p = np.array([max(0.0, float(s.probs.get(e, 0.0))) for e in EMOTIONS])
            if p.sum() > 0:
                p = p / p.sum()
                if s.signal != "text_sentiment":
                    p[EMOTIONS.index("neutral")] *= VOICE_NEUTRAL_FACTOR
                probs += weights[s.signal] * p
    probs /= probs.sum()

    # 4. Valence and arousal.
    valence = _weighted_mean([(s.valence, weights[s.signal] * VALENCE_TRUST.get(s.signal, 0.5))
                              for s in signals if s.valence is not None])
    arousal = _weighted_mean([(s.arousal, weights[s.signal] * AROUSAL_TRUST.get(s.signal, 0.5))
                              for s in signals if s.arousal is not None])
    valence, arousal = float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))

    # 5. Intensity.
    non_neutral = 1.0 - probs[EMOTIONS.index("neutral")]
    intensity = float(np.clip(non_neutral * (0.7 + 0.3 * max(abs(valence), max(arousal, 0.0))) * 1.4, 0, 1))

    total_w = sum(weights.values())
    contributions = {k: (w / total_w if total_w > 1e-9 else 0.0) for k, w in weights.items()}
    per_signal = []
    for name in SIGNALS:
        s = by_name.get(name)
        per_signal += [0.0, 0.0, 0.0] if s is None else [
            s.valence or 0.0, s.arousal or 0.0, float(np.clip(s.confidence, 0, 1))]
    vector = [*map(float, probs), valence, arousal, intensity, *map(float, per_signal)]
    return FusedEmotion(probs={e: float(p) for e, p in zip(EMOTIONS, probs)}, valence=valence,
                        arousal=arousal, intensity=intensity, vector=vector,
                        contributions=contributions)
