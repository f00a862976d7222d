"""Audio input: decoding every supported format, refusing bad input clearly, and prosody."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipelines.audio import compute_prosody, load_speech
from pipelines.audio.decode import ffmpeg_exe
from pipelines.files import file_sha256
from pipelines.errors import (AudioError, AudioTooLongError, SilentAudioError,
                              UnsupportedFormatError)
from pipelines.settings import AudioSettings

from conftest import LIBRIVOX

CLIP = LIBRIVOX[0].wav  # 7.1 s, 16 kHz mono
CLIP_SECONDS = 7.1


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Path]:
    """The sample clip re-encoded in every supported container, plus stereo 44.1 kHz WAV."""
    folder = tmp_path_factory.mktemp("formats")
    codecs = {"mp3": ["-c:a", "libmp3lame"], "m4a": ["-c:a", "aac"], "ogg": ["-c:a", "libvorbis"],
              "webm": ["-c:a", "libopus"], "flac": ["-c:a", "flac"]}
    out = {}
    for ext, codec in codecs.items():
        out[ext] = folder / f"speech.{ext}"
        _ffmpeg("-i", str(CLIP), *codec, str(out[ext]))
    out["stereo44k.wav"] = folder / "stereo44k.wav"
    _ffmpeg("-i", str(CLIP), "-ac", "2", "-ar", "44100", str(out["stereo44k.wav"]))
    return out


def test_wav_decodes_to_16k_mono_with_identity():
    speech = load_speech(CLIP, AudioSettings())
    assert speech.sample_rate == 16000 and speech.samples.dtype == np.float32
    assert speech.samples.ndim == 1
    assert speech.duration == pytest.approx(CLIP_SECONDS, abs=0.01)
    assert (speech.source_sample_rate, speech.source_channels) == (16000, 1)
    assert Path(speech.source.path).is_absolute()
    assert speech.source.sha256 == file_sha256(CLIP) and len(speech.source.sha256) == 64
    reference, _ = sf.read(CLIP, dtype="float32")
    np.testing.assert_allclose(speech.samples, reference, atol=1e-4)  # as decoded, untouched


@pytest.mark.parametrize("name, rate, channels", [
    ("mp3", 16000, 1), ("m4a", 16000, 1), ("ogg", 16000, 1), ("webm", 48000, 1),
    ("flac", 16000, 1), ("stereo44k.wav", 44100, 2)])
def test_each_format_decodes_with_duration_preserved(variants, name, rate, channels):
    speech = load_speech(variants[name])
    assert speech.sample_rate == 16000
    assert speech.duration == pytest.approx(CLIP_SECONDS, abs=0.06)
    assert speech.source_sample_rate == rate and speech.source_channels == channels
    assert 0.05 < np.abs(speech.samples).max() <= 1.0


def test_analysis_copy_is_level_normalised_and_samples_are_not(tmp_path):
    quiet = tmp_path / "quiet.wav"
    audio, sr = sf.read(CLIP, dtype="float32")
    sf.write(quiet, audio * 0.05, sr)
    loud, soft = load_speech(CLIP), load_speech(quiet)
    assert np.abs(soft.samples).max() < 0.6 * np.abs(loud.samples).max()
    # The analysis copies match although the recordings differ by 26 dB.
    assert np.std(soft.analysis) == pytest.approx(np.std(loud.analysis), rel=0.05)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_speech(tmp_path / "nope.wav")


def test_non_audio_file_names_supported_formats(tmp_path):
    junk = tmp_path / "notes.mp3"
    junk.write_text("these are not the droids you are looking for\n" * 50)
    with pytest.raises(UnsupportedFormatError) as err:
        load_speech(junk)
    assert "notes.mp3" in str(err.value) and "WAV" in str(err.value) and "FLAC" in str(err.value)


def test_truncated_file_is_refused(tmp_path, variants):
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(variants["m4a"].read_bytes()[:300])  # header cut mid-way
    with pytest.raises((UnsupportedFormatError, AudioError)) as err:
        load_speech(broken)
    assert "broken.m4a" in str(err.value)


def test_video_without_sound_track_is_refused(tmp_path):
    video = tmp_path / "silent_film.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "1", "-pix_fmt", "yuv420p",
            str(video))
    with pytest.raises(AudioError, match="no sound track"):
        load_speech(video)


def test_video_with_sound_track_gives_its_audio(tmp_path):
    video = tmp_path / "talk.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-i", str(CLIP), "-shortest",
            "-pix_fmt", "yuv420p", "-c:a", "aac", str(video))
    assert load_speech(video).duration > 6.0


def test_silence_is_refused_in_plain_words(tmp_path):
    silent = tmp_path / "silent.wav"
    rng = np.random.default_rng(0)
    sf.write(silent, (rng.standard_normal(16000 * 2) * 1e-4).astype(np.float32), 16000)
    with pytest.raises(SilentAudioError) as err:
        load_speech(silent)
    message = str(err.value)
    assert "silent" in message and "microphone" in message
    assert "dBFS" not in message and "silence_dbfs" not in message  # a creator's words


def test_too_short_is_refused(tmp_path):
    short = tmp_path / "blip.wav"
    audio, sr = sf.read(CLIP, dtype="float32")
    sf.write(short, audio[int(1.0 * sr):int(1.1 * sr)], sr)
    with pytest.raises(AudioError, match="too short"):
        load_speech(short)


def test_too_long_says_the_limit_and_the_setting(tmp_path):
    with pytest.raises(AudioTooLongError) as err:
        load_speech(CLIP, AudioSettings(max_duration_s=5.0))
    message = str(err.value)
    assert "5.0 s" in message and "max_duration_s" in message


def test_too_long_without_duration_in_header_stops_decoding_early(tmp_path):
    # A raw ADTS stream has no duration header; decoding must stop just past the limit.
    stream = tmp_path / "stream.aac"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:duration=40", "-c:a", "aac", "-f", "adts",
            str(stream))
    with pytest.raises(AudioTooLongError):
        load_speech(stream, AudioSettings(max_duration_s=10.0))


# -- prosody ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def speech():
    return load_speech(CLIP)


@pytest.fixture(scope="module")
def prosody(speech):
    return compute_prosody(speech)


def _window(prosody, start: float, end: float) -> slice:
    return slice(int(start / prosody.hop), int(end / prosody.hop))


def test_prosody_grid_matches_the_audio(speech, prosody):
    count = len(prosody.rms)
    assert count == pytest.approx(speech.duration / prosody.hop, abs=2)
    for name in ("loudness", "f0", "voiced", "speech"):
        assert len(getattr(prosody, name)) == count
    assert prosody.voiced.dtype == bool and prosody.speech.dtype == bool
    assert 0.0 <= prosody.loudness.min() and prosody.loudness.max() <= 1.0


def test_loudness_is_high_in_speech_and_low_in_pauses(prosody):
    # Reference alignment of this clip: silence 0-0.2 s and 6.7-7.1 s; speech 0.2-6.6 s.
    lead, tail = _window(prosody, 0.0, 0.15), _window(prosody, 6.75, 7.05)
    talk = _window(prosody, 0.4, 6.4)
    assert prosody.loudness[lead].mean() < 0.15 and prosody.loudness[tail].mean() < 0.15
    assert np.percentile(prosody.loudness[talk], 75) > 0.7
    assert not prosody.speech[lead].any() and not prosody.speech[tail].any()
    assert prosody.speech[talk].mean() > 0.9


def test_pitch_is_a_plausible_speaking_voice(prosody):
    assert 0.3 < prosody.voiced[prosody.speech].mean() < 0.9
    f0 = prosody.f0[prosody.voiced]
    assert 70 < np.median(f0) < 200  # an adult reader
    assert (prosody.f0[~prosody.voiced] == 0).all()


def test_noise_alone_does_not_read_as_speech(tmp_path):
    noisy = tmp_path / "noise_then_speech.wav"
    audio, sr = sf.read(CLIP, dtype="float32")
    rng = np.random.default_rng(1)
    noise = (rng.standard_normal(2 * sr) * 0.01).astype(np.float32)
    sf.write(noisy, np.concatenate([noise, audio + rng.standard_normal(len(audio)) * 0.01]), sr)
    prosody = compute_prosody(load_speech(noisy))
    noise_part = _window(prosody, 0.1, 1.9)
    assert prosody.loudness[noise_part].mean() < 0.15
    assert prosody.speech[noise_part].mean() < 0.1


def test_prosody_is_fast(speech):
    import dataclasses

    long = dataclasses.replace(speech, samples=np.tile(speech.samples, 5),
                               analysis=np.tile(speech.analysis, 5), duration=speech.duration * 5)
    compute_prosody(speech)  # warm-up (library imports)
    started = time.perf_counter()
    compute_prosody(long)
    assert time.perf_counter() - started < 1.5  # 35 s of audio


def test_image_is_refused_as_not_audio():
    portrait = Path(__file__).resolve().parents[1] / "assets" / "portrait.png"
    with pytest.raises(AudioError, match="image, not an audio file"):
        load_speech(portrait)


def test_mostly_silent_recording_is_not_over_amplified_for_analysis(tmp_path):
    sparse = tmp_path / "sparse.wav"
    audio, sr = sf.read(CLIP, dtype="float32")
    rng = np.random.default_rng(2)
    quiet_room = (rng.standard_normal(30 * sr) * 1e-3).astype(np.float32)
    quiet_room[10 * sr:11 * sr] += audio[2 * sr:3 * sr]  # 1 s of speech in 30 s
    sf.write(sparse, quiet_room, sr)
    analysis = load_speech(sparse).analysis
    assert np.mean(np.abs(analysis) >= 0.999) < 1e-4  # next to no clipping
    speech_rms = np.sqrt(np.mean(analysis[10 * sr:11 * sr] ** 2))
    assert 0.03 < speech_rms < 0.3  # near the -20 dBFS target
