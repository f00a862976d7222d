"""Typical valence and arousal of each emotion category, in [-1, 1]: one table for every
signal that maps categories to dimensions, for fusion, and for overrides that set only a
category."""
from __future__ import annotations

CATEGORY_VA: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0), "happy": (0.7, 0.4), "sad": (-0.6, -0.5), "angry": (-0.6, 0.7),
    "surprised": (0.2, 0.8), "fearful": (-0.6, 0.6), "disgusted": (-0.6, 0.2),
    "contempt": (-0.4, 0.0),
}
