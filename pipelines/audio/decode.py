"""Speech input: any common audio (or video-with-audio) file → `Speech` (16 kHz mono float32).

Decoding is done by the ffmpeg binary that ships with `imageio-ffmpeg`, so it works offline and
identically on every machine. The file is probed first (`ffmpeg -i`, header only) so that obvious
problems (not audio, no audio stream, far too long) are reported before anything is decoded.
"""
from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import AudioError, AudioTooLongError, SilentAudioError, UnsupportedFormatError
from ..settings import AudioSettings
from ..files import file_sha256
from ..types import MediaRef, Speech

SUPPORTED_FORMATS = ("wav", "mp3", "m4a", "ogg", "webm", "flac")
_SUPPORTED_TEXT = "WAV, MP3, M4A, OGG, WebM or FLAC"

# Channel layout names as ffmpeg prints them.
_LAYOUT_CHANNELS = {
    "mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "quad": 4, "quad(side)": 4,
    "4.0": 4, "4.1": 5, "5.0": 5, "5.0(side)": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.1": 7,
    "7.0": 7, "7.1": 8, "7.1(wide)": 8, "7.1(wide-side)": 8, "downmix": 2,
}
_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_AUDIO_STREAM_RE = re.compile(r"Stream #\d+:\d+.*?: Audio: (.*)")
_RATE_RE = re.compile(r"(\d+) Hz")
_IMAGE_INPUT_RE = re.compile(r"Input #0, (image2|\w+_pipe)\b")
_LOUDNESS_WINDOW_S = 0.1  # "silent" means: the loudest 100 ms stays below the threshold
_ANALYSIS_TARGET_DBFS = -20.0  # speech level of the analysis copy


@dataclass
class ProbeInfo:
    duration: float | None  # None when the container does not say (e.g. browser WebM)
    sample_rate: int
    channels: int


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # imported lazily: it looks for the binary on import

    return imageio_ffmpeg.get_ffmpeg_exe()


def load_speech(path: str | Path, settings: AudioSettings | None = None) -> Speech:
    """Decodes a speech recording for the pipeline; raises a typed, actionable error otherwise."""
    settings = settings or AudioSettings()
    file = _existing_file(path)
    info = probe_audio(file)
    if info.duration is not None:
        _check_duration(file, info.duration, settings)
    samples = _decode(file, settings)
    duration = len(samples) / settings.sample_rate
    _check_duration(file, duration, settings)
    _check_not_silent(file, samples, settings)
    return Speech(
        source=MediaRef(path=str(file), sha256=file_sha256(file)),
        sample_rate=settings.sample_rate,
        duration=duration,
        source_sample_rate=info.sample_rate,
        source_channels=info.channels,
        samples=samples,
        analysis=normalise_for_analysis(samples, settings.sample_rate),
    )




def _existing_file(path: str | Path) -> Path:
    file = Path(path).expanduser().resolve()
    if not file.exists():
        raise AudioError(f"Audio file not found: {file}.", "Check the path and try again.")
    if not file.is_file():
        raise AudioError(f"{file} is a folder, not an audio file.",
                         f"Choose a {_SUPPORTED_TEXT} file.")
    if not os.access(file, os.R_OK):
        raise AudioError(f"{file.name} cannot be read (permission denied).",
                         "Check the file's permissions.")
    if file.stat().st_size == 0:
        raise UnsupportedFormatError(f"Audio file {file.name} is empty (0 bytes).",
                                     f"Choose a {_SUPPORTED_TEXT} recording.")
    return file


