"""Emotion from the voice: the "speech_emotion" and "valence_arousal" signals.

Every backend is a callable `backend(speech, prosody, segment) -> SignalEstimate` with a `name`;
models load lazily, once per instance; nothing is kept at module level.

Embedded (offline, CPU, no weights, the defaults):
    ProsodySpeechEmotion   signal "speech_emotion",  backend "prosody"
    ProsodyValenceArousal  signal "valence_arousal", backend "prosody-regression"
Both are HAND-WRITTEN HEURISTICS on prosodic features, not trained models (no package ships a
speech-emotion model). They share one feature extractor, `segment_features`, which describes a
segment relative to the SPEAKER'S OWN BASELINE in the same clip (see `FEATURES`).

Heavy (optional: need torch + transformers and a model the user provides; nothing downloads):
    TransformersSpeechEmotion  any `AutoModelForAudioClassification` emotion classifier
    Wav2Vec2ValenceArousal     a dimensional regressor in the style of audeering's wav2vec2
                               emotion model (`Wav2Vec2ForValenceArousal`, defined here)

    make_speech_emotion(backend="prosody", model=None)
    make_valence_arousal(backend="prosody", model=None)
"""
from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, MissingWeightsError
from ..models import load_failure, resolve_model_source, short_reason
from ..types import EMOTIONS, Prosody, Segment, SignalEstimate, Speech
from .categories import CATEGORY_VA

SPEECH_EMOTION = "speech_emotion"
VALENCE_AROUSAL = "valence_arousal"

# A distribution over EMOTIONS gives valence/arousal as the expectation of CATEGORY_VA under
# it; neutral is the origin, so "no evidence" gives (0, 0).

# ============================================================================================
# Prosodic features relative to the speaker's baseline (used by both embedded backends)
# ============================================================================================

# Segment statistics (computed on the Prosody frame grid; "speech" = voice-activity frames):
#   pitch_level   median F0 of voiced frames, semitones relative to the clip's median voiced F0
#   pitch_range   10th-90th percentile spread of that pitch (semitones): variability
#   pitch_slope   least-squares slope of pitch over time (semitones/s): rising > 0 > falling
#   energy_level  mean RMS level of speech frames (dB)
#   energy_var    standard deviation of that level (dB)
#   rate          loudness peaks (syllable nuclei) per second of speech: speaking-rate proxy
#   tilt          high/low band energy ratio, 1-5 kHz over 50 Hz-1 kHz (dB, an "alpha ratio"):
#                 brightness / vocal effort; mean over speech frames of `Speech.analysis`
#   flatness      log10 spectral flatness of voiced frames (voice-quality proxy: breathy /
#                 noisy voice is flatter, a tense pressed voice less flat)
# Each statistic is turned into a z-score against the same statistic over sliding windows of
# the whole clip (window = the segment's length clamped to 1..4 s, half-overlapping, windows
# with too little speech skipped): z = (segment - mean(windows)) / max(std(windows), floor).
# The floor (Z_FLOOR) is about 1.5x the window-to-window spread of a plain neutral reading
# (measured on the bundled sample), so ordinary sentence-to-sentence variation gives |z| < ~0.7
# and a monotonous clip does not turn tiny differences into big z-scores; z is clipped to +-3. A statistic that cannot be measured (e.g. too few voiced frames) gives
# z = 0 (= the baseline) and lowers the reliability instead.
FEATURES: tuple[str, ...] = ("pitch_level", "pitch_range", "pitch_slope", "energy_level",
                             "energy_var", "rate", "tilt", "flatness")
Z_FLOOR: dict[str, float] = {
    "pitch_level": 2.0, "pitch_range": 2.0, "pitch_slope": 4.0, "energy_level": 3.0,
    "energy_var": 1.0, "rate": 0.6, "tilt": 2.0, "flatness": 0.12,
}
Z_CLIP = 3.0
_MIN_VOICED = 10  # voiced frames needed for pitch statistics (0.1 s at the usual 10 ms hop)
_MIN_SLOPE_SPAN_S = 0.3
_MIN_SPEECH_S = 0.2  # speech needed for energy / rate / spectral statistics
_WINDOW_RANGE_S = (1.0, 4.0)
_N_FFT = 512
_TILT_LOW_HZ = (50.0, 1000.0)
_TILT_HIGH_HZ = (1000.0, 5000.0)


@dataclass
class ClipFrames:
    """Frame-level features of a whole clip on the Prosody grid (frame i at i * hop)."""

    hop: float
    semitones: np.ndarray  # pitch vs the clip's median voiced F0; NaN where unvoiced
    level_db: np.ndarray  # 20 log10 RMS
    tilt_db: np.ndarray
    flatness: np.ndarray  # log10 spectral flatness
    nucleus: np.ndarray  # bool: a loudness peak (syllable nucleus) inside speech
    voiced: np.ndarray
    speech: np.ndarray
    f0_median_hz: float
    baselines: dict = field(default_factory=dict, repr=False)  # window length -> _baseline()

    @property
    def count(self) -> int:
        return len(self.voiced)


