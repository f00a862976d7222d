"""Prosodic analysis common to the A2M layers: loudness envelope, voice activity, pitch, and
accents (stressed, loud / high-pitched syllable peaks), computed once on the prosody's own grid
and sampled at any times."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from ..types import Prosody
from .signal import critically_damped, moving_max, smoothstep


@dataclass
class ProsodyFeatures:
    hop: float
    loud: np.ndarray  # loudness, lightly smoothed (≈ 30 ms)
    envelope: np.ndarray  # syllable-level loudness envelope (max over ≈ 120 ms, smoothed)
    speech: np.ndarray  # 0..1 smoothed voice activity
    pitch: np.ndarray  # f0 in semitones re the speaker's median, 0 where unvoiced
    accent_times: np.ndarray  # seconds
    accent_strength: np.ndarray  # 0..1

    @classmethod
    def from_prosody(cls, prosody: Prosody, duration: float) -> "ProsodyFeatures":
        hop = float(prosody.hop) if prosody.hop and prosody.hop > 0 else 0.01
        n = len(prosody.loudness)
        if n == 0:
            z = np.zeros(max(1, int(np.ceil(duration / hop)) + 1))
            return cls(hop, z, z, z, z, np.zeros(0), np.zeros(0))
        rate = 1.0 / hop
        loud = np.clip(np.nan_to_num(np.asarray(prosody.loudness, np.float64)), 0.0, 1.5)
        loud_s = critically_damped(loud, 0.015, rate, zero_phase=True)
        envelope = critically_damped(moving_max(loud, 0.12, rate), 0.025, rate, zero_phase=True)
        speech = critically_damped(np.asarray(prosody.speech, np.float64), 0.03, rate,
                                   zero_phase=True)
        f0 = np.nan_to_num(np.asarray(prosody.f0, np.float64))
        voiced = np.asarray(prosody.voiced, bool) & (f0 > 40)
        pitch = np.zeros(n)
        if voiced.sum() >= 5:
            ref = np.median(f0[voiced])
            pitch[voiced] = 12.0 * np.log2(f0[voiced] / ref)
        pitch = np.clip(pitch, -12, 12)

        # Accent candidates: syllable peaks of loudness, boosted where the pitch is raised.
        boost = 1.0 + 0.5 * smoothstep(critically_damped(pitch, 0.03, rate, zero_phase=True),
                                       0.0, 4.0)
        prom = critically_damped(loud_s * boost, 0.03, rate, zero_phase=True) * \
            np.clip(speech * 1.5, 0, 1)
        peaks, props = find_peaks(prom, distance=max(1, int(0.25 * rate)), prominence=0.08)
        heights = prom[peaks]
        strength = np.clip((heights - 0.35) / 0.6, 0, 1) * \
            np.clip(props["prominences"] / 0.3, 0.3, 1.0)
        keep = strength > 0.1
        return cls(hop, loud_s, envelope, speech, pitch,
                   peaks[keep] * hop, strength[keep])

    def at(self, times: np.ndarray, name: str) -> np.ndarray:
        values = getattr(self, name)
        grid = np.arange(len(values)) * self.hop
        return np.interp(times, grid, values)