def probe_audio(file: Path) -> ProbeInfo:
    """Reads the container header with `ffmpeg -i` (no decoding)."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(file)],
                            capture_output=True, text=True, errors="replace", timeout=60)
    return parse_probe(file, result.stderr)


def parse_probe(file: Path, stderr: str) -> ProbeInfo:
    audio = _AUDIO_STREAM_RE.search(stderr)
    if audio is None and ("Error opening input" in stderr or "Invalid data found" in stderr):
        raise UnsupportedFormatError(
            f"{file.name} is not a readable audio file (unknown format or corrupt).",
            f"Use a {_SUPPORTED_TEXT} recording.")
    if audio is None:
        kind = "not an audio file"
        if _IMAGE_INPUT_RE.search(stderr):
            kind = "an image, not an audio file"
        elif "Video:" in stderr:
            kind = "a video file with no sound track"
        raise AudioError(f"{file.name} is {kind}.",
                         f"Choose a recording with speech ({_SUPPORTED_TEXT}).")
    description = audio.group(1)
    rate = _RATE_RE.search(description)
    return ProbeInfo(duration=_parse_duration(stderr),
                     sample_rate=int(rate.group(1)) if rate else 0,
                     channels=_parse_channels(description))


def _parse_duration(stderr: str) -> float | None:
    match = _DURATION_RE.search(stderr)
    if match is None:  # "Duration: N/A"
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _parse_channels(description: str) -> int:
    fields = [part.strip() for part in description.split(",")]
    for part in fields:
        count = re.fullmatch(r"(\d+) channels(?: \(.*\))?", part)
        if count:
            return int(count.group(1))
        if part in _LAYOUT_CHANNELS:
            return _LAYOUT_CHANNELS[part]
    return 1


def _decode(file: Path, settings: AudioSettings) -> np.ndarray:
    # `-t` caps decoding just past the limit: a huge file whose header hides its length is
    # still refused quickly instead of being decoded in full.
    limit = settings.max_duration_s + 1.0
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(file),
               "-vn", "-t", f"{limit:.3f}", "-f", "f32le", "-ac", "1",
               "-ar", str(settings.sample_rate), "-"]
    result = subprocess.run(command, capture_output=True, timeout=600)
    samples = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    if result.returncode != 0 and samples.size == 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown"]
        raise UnsupportedFormatError(
            f"Could not decode {file.name} ({reason[0]}).",
            f"The file may be corrupt; re-export it as {_SUPPORTED_TEXT}.")
    return np.nan_to_num(np.clip(samples, -1.0, 1.0))


def _check_duration(file: Path, duration: float, settings: AudioSettings) -> None:
    if duration > settings.max_duration_s:
        raise AudioTooLongError(
            f"{file.name} is {_minutes(duration)} long; the limit is "
            f"{_minutes(settings.max_duration_s)}.",
            "Split the recording, or raise the limit with the audio.max_duration_s setting.")
    if duration < settings.min_duration_s:
        raise AudioError(
            f"{file.name} is too short ({duration:.2f} s); at least "
            f"{settings.min_duration_s:.1f} s of speech is needed.",
            "Use a longer recording.")


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def _check_not_silent(file: Path, samples: np.ndarray, settings: AudioSettings) -> None:
    loudest = loudest_window_dbfs(samples, settings.sample_rate, _LOUDNESS_WINDOW_S)
    if loudest < settings.silence_dbfs:
        raise SilentAudioError(
            f"{file.name} is silent: even its loudest moment is too quiet to hold speech.",
            "Check that the microphone was on and close enough, or choose another recording.")


def loudest_window_dbfs(samples: np.ndarray, sample_rate: int, window_s: float) -> float:
    """dBFS of the loudest `window_s` stretch (RMS over non-overlapping windows)."""
    frame_rms = _frame_rms(samples - float(np.mean(samples)), max(1, int(window_s * sample_rate)))
    return _to_dbfs(float(frame_rms.max(initial=0.0)))


def normalise_for_analysis(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """A copy whose speech sits at a fixed level, so that analysis thresholds do not depend on
    how loud the user recorded. The reference is a high percentile of the active 50 ms frame
    levels (robust to clicks and to long pauses)."""
    centred = samples - float(np.mean(samples))
    frame_rms = _frame_rms(centred, int(0.05 * sample_rate))
    if frame_rms.size == 0:
        return centred.astype(np.float32)
    # Only frames within 30 dB of the loudest count: a clip that is mostly silence must not
    # have its silence taken as the speech level (which would blow the speech up into clipping).
    active = frame_rms[frame_rms >= 0.03 * float(np.percentile(frame_rms, 99))]
    speech_level = float(np.percentile(active, 80)) if active.size else 0.0
    if speech_level <= 1e-9:
        return centred.astype(np.float32)
    gain = min(10 ** (_ANALYSIS_TARGET_DBFS / 20) / speech_level, 1000.0)
    return np.clip(centred * gain, -1.0, 1.0).astype(np.float32)


def _frame_rms(samples: np.ndarray, frame: int) -> np.ndarray:
    usable = len(samples) // frame * frame
    if usable == 0:
        return np.sqrt(np.mean(np.square(samples, dtype=np.float64), keepdims=True)) \
            if len(samples) else np.zeros(0)
    frames = samples[:usable].reshape(-1, frame).astype(np.float64)
    return np.sqrt(np.mean(frames * frames, axis=1))


def _to_dbfs(rms: float) -> float:
    return 20.0 * np.log10(max(rms, 1e-10))