@dataclass
class SegmentFeatures:
    """A segment described against the clip's baseline, plus how far to trust that."""

    z: dict[str, float]  # FEATURES -> z-score (0 where unmeasurable)
    raw: dict[str, float]  # FEATURES -> segment statistic (NaN where unmeasurable)
    duration: float
    voiced_frames: int
    speech_seconds: float
    other_speech_seconds: float  # speech in the clip outside the segment (the baseline's support)
    reliability: float  # 0..1, see `_reliability`


def clip_frames(speech: Speech, prosody: Prosody) -> ClipFrames:
    """Frame features of the whole clip (one STFT of `speech.analysis`; ~0.1 s per 30 s)."""
    import librosa
    from scipy import ndimage, signal

    audio = np.asarray(speech.analysis if speech.analysis.size else speech.samples, np.float32)
    sr = int(speech.sample_rate)
    hop = float(prosody.hop)
    count = len(prosody.voiced)
    voiced = np.asarray(prosody.voiced, bool)
    speech_mask = np.asarray(prosody.speech, bool)
    f0 = np.asarray(prosody.f0, np.float64)

    pitched = voiced & (f0 > 0)
    f0_median = float(np.median(f0[pitched])) if pitched.any() else 0.0
    semitones = np.full(count, np.nan)
    if f0_median > 0:
        semitones[pitched] = 12.0 * np.log2(f0[pitched] / f0_median)

    level_db = 20.0 * np.log10(np.maximum(np.asarray(prosody.rms, np.float64), 1e-6))

    hop_length = max(1, int(round(hop * sr)))
    if len(audio) >= _N_FFT // 2:
        power = np.abs(librosa.stft(audio, n_fft=_N_FFT, hop_length=hop_length, center=True)) ** 2
    else:
        power = np.zeros((_N_FFT // 2 + 1, 1))
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / sr)
    band = lambda lo_hi: (freqs >= lo_hi[0]) & (freqs < lo_hi[1])  # noqa: E731
    low = power[band(_TILT_LOW_HZ)].sum(axis=0) + 1e-10
    high = power[band(_TILT_HIGH_HZ)].sum(axis=0) + 1e-10
    tilt = 10.0 * np.log10(high / low)
    voice_band = power[(freqs >= 50.0) & (freqs < 6000.0)] + 1e-10
    flat = np.mean(np.log(voice_band), axis=0) - np.log(np.mean(voice_band, axis=0))
    flat = flat / np.log(10.0)

    smooth = ndimage.uniform_filter1d(np.asarray(prosody.loudness, np.float64), 5)
    peaks, _ = signal.find_peaks(smooth, prominence=0.08, height=0.15,
                                 distance=max(1, int(round(0.1 / hop))))
    nucleus = np.zeros(count, bool)
    nucleus[peaks[peaks < count]] = True
    nucleus &= speech_mask

    return ClipFrames(hop=hop, semitones=semitones, level_db=level_db,
                      tilt_db=_fit(tilt, count), flatness=_fit(flat, count), nucleus=nucleus,
                      voiced=voiced, speech=speech_mask, f0_median_hz=f0_median)


def _fit(values: np.ndarray, count: int) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if len(values) >= count:
        return values[:count]
    return np.concatenate([values, np.full(count - len(values), values[-1] if len(values) else 0.0)])


def _frame_range(frames: ClipFrames, start: float, end: float) -> tuple[int, int]:
    i0 = int(np.clip(math.floor(start / frames.hop), 0, frames.count))
    i1 = int(np.clip(math.ceil(end / frames.hop), i0, frames.count))
    return i0, i1


def _statistics(frames: ClipFrames, i0: int, i1: int) -> dict[str, float]:
    """The FEATURES statistics of frames [i0, i1) (NaN where there is too little evidence)."""
    nan = float("nan")
    out = dict.fromkeys(FEATURES, nan)
    hop = frames.hop
    semis = frames.semitones[i0:i1]
    voiced = ~np.isnan(semis)
    if voiced.sum() >= _MIN_VOICED:
        pitch = semis[voiced]
        out["pitch_level"] = float(np.median(pitch))
        out["pitch_range"] = float(np.percentile(pitch, 90) - np.percentile(pitch, 10))
        t = np.flatnonzero(voiced) * hop
        if t[-1] - t[0] >= _MIN_SLOPE_SPAN_S:
            out["pitch_slope"] = float(np.polyfit(t, pitch, 1)[0])
        out["flatness"] = float(np.mean(frames.flatness[i0:i1][voiced]))
    speech = frames.speech[i0:i1]
    speech_s = float(speech.sum()) * hop
    if speech_s >= _MIN_SPEECH_S:
        level = frames.level_db[i0:i1][speech]
        out["energy_level"] = float(np.mean(level))
        out["energy_var"] = float(np.std(level))
        out["rate"] = float(frames.nucleus[i0:i1].sum()) / speech_s
        out["tilt"] = float(np.mean(frames.tilt_db[i0:i1][speech]))
    return out


def _baseline(frames: ClipFrames, window_s: float) -> dict[str, tuple[float, float]]:
    """(mean, std) of every statistic over half-overlapping windows of the whole clip."""
    clip_s = frames.count * frames.hop
    window_s = min(window_s, max(clip_s, frames.hop))
    starts = np.arange(0.0, max(clip_s - window_s, 0.0) + 1e-9, window_s / 2.0)
    rows = []
    for s in starts:
        i0, i1 = _frame_range(frames, s, s + window_s)
        if frames.speech[i0:i1].sum() * frames.hop >= _MIN_SPEECH_S:
            stats = _statistics(frames, i0, i1)
            rows.append([stats[k] for k in FEATURES])
    if not rows:
        return {k: (float("nan"), 0.0) for k in FEATURES}
    table = np.array(rows, np.float64)
    out = {}
    for j, k in enumerate(FEATURES):
        col = table[:, j][~np.isnan(table[:, j])]
        out[k] = (float(np.mean(col)) if col.size else float("nan"),
                  float(np.std(col)) if col.size >= 3 else 0.0)
    return out


def segment_features(frames: ClipFrames, segment: Segment) -> SegmentFeatures:
    """The segment's statistics as z-scores against the speaker's baseline in the clip."""
    i0, i1 = _frame_range(frames, segment.start, segment.end)
    raw = _statistics(frames, i0, i1)
    duration = max(0.0, float(segment.end) - float(segment.start))
    window = round(float(np.clip(duration, *_WINDOW_RANGE_S)), 1)
    if window not in frames.baselines:
        frames.baselines[window] = _baseline(frames, window)
    base = frames.baselines[window]
    z = {}
    for k in FEATURES:
        mean, std = base[k]
        value = raw[k]
        if np.isnan(value) or np.isnan(mean):
            z[k] = 0.0
        else:
            z[k] = float(np.clip((value - mean) / max(std, Z_FLOOR[k]), -Z_CLIP, Z_CLIP))
    voiced_frames = int(frames.voiced[i0:i1].sum())
    speech_s = float(frames.speech[i0:i1].sum()) * frames.hop
    other_s = float(frames.speech.sum()) * frames.hop - speech_s
    return SegmentFeatures(z=z, raw=raw, duration=duration, voiced_frames=voiced_frames,
                           speech_seconds=speech_s, other_speech_seconds=other_s,
                           reliability=_reliability(duration, voiced_frames, other_s))


def _reliability(duration: float, voiced_frames: int, other_speech_s: float) -> float:
    """0..1: the product of
    - length:   clip((duration - 0.25) / 1.0, 0.1, 1)   (full from 1.25 s; 0.75 at 1 s, 0.25 at 0.5 s)
    - voicing:  clip(voiced_frames / 40, 0.05, 1)       (full from 0.4 s of voicing at a 10 ms hop)
    - baseline: 0.1 + 0.9 * clip(other_speech_s / 3, 0, 1): the baseline needs speech OUTSIDE the
      segment; a clip that is one segment is compared with itself (reliability 0.1 at most)."""
    length = float(np.clip((duration - 0.25) / 1.0, 0.1, 1.0))
    voicing = float(np.clip(voiced_frames / 40.0, 0.05, 1.0))
    baseline = 0.1 + 0.9 * float(np.clip(other_speech_s / 3.0, 0.0, 1.0))
    return length * voicing * baseline if voiced_frames > 0 else 0.0


# --- the documented heuristic mapping ----------------------------------------------------------
# Dimensions in z units, then squashed with tanh to [-1, 1]:
AROUSAL_WEIGHTS = {"energy_level": 0.35, "pitch_level": 0.25, "rate": 0.15, "tilt": 0.15,
                   "pitch_range": 0.10}
#   loud, high, fast, bright (effortful) speech = high arousal.
DOMINANCE_WEIGHTS = {"energy_level": 0.40, "tilt": 0.20, "pitch_level": -0.25,
                     "flatness": -0.15, "pitch_slope": -0.10}
#   loud, pressed (bright, not breathy), LOWER-pitched, falling = dominant; high thin breathy
#   voice = submissive.
VALENCE_WEIGHTS = {"pitch_range": 0.45, "pitch_slope": 0.35, "tilt": 0.20}
#   lively wide-range, rising, bright melody = positive. Weak: prosody says little about valence.
VALENCE_SCALE = 0.5  # prosodic valence never exceeds +-0.5


def _combine(z: dict[str, float], weights: dict[str, float]) -> float:
    return float(math.tanh(sum(w * z.get(k, 0.0) for k, w in weights.items())))


def dimensions(features: SegmentFeatures) -> dict[str, float]:
    """arousal, dominance and (weak, already scaled by VALENCE_SCALE) valence in [-1, 1]."""
    z = features.z
    return {"arousal": _combine(z, AROUSAL_WEIGHTS), "dominance": _combine(z, DOMINANCE_WEIGHTS),
            "valence": VALENCE_SCALE * _combine(z, VALENCE_WEIGHTS)}


# Category evidence (logits) from a = arousal, d = dominance, v = valence / VALENCE_SCALE (all in
# [-1, 1]), rise / fall = the positive / negative part of tanh(z pitch_slope), and dev = the RMS of
# all z-scores (how far from the speaker's baseline the segment is):
#   neutral    2.0 - 2.0 * max(dev - 0.4, 0)            near baseline -> neutral (ordinary
#                                                       variation, dev <~ 0.6, stays neutral)
#   angry      1.6a + 1.4d - 0.8v                       high arousal, high dominance
#   happy      1.6a + 0.4d + 1.6v                       high arousal, positive melody
#   surprised  1.4a - 0.4d + 0.6v + 0.8 rise            high arousal, rising pitch
#   fearful    1.4a - 1.4d - 0.6v                       high arousal, low dominance
#   sad       -1.6a - 1.0d - 0.6v + 0.8 fall            low arousal, quiet, low/falling pitch
#   disgusted -0.3a + 0.4d - 1.0v - 0.6                 (prosody barely separates these two:
#   contempt  -0.6a + 0.8d - 0.6v - 0.6                  small, biased-down logits)
# probs = softmax(logits / 0.6), then blended towards neutral by the reliability:
#   probs = r * probs + (1 - r) * onehot(neutral)
_TEMPERATURE = 0.6
NEUTRAL_BASE, NEUTRAL_SLOPE, NEUTRAL_DEADZONE = 2.0, 2.0, 0.4


def category_probs(features: SegmentFeatures, dims: dict[str, float]) -> dict[str, float]:
    a, d = dims["arousal"], dims["dominance"]
    v = dims["valence"] / VALENCE_SCALE
    slope = math.tanh(features.z.get("pitch_slope", 0.0))
    rise, fall = max(slope, 0.0), max(-slope, 0.0)
    dev = math.sqrt(sum(x * x for x in features.z.values()) / max(len(features.z), 1))
    logits = {
        "neutral": NEUTRAL_BASE - NEUTRAL_SLOPE * max(dev - NEUTRAL_DEADZONE, 0.0),
        "happy": 1.6 * a + 0.4 * d + 1.6 * v,
        "sad": -1.6 * a - 1.0 * d - 0.6 * v + 0.8 * fall,
        "angry": 1.6 * a + 1.4 * d - 0.8 * v,
        "surprised": 1.4 * a - 0.4 * d + 0.6 * v + 0.8 * rise,
        "fearful": 1.4 * a - 1.4 * d - 0.6 * v,
        "disgusted": -0.3 * a + 0.4 * d - 1.0 * v - 0.6,
        "contempt": -0.6 * a + 0.8 * d - 0.6 * v - 0.6,
    }
    x = np.array([logits[e] for e in EMOTIONS]) / _TEMPERATURE
    p = np.exp(x - x.max())
    p /= p.sum()
    r = features.reliability
    p = r * p + (1.0 - r) * np.array([float(e == "neutral") for e in EMOTIONS])
    return {e: float(v) for e, v in zip(EMOTIONS, p / p.sum())}


def _expected_va(probs: dict[str, float]) -> tuple[float, float]:
    valence = sum(p * CATEGORY_VA[e][0] for e, p in probs.items())
    arousal = sum(p * CATEGORY_VA[e][1] for e, p in probs.items())
    return float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1))


