"""Eyes: blinks at a given rate with irregular (gamma-distributed) intervals, kept off stressed
syllables; gaze saccades (hold, then a quick jump) plus a little gaze stabilisation against
head turns (vestibulo-ocular reflex)."""
from __future__ import annotations

import numpy as np

from ..types import BLENDSHAPE_INDEX
from .signal import smoothstep

BLINK_SHAPE = 3.0  # gamma shape of the inter-blink interval (CV = 1/sqrt(shape))
DOUBLE_BLINK_P = 0.08


def blink_times(duration: float, rate_per_min: float, rng: np.random.Generator,
                accent_times: np.ndarray, accent_strength: np.ndarray) -> np.ndarray:
    """Onset times of blinks in [0, duration)."""
    if rate_per_min <= 0 or duration <= 0:
        return np.zeros(0)
    mean = 60.0 / rate_per_min * (1 + DOUBLE_BLINK_P)  # doubles add blinks
    count = int(duration / mean * 2) + 8
    gaps = np.maximum(rng.gamma(BLINK_SHAPE, mean / BLINK_SHAPE, count), 0.5)
    first = rng.uniform(0.1, 1.0) * mean
    onsets = first + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    doubles = rng.random(count) < DOUBLE_BLINK_P
    onsets = np.sort(np.concatenate([onsets, onsets[doubles] + rng.uniform(0.3, 0.45,
                                                                           doubles.sum())]))
    # Keep blinks off stressed, loud peaks: a blink whose closed phase would cover an accent
    # starts just after it instead (repeated, in case that lands on the next accent).
    strong = np.sort(accent_times[accent_strength > 0.4])
    for _ in range(4):
        if strong.size == 0:
            break
        j = np.clip(np.searchsorted(strong, onsets), 0, strong.size - 1)  # first accent ≥ onset
        peak = strong[j]
        clash = (peak >= onsets - 0.02) & (peak <= onsets + 0.42)
        if not clash.any():
            break
        onsets = np.where(clash, peak + 0.1, onsets)
    return onsets[onsets < duration]


def blink_curves(times: np.ndarray, fps: float, onsets: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """Lid closure 0..1 at `times`: ~100–150 ms closing, a short hold, a slower opening."""
    out = np.zeros_like(times)
    if onsets.size == 0 or times.size == 0:
        return out
    m = onsets.size
    close = rng.uniform(0.10, 0.14, m)
    hold = np.full(m, max(0.03, 1.0 / fps))  # ≥ one frame: every blink reaches closure
    opening = rng.uniform(0.18, 0.28, m)
    depth = rng.uniform(0.95, 1.0, m)
    for j in range(m):  # few blinks; each touches a handful of frames
        a = onsets[j]
        lo = np.searchsorted(times, a)
        hi = np.searchsorted(times, a + close[j] + hold[j] + opening[j])
        if hi <= lo:
            continue
        t = times[lo:hi] - a
        closing = smoothstep(t, 0.0, close[j])
        reopening = 1.0 - smoothstep(t, close[j] + hold[j], close[j] + hold[j] + opening[j])
        out[lo:hi] = np.maximum(out[lo:hi], depth[j] * np.minimum(closing, reopening))
    return out


def gaze_path(times: np.ndarray, rng: np.random.Generator, enabled: bool,
              mean_hold: float = 1.2, jump: float = 0.04) -> np.ndarray:
    """(T, 2) gaze offset (horizontal > 0: towards the subject's left; vertical > 0: up), in
    eyeLook weights. Held fixations with quick jumps; mostly back to the camera."""
    out = np.zeros((len(times), 2))
    if not enabled or times.size == 0:
        return out
    end = float(times[-1]) + 1.0
    count = int(end / mean_hold * 2) + 4
    holds = np.maximum(rng.gamma(2.0, mean_hold / 2.0, count), 0.25)
    starts = np.concatenate([[0.0], np.cumsum(holds[:-1])])
    to_camera = rng.random(count) < 0.5
    targets = np.stack([rng.normal(0, 0.12, count), rng.normal(0, 0.06, count)], axis=1)
    targets[to_camera] = rng.normal(0, 0.025, (int(to_camera.sum()), 2))
    targets[0] = 0.0
    targets = np.clip(targets, -0.3, 0.3)
    # Knots: hold target k-1 until start_k, reach target k at start_k + jump (holds > jump).
    knots_t = np.concatenate([[0.0], np.stack([starts[1:], starts[1:] + jump], 1).ravel()])
    knots_v = np.concatenate([targets[:1], np.stack([targets[:-1], targets[1:]], 1)
                              .reshape(-1, 2)])
    for c in range(2):
        out[:, c] = np.interp(times, knots_t, knots_v[:, c])
    return out


def eye_shapes(n: int, blink: np.ndarray, gaze: np.ndarray) -> np.ndarray:
    """(N, 52) eye channels from a blink curve and a gaze path."""
    out = np.zeros((n, len(BLENDSHAPE_INDEX)))
    out[:, BLENDSHAPE_INDEX["eyeBlinkLeft"]] = blink
    out[:, BLENDSHAPE_INDEX["eyeBlinkRight"]] = blink
    h, v = gaze[:, 0], gaze[:, 1]
    left, right = np.maximum(h, 0), np.maximum(-h, 0)
    out[:, BLENDSHAPE_INDEX["eyeLookOutLeft"]] = left
    out[:, BLENDSHAPE_INDEX["eyeLookInRight"]] = left
    out[:, BLENDSHAPE_INDEX["eyeLookInLeft"]] = right
    out[:, BLENDSHAPE_INDEX["eyeLookOutRight"]] = right
    for s in ("Left", "Right"):
        out[:, BLENDSHAPE_INDEX[f"eyeLookUp{s}"]] = np.maximum(v, 0)
        out[:, BLENDSHAPE_INDEX[f"eyeLookDown{s}"]] = np.maximum(-v, 0)
    return np.clip(out, 0.0, 1.0)
