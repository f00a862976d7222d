"""Small, vectorised signal helpers for the A2M layers (no state, no own randomness)."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter, lfilter_zi


def smoothstep(x: np.ndarray | float, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """0 below `lo`, 1 above `hi`, C1-smooth in between."""
    t = np.clip((np.asarray(x, dtype=np.float64) - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _one_pole(x: np.ndarray, a: float) -> np.ndarray:
    b, den = [1.0 - a], [1.0, -a]
    zi = lfilter_zi(b, den) * x[0]
    return lfilter(b, den, x, zi=zi)[0]


def critically_damped(x: np.ndarray, time_constant: float, rate: float,
                      zero_phase: bool = False) -> np.ndarray:
    """Critically damped 2nd-order low-pass (two cascaded one-pole filters, impulse response
    t·e^(-t/T)): smooth, no overshoot. With `zero_phase`, run forward and backward (no lag)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0 or time_constant <= 0:
        return x.copy()
    a = float(np.exp(-1.0 / (time_constant * rate)))
    y = _one_pole(_one_pole(x, a), a)
    if zero_phase:
        y = _one_pole(_one_pole(y[::-1], a), a)[::-1]
    return y


def moving_max(x: np.ndarray, width_s: float, rate: float) -> np.ndarray:
    size = max(1, int(round(width_s * rate)))
    return maximum_filter1d(np.asarray(x, dtype=np.float64), size=size, mode="nearest")


def smooth_noise(rng: np.random.Generator, n: int, rate: float, time_constant: float,
                 preroll_s: float | None = None) -> np.ndarray:
    """Unit-variance, critically damped low-pass Gaussian noise of `n` samples (stationary from
    the first sample thanks to a pre-roll). Variance is normalised analytically, so short clips
    are not inflated."""
    preroll = int(round((preroll_s if preroll_s is not None else 6 * time_constant) * rate))
    white = rng.standard_normal(n + preroll)
    a = float(np.exp(-1.0 / (time_constant * rate)))
    b, den = [1.0 - a], [1.0, -a]
    y = lfilter(b, den, lfilter(b, den, white))
    # Impulse response energy of the cascade → standard deviation of the output.
    length = int(30 * time_constant * rate) + 16
    imp = np.zeros(length)
    imp[0] = 1.0
    h = lfilter(b, den, lfilter(b, den, imp))
    return y[preroll:] / np.sqrt(np.sum(h * h))


def window(times: np.ndarray, start: float, end: float, ramp: float,
           centred: bool = False) -> np.ndarray:
    """A smooth box: 1 inside [start, end], 0 outside, with smoothstep ramps of `ramp` seconds.
    `centred` puts the ramps across the edges (half outside, half inside), else inside the box.
    Ramps never exceed half the box."""
    if end <= start:
        return np.zeros_like(times, dtype=np.float64)
    if centred:
        r = min(ramp, end - start)
        return smoothstep(times, start - r / 2, start + r / 2) * \
            (1.0 - smoothstep(times, end - r / 2, end + r / 2))
    r = min(ramp, (end - start) / 2)
    return smoothstep(times, start, start + r) * (1.0 - smoothstep(times, end - r, end))