def _neutral_probs() -> dict[str, float]:
    return {e: float(e == "neutral") for e in EMOTIONS}


def _details(features: SegmentFeatures, dims: dict[str, float]) -> dict[str, float]:
    out = {f"z_{k}": round(v, 4) for k, v in features.z.items()}
    out.update({k: round(v, 4) for k, v in dims.items()})
    out.update({"reliability": round(features.reliability, 4),
                "voiced_frames": float(features.voiced_frames),
                "speech_seconds": round(features.speech_seconds, 3),
                "baseline_speech_seconds": round(features.other_speech_seconds, 3)})
    out.update({f"raw_{k}": round(v, 4) for k, v in features.raw.items() if not np.isnan(v)})
    return out


class _ProsodyBase:
    """Caches the clip's frame features for the last (speech, prosody) pair it saw, so the
    segments of one clip share one STFT. The cache holds references, compared by identity."""

    def __init__(self) -> None:
        self._cache: tuple[object, object, ClipFrames] | None = None

    def features(self, speech: Speech, prosody: Prosody, segment: Segment) -> SegmentFeatures:
        cached = self._cache
        if cached is None or cached[0] is not speech or cached[1] is not prosody:
            cached = (speech, prosody, clip_frames(speech, prosody))
            self._cache = cached
        return segment_features(cached[2], segment)


