"""Phones → mouth blendshapes: visemes with Cohen–Massaro coarticulation, JALI-style jaw.

Each viseme has per-channel *targets* and, per channel group, a *dominance* α. A phone's
dominance over time is α·exp(-d/τ), d the distance from the phone's core (its central part;
the whole of a silence), with separate anticipatory and carry-over time constants τ per group.
A channel's value at time t is the dominance-weighted mean of the targets of the neighbouring
phones, so a weakly dominant consonant (K, HH, T) takes the lip shape of its vowel neighbours
("coo" is rounded throughout), while bilabials and labiodentals impose their lips.

Jaw (JALI): the blended jaw *openness* is multiplied by a syllable-level loudness envelope, so
loud syllables open wider and mumbled ones less; lip channels come from the visemes alone.

Bilabials P/B/M get a hard closure mask on top (see `closure_mask`): at the centre of every
bilabial the lips touch whatever the other layers (emotion, cues) do.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..types import BLENDSHAPE_INDEX, Phone, Transcript
from .features import ProsodyFeatures
from .signal import critically_damped, moving_max, smoothstep

# Short names of the mouth channels this layer drives → ARKit channels.
CHANNELS: dict[str, tuple[str, ...]] = {
    "jaw": ("jawOpen",),
    "lowerDown": ("mouthLowerDownLeft", "mouthLowerDownRight"),
    "tongue": ("tongueOut",),
    "close": ("mouthClose",),
    "press": ("mouthPressLeft", "mouthPressRight"),
    "rollLower": ("mouthRollLower",),
    "rollUpper": ("mouthRollUpper",),
    "upperUp": ("mouthUpperUpLeft", "mouthUpperUpRight"),
    "shrugLower": ("mouthShrugLower",),
    "pucker": ("mouthPucker",),
    "funnel": ("mouthFunnel",),
    "stretch": ("mouthStretchLeft", "mouthStretchRight"),
}
KEYS: tuple[str, ...] = tuple(CHANNELS)
# Channel groups share a dominance: jaw opening, lip closure/shape, rounding, spreading.
GROUP_OF: dict[str, str] = {
    "jaw": "jaw", "lowerDown": "jaw", "tongue": "jaw",
    "close": "lips", "press": "lips", "rollLower": "lips", "rollUpper": "lips",
    "upperUp": "lips", "shrugLower": "lips",
    "pucker": "round", "funnel": "round",
    "stretch": "spread",
}
GROUPS: tuple[str, ...] = ("jaw", "lips", "round", "spread")
# (anticipatory, carry-over) time constants in seconds, per group. Rounding anticipates far.
TAU: dict[str, tuple[float, float]] = {
    "jaw": (0.05, 0.045), "lips": (0.04, 0.03), "round": (0.12, 0.07), "spread": (0.07, 0.05),
}
# Channels scaled by the loudness envelope (the jaw and what rides on it).
LOUDNESS_SCALED = ("jaw", "lowerDown", "tongue")
# Channels that open the lips; suppressed under bilabial closure.
LIP_OPENING = ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
               "mouthUpperUpRight", "mouthFunnel", "mouthShrugUpper", "tongueOut")


@dataclass(frozen=True)
class Viseme:
    targets: dict[str, float]
    dominance: dict[str, float]  # per group
    core: float = 0.25  # half-width of the phone's core, as a fraction of its duration


def _dom(jaw: float, lips: float, rnd: float, spread: float) -> dict[str, float]:
    return {"jaw": jaw, "lips": lips, "round": rnd, "spread": spread}


_V = _dom(1.0, 0.8, 0.6, 0.7)  # unrounded vowel
_VR = _dom(1.0, 0.8, 1.3, 0.8)  # rounded vowel
_BILABIAL = _dom(2.0, 2.5, 0.5, 0.5)  # closure itself is enforced by the closure mask
VISEMES: dict[str, Viseme] = {
    # Open vowels: the jaw.
    "AA": Viseme({"jaw": 0.55, "lowerDown": 0.25, "upperUp": 0.08}, _V, 0.3),
    "AE": Viseme({"jaw": 0.45, "lowerDown": 0.25, "upperUp": 0.12, "stretch": 0.25}, _V, 0.3),
    "AH": Viseme({"jaw": 0.38, "lowerDown": 0.15}, _V, 0.3),
    "EH": Viseme({"jaw": 0.32, "lowerDown": 0.15, "stretch": 0.2}, _V, 0.3),
    # Spread vowels.
    "IH": Viseme({"jaw": 0.2, "stretch": 0.3, "lowerDown": 0.05}, _V, 0.3),
    "IY": Viseme({"jaw": 0.14, "stretch": 0.45, "upperUp": 0.05}, _V, 0.3),
    # Rounded vowels: pucker / funnel.
    "AO": Viseme({"jaw": 0.42, "funnel": 0.45, "pucker": 0.2, "lowerDown": 0.1}, _VR, 0.3),
    "OH": Viseme({"jaw": 0.32, "funnel": 0.5, "pucker": 0.35}, _VR, 0.3),  # start of OW
    "UH": Viseme({"jaw": 0.2, "funnel": 0.4, "pucker": 0.45}, _VR, 0.3),
    "UW": Viseme({"jaw": 0.12, "pucker": 0.8, "funnel": 0.35}, _VR, 0.3),
    "ER": Viseme({"jaw": 0.18, "funnel": 0.4, "pucker": 0.3}, _VR, 0.3),
    # Consonants.
    "P": Viseme({"jaw": 0.0, "close": 1.0, "press": 0.8, "rollLower": 0.15}, _BILABIAL),
    "B": Viseme({"jaw": 0.0, "close": 1.0, "press": 0.7, "rollLower": 0.15}, _BILABIAL),
    "M": Viseme({"jaw": 0.0, "close": 1.0, "press": 0.55, "rollLower": 0.15}, _BILABIAL),
    "F": Viseme({"jaw": 0.06, "rollLower": 0.6, "upperUp": 0.25, "close": 0.3},
                _dom(2, 3, 0.4, 0.4)),
    "TH": Viseme({"jaw": 0.12, "tongue": 0.2, "upperUp": 0.1}, _dom(1.2, 1.0, 0.3, 0.3)),
    "T": Viseme({"jaw": 0.12, "close": 0.1}, _dom(0.9, 0.3, 0.15, 0.25)),
    "S": Viseme({"jaw": 0.05, "close": 0.2, "stretch": 0.2, "upperUp": 0.1},
                _dom(1.5, 0.6, 0.2, 0.5)),
    "SH": Viseme({"jaw": 0.1, "funnel": 0.5, "pucker": 0.3, "upperUp": 0.1},
                 _dom(1.2, 1.2, 1.5, 0.8)),
    "L": Viseme({"jaw": 0.2, "lowerDown": 0.05}, _dom(0.6, 0.2, 0.15, 0.2)),
    "R": Viseme({"jaw": 0.12, "pucker": 0.35, "funnel": 0.3}, _dom(0.6, 0.6, 0.9, 0.5)),
    "W": Viseme({"jaw": 0.08, "pucker": 0.85, "funnel": 0.3, "close": 0.15},
                _dom(0.9, 1.0, 2.5, 1.0)),
    "Y": Viseme({"jaw": 0.1, "stretch": 0.35}, _dom(0.6, 0.3, 0.4, 1.0)),
    "K": Viseme({"jaw": 0.15}, _dom(0.5, 0.15, 0.1, 0.15)),
    "HH": Viseme({"jaw": 0.2}, _dom(0.15, 0.1, 0.1, 0.1)),
    "SIL": Viseme({}, _dom(1.5, 1.5, 1.5, 1.5), 0.5),
}
# ARPAbet phone → viseme (diphthongs are split into two parts, see DIPHTHONGS).
PHONE_VISEME: dict[str, str] = {
    "AA": "AA", "AE": "AE", "AH": "AH", "AO": "AO", "EH": "EH", "ER": "ER", "IH": "IH",
    "IY": "IY", "UH": "UH", "UW": "UW",
    "P": "P", "B": "B", "M": "M", "F": "F", "V": "F", "TH": "TH", "DH": "TH",
    "T": "T", "D": "T", "N": "T", "S": "S", "Z": "S",
    "SH": "SH", "ZH": "SH", "CH": "SH", "JH": "SH",
    "L": "L", "R": "R", "W": "W", "Y": "Y", "K": "K", "G": "K", "NG": "K", "HH": "HH",
    "SIL": "SIL",
}
DIPHTHONGS: dict[str, tuple[str, str, float]] = {
    "AW": ("AA", "UW", 0.55), "AY": ("AA", "IY", 0.55), "EY": ("EH", "IY", 0.6),
    "OW": ("OH", "UW", 0.6), "OY": ("AO", "IY", 0.55),
}
BILABIALS = ("P", "B", "M")
_SILENCE_LABELS = {"SIL", "SP", "SPN", "NSN", "NOISE", "<SIL>", "<S>", "</S>", "", "PAU"}
# Scale of every viseme target into a (V, K) array, built once.
_NAMES = tuple(VISEMES)
_TARGETS = np.array([[VISEMES[v].targets.get(k, 0.0) for k in KEYS] for v in _NAMES])
_DOMINANCE = np.array([[VISEMES[v].dominance[g] for g in GROUPS] for v in _NAMES])
_CORE = np.array([VISEMES[v].core for v in _NAMES])
_KEY_GROUP = np.array([GROUPS.index(GROUP_OF[k]) for k in KEYS])


def normalise_label(label: str) -> str:
    """"AH0" / "ah" → "AH"; silence and noise markers → "SIL"."""
    core = "".join(ch for ch in label.strip().upper() if not ch.isdigit())
    core = core.strip("+")
    return "SIL" if core in _SILENCE_LABELS else core


@dataclass
class PhoneSequence:
    """Phones expanded into viseme segments (sorted, gap-free: gaps become silences)."""

    viseme: np.ndarray  # (P,) index into _NAMES
    start: np.ndarray
    end: np.ndarray
    label: list[str]

    @property
    def centre(self) -> np.ndarray:
        return 0.5 * (self.start + self.end)

    @classmethod
    def from_phones(cls, phones: list[Phone], duration: float) -> "PhoneSequence":
        items: list[tuple[float, float, str, str]] = []  # start, end, viseme, phone label
        for p in sorted(phones, key=lambda p: (p.start, p.end)):
            lab = normalise_label(p.label)
            a, b = float(p.start), float(max(p.end, p.start + 1e-3))
            if lab in DIPHTHONGS:
                first, second, frac = DIPHTHONGS[lab]
                mid = a + frac * (b - a)
                items += [(a, mid, first, lab), (mid, b, second, lab)]
            else:
                items.append((a, b, PHONE_VISEME.get(lab, "HH"), lab))
        # Fill gaps (and the clip's head and tail) with silence; trim overlaps.
        filled: list[tuple[float, float, str, str]] = []
        cursor = -1.0
        for a, b, vis, lab in items:
            if a - cursor > 1e-3:
                filled.append((cursor, a, "SIL", "SIL"))
            a = max(a, cursor)
            if b - a <= 1e-4:
                continue
            filled.append((a, b, vis, lab))
            cursor = b
        filled.append((cursor, max(duration, cursor) + 1.0, "SIL", "SIL"))
        vis_idx = np.array([_NAMES.index(f[2]) for f in filled])
        return cls(vis_idx, np.array([f[0] for f in filled]), np.array([f[1] for f in filled]),
                   [f[3] for f in filled])

    def bilabial_centres(self) -> tuple[np.ndarray, np.ndarray]:
        mask = np.array([lab in BILABIALS for lab in self.label], bool)
        return self.centre[mask], (self.end - self.start)[mask]


def _band(centres: np.ndarray, times: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray]:
    """For each time, the indices of the `2*half` nearest segments by centre (and validity)."""
    pos = np.searchsorted(centres, times)
    idx = pos[:, None] + np.arange(-half, half)[None, :]
    valid = (idx >= 0) & (idx < len(centres))
    return np.clip(idx, 0, len(centres) - 1), valid


def coarticulate(seq: PhoneSequence, times: np.ndarray, half: int = 8) -> np.ndarray:
    """Blended viseme channel values (T, len(KEYS)), before the loudness-driven jaw gain."""
    idx, valid = _band(seq.centre, times, half)
    vis = seq.viseme[idx]  # (T, W)
    start, end = seq.start[idx], seq.end[idx]
    centre = 0.5 * (start + end)
    core = _CORE[vis] * (end - start)
    sil = vis == _NAMES.index("SIL")
    # Silences start the mouth moving a little before speech and relax a little after.
    core = np.where(sil, np.maximum(0.5 * (end - start) - 0.06, 0.0), core)
    offset = times[:, None] - centre  # < 0: the phone is ahead (anticipation)
    dist = np.maximum(np.abs(offset) - core, 0.0)
    dom = np.empty(idx.shape + (len(GROUPS),))
    for g, name in enumerate(GROUPS):
        tau_a, tau_c = TAU[name]
        tau = np.where(offset < 0, tau_a, tau_c)
        dom[..., g] = _DOMINANCE[vis, g] * np.exp(-dist / tau)
    dom *= valid[..., None]
    dom_k = dom[..., _KEY_GROUP] + 1e-12  # (T, W, K)
    targets = _TARGETS[vis]  # (T, W, K)
    return np.sum(dom_k * targets, axis=1) / np.sum(dom_k, axis=1)


def closure_mask(seq: PhoneSequence, times: np.ndarray, fps: float,
                 ramp: float = 0.05) -> np.ndarray:
    """1 across the centre of every bilabial (at least one frame wide), ramping to 0."""
    centres, durations = seq.bilabial_centres()
    if centres.size == 0:
        return np.zeros_like(times)
    plateau = np.maximum(0.35 * durations, 0.5 / fps + 1e-3)
    idx, valid = _band(centres, times, 2)
    d = np.abs(times[:, None] - centres[idx]) - plateau[idx]
    k = (1.0 - smoothstep(d, 0.0, ramp)) * valid
    return k.max(axis=1)


def speech_activity(seq: PhoneSequence, times: np.ndarray, hold: float = 0.12,
                    step: float = 0.01) -> np.ndarray:
    """0..1: near a non-silent phone (held `hold` s beyond it, smoothed)."""
    if times.size == 0:
        return np.zeros(0)
    lo, hi = min(0.0, times.min()) - 1.0, times.max() + 1.0
    grid = np.arange(lo, hi + step, step)
    pos = np.clip(np.searchsorted(seq.start, grid, side="right") - 1, 0, len(seq.start) - 1)
    inside = (grid >= seq.start[pos]) & (grid < seq.end[pos])
    active = (inside & (seq.viseme[pos] != _NAMES.index("SIL"))).astype(np.float64)
    active = critically_damped(moving_max(active, 2 * hold, 1 / step), 0.02, 1 / step,
                               zero_phase=True)
    return np.clip(np.interp(times, grid, active), 0.0, 1.0)


def jaw_gain(envelope: np.ndarray, gain: float) -> np.ndarray:
    """JALI jaw activation from the syllable loudness envelope (0 silence, ~1 loud speech)."""
    return gain * np.clip(0.3 + 0.85 * envelope, 0.0, 1.3)


@dataclass
class MouthResult:
    shapes: np.ndarray  # (T, 52) mouth channels
    closure: np.ndarray  # (T,) bilabial closure mask, applied last by the caller


def _to_blendshapes(values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.shape[0], len(BLENDSHAPE_INDEX)))
    for j, key in enumerate(KEYS):
        for name in CHANNELS[key]:
            out[:, BLENDSHAPE_INDEX[name]] = values[:, j]
    return out


def mouth_from_phones(transcript: Transcript, feats: ProsodyFeatures, times: np.ndarray,
                      duration: float, fps: float, articulation: float,
                      jaw_gain_setting: float) -> MouthResult:
    """Mouth channels at `times` (already shifted by the lip lead) from timed phones."""
    seq = PhoneSequence.from_phones(transcript.phones, duration)
    values = coarticulate(seq, times)
    gate = speech_activity(seq, times)
    loud = feats.at(times, "envelope")
    if transcript.source == "phones":
        # Phone recognition alone can hallucinate phones in noise: also require voice activity.
        vad = np.clip(feats.at(times, "speech") + smoothstep(loud, 0.08, 0.25), 0.0, 1.0)
        gate = gate * vad
    values *= articulation
    jaw = jaw_gain(loud, jaw_gain_setting)
    for key in LOUDNESS_SCALED:
        values[:, KEYS.index(key)] *= jaw
    values *= gate[:, None]
    shapes = _to_blendshapes(values)
    # Safety net: where the phones say silence but the audio is clearly speech (words the
    # aligner skipped), the mouth follows loudness instead of freezing.
    fallback = mouth_from_energy(feats, times, articulation, jaw_gain_setting).shapes
    shapes += 0.8 * (1.0 - gate)[:, None] * fallback
    return MouthResult(np.clip(shapes, 0.0, 1.0), closure_mask(seq, times, fps))


def mouth_from_energy(feats: ProsodyFeatures, times: np.ndarray, articulation: float,
                      jaw_gain_setting: float) -> MouthResult:
    """No phones: the mouth follows loudness, gated by voice activity and a noise floor, so it
    rests in silence and does not chatter on background noise."""
    loud = np.clip(feats.at(times, "loud"), 0.0, 1.3)
    act = smoothstep(loud, 0.1, 0.3) * smoothstep(feats.at(times, "speech"), 0.2, 0.7)
    jaw = 0.45 * jaw_gain_setting * articulation * act * loud ** 1.1
    values = np.zeros((len(times), len(KEYS)))
    values[:, KEYS.index("jaw")] = jaw
    values[:, KEYS.index("lowerDown")] = 0.35 * jaw
    values[:, KEYS.index("upperUp")] = 0.12 * jaw
    return MouthResult(np.clip(_to_blendshapes(values), 0.0, 1.0), np.zeros(len(times)))


def apply_closure(shapes: np.ndarray, closure: np.ndarray, jaw_max: float = 0.03) -> None:
    """In place: lips touch where `closure` is 1 (bilabial closure wins over every layer)."""
    k = closure[:, None]
    j = BLENDSHAPE_INDEX["jawOpen"]
    shapes[:, j] = shapes[:, j] * (1 - closure) + np.minimum(shapes[:, j], jaw_max) * closure
    opening = [BLENDSHAPE_INDEX[n] for n in LIP_OPENING if n != "jawOpen"]
    shapes[:, opening] *= 1 - k
    c = BLENDSHAPE_INDEX["mouthClose"]
    shapes[:, c] = np.maximum(shapes[:, c], closure)
    for name in ("mouthPressLeft", "mouthPressRight"):
        i = BLENDSHAPE_INDEX[name]
        shapes[:, i] = np.maximum(shapes[:, i], 0.6 * closure)
    r = BLENDSHAPE_INDEX["mouthRollLower"]
    shapes[:, r] = np.maximum(shapes[:, r], 0.12 * closure)
    p = BLENDSHAPE_INDEX["mouthPucker"]
    shapes[:, p] *= 1 - 0.4 * closure


# The main mouth shapes a creator checks a face with, by the phones that make them.
MOUTH_SHAPES: dict[str, str] = {"rest": "SIL", "M/B/P": "M", "AA": "AA", "EE": "IY",
                                "OO": "UW", "F/V": "F"}


def viseme_weights(name: str, loudness: float = 1.0) -> np.ndarray:
    """One held mouth shape as ARKit-52 weights: a viseme's targets at full dominance, the jaw
    scaled by `loudness` as in speech, bilabials closed (the closure mask at its peak)."""
    values = np.array([[VISEMES[name].targets.get(k, 0.0) for k in KEYS]])
    for key in LOUDNESS_SCALED:
        values[:, KEYS.index(key)] *= loudness
    shapes = _to_blendshapes(values)
    if name in BILABIALS:
        apply_closure(shapes, np.ones(1))
    return np.clip(shapes[0], 0.0, 1.0)
