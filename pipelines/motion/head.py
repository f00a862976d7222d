"""Head pose from prosody (accent nods and turns, phrase-level pitch, speech sway) plus idle
drift and breathing. Everything goes through critically damped filters, so there is no jitter.

Sign conventions (as the CPU rig renders them): yaw > 0 turns the face towards the subject's
right (image left); pitch > 0 is chin down (a nod); roll > 0 tilts the head towards the
subject's left shoulder. Translations are in inter-ocular distances (tz > 0: closer).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import HEAD_POSE_COLUMNS
from .features import ProsodyFeatures
from .signal import critically_damped, smooth_noise

YAW, PITCH, ROLL, TX, TY, TZ = (HEAD_POSE_COLUMNS.index(c) for c in HEAD_POSE_COLUMNS)


@dataclass
class HeadLayers:
    audio: np.ndarray  # (N, 6) prosody-driven motion (scaled by head_motion)
    idle: np.ndarray  # (N, 6) idle drift and breathing (scaled by idle_motion)


def _bumps(n: int, fps: float, indices: np.ndarray, amplitudes: np.ndarray,
           rise: float) -> np.ndarray:
    """Sum of smooth bumps A·x²·e^(2(1-x)), x = (t - t_k) / rise: zero slope at onset, peak A
    `rise` seconds after the index, exponential return."""
    length = int(np.ceil(8 * rise * fps)) + 1
    x = np.arange(length) / (rise * fps)
    kernel = x * x * np.exp(2 * (1 - x))
    train = np.zeros(n + length)
    shifted = indices + length  # indices may be negative (accent near the start)
    ok = (shifted >= 0) & (shifted < n + length)
    np.add.at(train, shifted[ok], amplitudes[ok])
    return np.convolve(train, kernel)[length:length + n]


def _steps(n: int, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Piecewise-constant signal taking values[k] from indices[k] on (0 before the first)."""
    order = np.argsort(indices, kind="stable")
    indices, values = indices[order], values[order]
    pos = np.searchsorted(indices, np.arange(n), side="right") - 1
    return np.where(pos >= 0, values[np.clip(pos, 0, None)] if len(values) else 0.0, 0.0)


def prosodic_head(feats: ProsodyFeatures, times: np.ndarray, fps: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Unscaled audio-driven head motion, (N, 6)."""
    n = len(times)
    pose = np.zeros((n, 6))
    if n == 0:
        return pose
    speech = np.clip(feats.at(times, "speech"), 0, 1)
    acc_t, acc_s = feats.accent_times, feats.accent_strength
    k = len(acc_t)

    # Nods on accents: mostly down, some up; the nod peaks on the accent.
    rise = 0.2
    amp = 2.6 * acc_s * rng.uniform(0.7, 1.3, k) * np.where(rng.random(k) < 0.25, -0.6, 1.0)
    idx = np.round((acc_t - 0.9 * rise) * fps).astype(int)
    pose[:, PITCH] += _bumps(n, fps, idx, amp, rise)

    # Turns: on some accents the head settles into a new yaw/roll (mean-reverting targets).
    turn = rng.random(k) < 0.45
    yaw_t, roll_t = np.zeros(k), np.zeros(k)
    y = r = 0.0
    draws = rng.standard_normal((k, 2))
    for j in range(k):
        if turn[j]:
            y = float(np.clip(0.5 * y + 2.5 * acc_s[j] * draws[j, 0], -5.0, 5.0))
            r = float(np.clip(0.3 * y + 0.9 * acc_s[j] * draws[j, 1], -2.5, 2.5))
        yaw_t[j], roll_t[j] = y, r
    idx = np.round((acc_t - 0.2) * fps).astype(int)
    # Targets relax back towards centre during pauses.
    pose[:, YAW] += critically_damped(_steps(n, idx, yaw_t) * (0.4 + 0.6 * speech), 0.22, fps)
    pose[:, ROLL] += critically_damped(_steps(n, idx, roll_t) * (0.4 + 0.6 * speech), 0.3, fps)

    # Phrase-level: a higher voice lifts the chin a little; louder phrases lean in.
    pitch_lp = critically_damped(feats.at(times, "pitch"), 0.4, fps, zero_phase=True)
    pose[:, PITCH] += np.clip(-0.25 * pitch_lp, -2.0, 2.0) * speech
    loud_lp = critically_damped(feats.at(times, "envelope"), 0.5, fps, zero_phase=True)
    pose[:, TZ] += 0.025 * loud_lp * speech

    # Speech sway: small continuous motion while talking.
    sway = np.stack([smooth_noise(rng, n, fps, 0.35) for _ in range(3)], axis=1)
    pose[:, [YAW, PITCH, ROLL]] += sway * np.array([0.8, 0.5, 0.4]) * speech[:, None]

    # The head translates a little with its rotation.
    pose[:, TX] += -0.004 * pose[:, YAW]
    pose[:, TY] += 0.004 * pose[:, PITCH]
    return pose


def idle_head(times: np.ndarray, fps: float, rng: np.random.Generator,
              speech: np.ndarray) -> np.ndarray:
    """Unscaled idle motion: slow drift and breathing (~0.2–0.3 Hz), (N, 6)."""
    n = len(times)
    pose = np.zeros((n, 6))
    if n == 0:
        return pose
    drift = np.stack([smooth_noise(rng, n, fps, 1.5) for _ in range(6)], axis=1)
    pose += drift * np.array([1.2, 0.9, 0.6, 0.015, 0.01, 0.01])
    freq = rng.uniform(0.2, 0.3)
    phase = 2 * np.pi * freq * times + rng.uniform(0, 2 * np.pi) + \
        0.6 * smooth_noise(rng, n, fps, 3.0)
    breath = np.sin(phase) * (1.0 - 0.5 * np.clip(speech, 0, 1))
    pose[:, TY] += 0.006 * breath
    pose[:, PITCH] += -0.3 * breath  # inhaling lifts the chin slightly
    pose[:, TZ] += 0.003 * breath
    return pose


def head_motion(feats: ProsodyFeatures, times: np.ndarray, fps: float,
                rng: np.random.Generator) -> HeadLayers:
    speech = np.clip(feats.at(times, "speech"), 0, 1)
    # Independent streams so that changing one layer's draws does not reshuffle the other.
    audio_rng, idle_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63, 2))
    return HeadLayers(audio=prosodic_head(feats, times, fps, audio_rng),
                      idle=idle_head(times, fps, idle_rng, speech))