class ProsodySpeechEmotion(_ProsodyBase):
    """Speech emotion from prosody relative to the speaker's own baseline.

    THIS IS A HEURISTIC, NOT A TRAINED MODEL. It encodes textbook correlates of vocal emotion
    (e.g. anger/joy: louder, higher, faster, brighter; fear: higher, thinner, less dominant;
    sadness: quieter, lower, slower, falling), so it detects departures from how this speaker
    talks elsewhere in the clip, not emotion per se. See `segment_features` (the z-scores),
    `dimensions` (arousal/dominance) and `category_probs` (the logit table).

    valence / arousal in the estimate are the expectation of CATEGORY_VA under `probs`.
    confidence = 0.5 * reliability: lower for segments under ~1 s, with few voiced frames, or
    when the clip has little speech outside the segment (a one-segment clip is its own
    baseline: confidence <= 0.05 and probs near neutral). details: the z-scores and more.
    """

    name = "prosody"
    MAX_CONFIDENCE = 0.5

    def __call__(self, speech: Speech, prosody: Prosody, segment: Segment) -> SignalEstimate:
        features = self.features(speech, prosody, segment)
        dims = dimensions(features)
        if features.reliability <= 0.0:
            return SignalEstimate(signal=SPEECH_EMOTION, backend=self.name,
                                  probs=_neutral_probs(), valence=0.0, arousal=0.0,
                                  confidence=0.0, details=_details(features, dims))
        probs = category_probs(features, dims)
        valence, arousal = _expected_va(probs)
        return SignalEstimate(signal=SPEECH_EMOTION, backend=self.name, probs=probs,
                              valence=valence, arousal=arousal,
                              confidence=self.MAX_CONFIDENCE * features.reliability,
                              details=_details(features, dims))


class ProsodyValenceArousal(_ProsodyBase):
    """Valence and arousal as a documented linear formula on the prosodic z-scores.

    HEURISTIC, NOT A TRAINED REGRESSOR:
        arousal = tanh(0.35 z_energy_level + 0.25 z_pitch_level + 0.15 z_rate + 0.15 z_tilt
                       + 0.10 z_pitch_range)
        valence = 0.5 * tanh(0.45 z_pitch_range + 0.35 z_pitch_slope + 0.20 z_tilt)
    (both in [-1, 1]; valence is deliberately weak: prosody says little about valence).
    confidence = 0.35 * reliability (modest); details hold arousal_confidence (0.35 r) and
    valence_confidence (0.12 r) separately, and the z-scores.
    """

    name = "prosody-regression"
    MAX_CONFIDENCE = 0.35
    VALENCE_CONFIDENCE = 0.12

    def __call__(self, speech: Speech, prosody: Prosody, segment: Segment) -> SignalEstimate:
        features = self.features(speech, prosody, segment)
        dims = dimensions(features)
        r = features.reliability
        details = _details(features, dims)
        details.update({"arousal_confidence": round(self.MAX_CONFIDENCE * r, 4),
                        "valence_confidence": round(self.VALENCE_CONFIDENCE * r, 4)})
        return SignalEstimate(signal=VALENCE_AROUSAL, backend=self.name,
                              valence=float(np.clip(dims["valence"], -1, 1)),
                              arousal=float(np.clip(dims["arousal"], -1, 1)),
                              confidence=self.MAX_CONFIDENCE * r, details=details)


# ============================================================================================
# Heavy backends (transformers): models provided by the user, never downloaded
# ============================================================================================

# Model label -> EMOTIONS (lower-cased, stripped). Covers the common SER label sets:
#   IEMOCAP 4-class (SUPERB "er"): neu, hap, sad, ang (+ exc, fru, sur, fea, dis, oth, xxx)
#   RAVDESS: neutral, calm, happy, sad, angry, fearful, disgust, surprised
#   CREMA-D: NEU, HAP, SAD, ANG, FEA, DIS;  TESS / SAVEE: neutral, happy, sad, angry, fear,
#   disgust, ps (pleasant surprise), surprise;  EmoDB: anger, boredom, disgust, fear,
#   happiness, sadness, neutral;  MELD / GoEmotions-style: joy, sadness, anger, fear, surprise.
# calm and boredom -> neutral; excited -> happy; frustrated -> angry; labels not listed
# (e.g. "other", "unknown", "LABEL_3") are dropped and the rest renormalised.
LABEL_TABLE: dict[str, str] = {
    **dict.fromkeys(["neu", "neutral", "n", "calm", "boredom", "bored", "bor"], "neutral"),
    **dict.fromkeys(["hap", "happy", "happiness", "joy", "joyful", "h", "exc", "excited",
                     "excitement", "amusement", "pleasure"], "happy"),
    **dict.fromkeys(["sad", "sadness", "s", "sa"], "sad"),
    **dict.fromkeys(["ang", "angry", "anger", "a", "mad", "fru", "frustrated", "frustration"],
                    "angry"),
    **dict.fromkeys(["sur", "surprise", "surprised", "ps", "pleasant_surprise",
                     "pleasant surprise", "su"], "surprised"),
    **dict.fromkeys(["fea", "fear", "fearful", "scared", "afraid", "f", "anxiety"], "fearful"),
    **dict.fromkeys(["dis", "disgust", "disgusted", "d"], "disgusted"),
    **dict.fromkeys(["con", "contempt", "contemptuous"], "contempt"),
}

DEFAULT_VALENCE_AROUSAL_MODEL = "audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim"
_MIN_INPUT_S = 0.5
_MAX_INPUT_S = 30.0
# Models that take the raw waveform (a default Wav2Vec2FeatureExtractor fits when a folder has
# no preprocessor_config.json).
_RAW_WAVEFORM_MODELS = {"wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech",
                        "unispeech-sat", "sew", "sew-d", "wav2vec2-conformer"}


def map_label(label: str) -> str | None:
    """A model's label name -> one of EMOTIONS, or None when it names no emotion we know."""
    key = str(label).strip().lower().replace("-", "_")
    return LABEL_TABLE.get(key) or LABEL_TABLE.get(key.replace("_", " "))


def _segment_audio(speech: Speech, segment: Segment, target_sr: int) -> np.ndarray:
    """The segment of `speech.analysis`, zero-padded (centred) to at least 0.5 s and at most 30 s
    (centre kept), resampled to `target_sr` when the model wants another rate."""
    audio = np.asarray(speech.analysis if speech.analysis.size else speech.samples, np.float32)
    sr = int(speech.sample_rate)
    i0 = int(np.clip(round(segment.start * sr), 0, len(audio)))
    i1 = int(np.clip(round(segment.end * sr), i0, len(audio)))
    clip = audio[i0:i1]
    longest = int(_MAX_INPUT_S * sr)
    if len(clip) > longest:
        off = (len(clip) - longest) // 2
        clip = clip[off:off + longest]
    shortest = int(math.ceil(_MIN_INPUT_S * sr))
    if len(clip) < shortest:
        pad = shortest - len(clip)
        clip = np.pad(clip, (pad // 2, pad - pad // 2))
    if target_sr and int(target_sr) != sr:
        import librosa

        clip = librosa.resample(clip, orig_sr=sr, target_sr=int(target_sr))
    return np.ascontiguousarray(clip, np.float32)


class _TransformersAudioBackend:
    """Loading common to the heavy backends: local folder, or an id from the user's cache only
    (`local_files_only=True`); every loading failure becomes one MissingWeightsError."""

    kind = "speech model"
    backend_prefix = "transformers"

    def __init__(self, model: str, device: str = "cpu") -> None:
        if not model or not str(model).strip():
            resolve_model_source("", self.kind.capitalize())  # raises: no model was given
        self.model_id = str(model).strip()
        self.device = device or "cpu"
        self.name = f"{self.backend_prefix}:{self.model_id}"
        self._model = None
        self._extractor = None
        self._lock = threading.Lock()

    def _missing(self, reason: str) -> MissingWeightsError:
        return load_failure(self.model_id, self.kind.capitalize(), reason,
                            "config.json, the weights and preprocessor_config.json")

    def load(self):
        """Loads the model and its feature extractor once (thread-safe)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    source = resolve_model_source(self.model_id, self.kind.capitalize())
                    from ..models import EMOTION_ON_CPU, resolve_device

                    self.device = str(resolve_device(self.device, self.kind, instead=EMOTION_ON_CPU))
                    try:
                        import torch  # noqa: F401
                        import transformers  # noqa: F401
                    except ImportError as exc:  # pragma: no cover - both are requirements
                        raise MissingWeightsError(
                            f"The {self.kind} backend needs torch and transformers ({exc}).",
                            "Install them, or use the 'prosody' backend.") from None
                    try:
                        model, extractor = self._load(source)
                        model.eval()
                        model.to(self.device)
                    except MissingWeightsError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - every loading failure: one message
                        raise self._missing(short_reason(exc)) from None
                    self._extractor = extractor
                    self._model = model
        return self

    def _load(self, source: str):  # pragma: no cover - abstract
        raise NotImplementedError

    def _extractor_for(self, source: str, model_type: str):
        from transformers import AutoFeatureExtractor, Wav2Vec2FeatureExtractor

        try:
            return AutoFeatureExtractor.from_pretrained(source, local_files_only=True)
        except (OSError, ValueError):
            if model_type in _RAW_WAVEFORM_MODELS:
                return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000,
                                                padding_value=0.0, do_normalize=True,
                                                return_attention_mask=False)
            raise self._missing("it has no preprocessor_config.json (feature extractor).")

    def _inputs(self, speech: Speech, segment: Segment):
        extractor = self._extractor
        sr = int(getattr(extractor, "sampling_rate", 16000) or 16000)
        audio = _segment_audio(speech, segment, sr)
        inputs = extractor(audio, sampling_rate=sr, return_tensors="pt")
        return {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}


def _length_factor(segment: Segment) -> float:
    """1 for segments of 1 s and more, down to 0.3 for very short ones."""
    return float(np.clip((segment.end - segment.start) / 1.0, 0.3, 1.0))


class TransformersSpeechEmotion(_TransformersAudioBackend):
    """A Hugging Face audio-classification emotion model (`AutoModelForAudioClassification`,
    e.g. a wav2vec2 / HuBERT / WavLM fine-tuned on IEMOCAP or RAVDESS) run on each segment of
    `Speech.analysis` (zero-padded to >= 0.5 s).

    The model's labels are mapped to EMOTIONS with LABEL_TABLE (summing labels that map to the
    same category; unknown labels dropped and the rest renormalised; a model none of whose
    labels is an emotion is refused). valence / arousal = expectation of CATEGORY_VA.
    confidence = (max p - 1/K) / (1 - 1/K) over the K categories the model can output (a flat
    output gives 0), times the mapped share of the probability mass, times 1 for segments of
    >= 1 s down to 0.3 for very short ones. details: "model:<label>" raw probabilities.
    """

    kind = "speech-emotion model"

    def __init__(self, model: str, device: str = "cpu") -> None:
        super().__init__(model, device)
        self._labels: list[str] = []
        self._targets: list[str | None] = []

    def _load(self, source: str):
        from transformers import AutoModelForAudioClassification

        model, info = AutoModelForAudioClassification.from_pretrained(
            source, local_files_only=True, output_loading_info=True)
        missing = [k for k in (info or {}).get("missing_keys", [])
                   if k.startswith(("classifier", "projector", "score", "head"))]
        if missing:
            raise self._missing("it has no trained classification head (it is not an "
                                "audio-classification model).")
        id2label = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
        labels = [id2label.get(i, f"LABEL_{i}") for i in range(model.config.num_labels)]
        targets = [map_label(label) for label in labels]
        if not any(targets):
            raise self._missing(f"its labels ({', '.join(labels[:8])}) are not emotion "
                                "categories this app knows.")
        self._labels, self._targets = labels, targets
        return model, self._extractor_for(source, getattr(model.config, "model_type", ""))

    def __call__(self, speech: Speech, prosody: Prosody, segment: Segment) -> SignalEstimate:
        import torch

        self.load()
        inputs = self._inputs(speech, segment)
        with torch.inference_mode():
            logits = self._model(**inputs).logits[0].float()
        raw = torch.softmax(logits, dim=-1).cpu().numpy().astype(np.float64)
        probs = dict.fromkeys(EMOTIONS, 0.0)
        for p, target in zip(raw, self._targets):
            if target is not None:
                probs[target] += float(p)
        mapped = sum(probs.values())
        probs = {e: p / mapped for e, p in probs.items()} if mapped > 1e-9 else _neutral_probs()
        k = len({t for t in self._targets if t is not None})
        top = max(probs.values())
        margin = (top - 1.0 / k) / (1.0 - 1.0 / k) if k > 1 else 0.0
        confidence = float(np.clip(margin, 0, 1)) * float(np.clip(mapped, 0, 1)) \
            * _length_factor(segment)
        valence, arousal = _expected_va(probs)
        details = {f"model:{label}": round(float(p), 5) for label, p in zip(self._labels, raw)}
        details["mapped_mass"] = round(float(mapped), 5)
        return SignalEstimate(signal=SPEECH_EMOTION, backend=self.name, probs=probs,
                              valence=valence, arousal=arousal, confidence=confidence,
                              details=details)


# --- the dimensional regressor ------------------------------------------------------------------

VA_OUTPUTS: tuple[str, ...] = ("arousal", "dominance", "valence")  # audeering's output order


@functools.cache
def _valence_arousal_model_class():
    """Builds Wav2Vec2ForValenceArousal on first use (importing transformers takes seconds, and
    the embedded backends must not pay for it). Cached so the class has one identity."""
    import torch
    from torch import nn
    from transformers import Wav2Vec2Config, Wav2Vec2Model, Wav2Vec2PreTrainedModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class RegressionHead(nn.Module):
        """dropout -> Linear(hidden, hidden) -> tanh -> dropout -> Linear(hidden, num_labels)."""

        def __init__(self, config):
            super().__init__()
            self.dense = nn.Linear(config.hidden_size, config.hidden_size)
            self.dropout = nn.Dropout(config.final_dropout)
            self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

        def forward(self, features):
            x = self.dropout(features)
            x = torch.tanh(self.dense(x))
            x = self.dropout(x)
            return self.out_proj(x)

    class Wav2Vec2ForValenceArousal(Wav2Vec2PreTrainedModel):
        """Wav2Vec2Model -> mean over time -> RegressionHead -> (arousal, dominance, valence),
        each roughly in [0, 1]. Parameter names match audeering's
        `wav2vec2-large-robust-12-ft-emotion-msp-dim` (wav2vec2.*, classifier.dense,
        classifier.out_proj), so that checkpoint loads into it. The output order is
        `config.id2label` (default VA_OUTPUTS)."""

        config_class = Wav2Vec2Config

        def __init__(self, config):
            if getattr(config, "num_labels", 0) != 3 or not _va_order(config):
                config.num_labels = 3
                config.id2label = dict(enumerate(VA_OUTPUTS))
                config.label2id = {v: i for i, v in enumerate(VA_OUTPUTS)}
            super().__init__(config)
            self.wav2vec2 = Wav2Vec2Model(config)
            self.classifier = RegressionHead(config)
            self.post_init()

        def forward(self, input_values, attention_mask=None, **kwargs):
            hidden = self.wav2vec2(input_values, attention_mask=attention_mask)[0]
            if attention_mask is not None:
                mask = self.wav2vec2._get_feature_vector_attention_mask(
                    hidden.shape[1], attention_mask).unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            else:
                pooled = hidden.mean(dim=1)
            return SequenceClassifierOutput(logits=self.classifier(pooled), hidden_states=None)

    Wav2Vec2ForValenceArousal.__module__ = __name__
    Wav2Vec2ForValenceArousal.__qualname__ = "Wav2Vec2ForValenceArousal"
    return Wav2Vec2ForValenceArousal


def _va_order(config) -> dict[str, int]:
    """Output index of arousal / dominance / valence from config.id2label ({} if unnamed)."""
    names = {str(v).strip().lower(): int(k) for k, v in (config.id2label or {}).items()}
    order = {k: names[k] for k in VA_OUTPUTS if k in names}
    return order if {"arousal", "valence"} <= set(order) else {}


def __getattr__(name: str):  # PEP 562: `from ...speech_signals import Wav2Vec2ForValenceArousal`
    if name == "Wav2Vec2ForValenceArousal":
        return _valence_arousal_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Wav2Vec2ValenceArousal(_TransformersAudioBackend):
    """Dimensional valence / arousal from a `Wav2Vec2ForValenceArousal` checkpoint (e.g. audeering's
    wav2vec2-large-robust-12-ft-emotion-msp-dim, CC BY-NC-SA: the user provides it).

    Input: the segment of `Speech.analysis` (zero-padded to >= 0.5 s) through the folder's
    Wav2Vec2FeatureExtractor (defaults when the folder has none). Outputs ~[0, 1] are mapped to
    [-1, 1] as 2x - 1 and clipped. confidence = 0.6 times 1 for segments of >= 1 s down to 0.3.
    details: the raw outputs and dominance.
    """

    kind = "valence/arousal model"
    backend_prefix = "wav2vec2"
    MAX_CONFIDENCE = 0.6

    def __init__(self, model: str = DEFAULT_VALENCE_AROUSAL_MODEL, device: str = "cpu") -> None:
        super().__init__(model, device)
        self._order: dict[str, int] = {}

    def _load(self, source: str):
        cls = _valence_arousal_model_class()
        model, info = cls.from_pretrained(source, local_files_only=True, output_loading_info=True)
        missing = [k for k in (info or {}).get("missing_keys", []) if k.startswith("classifier")]
        if missing:
            raise self._missing("it has no trained valence/arousal head (it is not a "
                                "dimensional emotion model like audeering's).")
        self._order = _va_order(model.config) or {k: i for i, k in enumerate(VA_OUTPUTS)}
        return model, self._extractor_for(source, "wav2vec2")

    def __call__(self, speech: Speech, prosody: Prosody, segment: Segment) -> SignalEstimate:
        import torch

        self.load()
        inputs = self._inputs(speech, segment)
        with torch.inference_mode():
            out = self._model(input_values=inputs["input_values"],
                              attention_mask=inputs.get("attention_mask")).logits[0]
        out = out.float().cpu().numpy().astype(np.float64)
        raw = {k: float(out[i]) for k, i in self._order.items() if i < len(out)}
        to_unit = lambda x: float(np.clip(2.0 * x - 1.0, -1.0, 1.0))  # noqa: E731
        details = {f"raw_{k}": round(v, 5) for k, v in raw.items()}
        if "dominance" in raw:
            details["dominance"] = round(to_unit(raw["dominance"]), 5)
        return SignalEstimate(signal=VALENCE_AROUSAL, backend=self.name,
                              valence=to_unit(raw.get("valence", 0.5)),
                              arousal=to_unit(raw.get("arousal", 0.5)),
                              confidence=self.MAX_CONFIDENCE * _length_factor(segment),
                              details=details)


# ============================================================================================
# Factories
# ============================================================================================

def make_speech_emotion(backend: str = "prosody", model: str | None = None, device: str = "cpu"):
    """"prosody" (default, embedded heuristic) or "transformers" with `model` (a local folder
    or a model id already in the Hugging Face cache). "transformers:<id>" also works."""
    name, model = _split(backend, model)
    if name in ("prosody", "", "default"):
        return ProsodySpeechEmotion()
    if name in ("transformers", "hf", "huggingface"):
        if not model:
            raise MissingWeightsError(
                "The 'transformers' speech-emotion backend needs a model.",
                "Set the speech model to a local folder, or to the id of an audio-classification "
                "emotion model in your Hugging Face cache (download it once with `hf download "
                "<model id>`); or use the 'prosody' backend.")
        return TransformersSpeechEmotion(model, device=device)
    raise InputError(f"Unknown speech-emotion backend '{backend}'.",
                     "Use 'prosody' or 'transformers'.")


def make_valence_arousal(backend: str = "prosody", model: str | None = None, device: str = "cpu"):
    """"prosody" (default, embedded linear formula) or "wav2vec2" / "transformers" with `model`
    (default: audeering's wav2vec2 dimensional model, which must already be on disk)."""
    name, model = _split(backend, model)
    if name in ("prosody", "prosody-regression", "", "default"):
        return ProsodyValenceArousal()
    if name in ("wav2vec2", "transformers", "audeering", "hf", "huggingface"):
        return Wav2Vec2ValenceArousal(model or DEFAULT_VALENCE_AROUSAL_MODEL, device=device)
    raise InputError(f"Unknown valence/arousal backend '{backend}'.",
                     "Use 'prosody' or 'wav2vec2'.")


def _split(backend: str | None, model: str | None) -> tuple[str, str | None]:
    name = (backend or "prosody").strip().lower()
    if ":" in name and not model:
        name, _, model = (backend or "").strip().partition(":")
        name = name.strip().lower()
    return name, (model.strip() if isinstance(model, str) and model.strip() else None)
