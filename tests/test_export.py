"""MP4 export: codecs, durations, and nothing half-written on failure."""
import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from pipelines.export.video import probe_durations, write_mp4
from pipelines.settings import ExportSettings


def _streams(path):
    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True).stderr
    return err


def test_h264_aac_with_the_users_audio(tmp_path, speech_path):
    fps, n = 25, int(round(7.1 * 25))
    frames = (np.full((64, 96, 3), i % 255, np.uint8) for i in range(n))
    out = write_mp4(frames, tmp_path / "clip.mp4", fps=fps, size=(96, 64),
                    audio_path=str(speech_path), settings=ExportSettings())
    info = _streams(out)
    assert "Video: h264" in info and "Audio: aac" in info
    d = probe_durations(out)
    assert abs(d["video"] - d["audio"]) <= 1.0 / fps + 0.03


def test_failed_render_leaves_no_file(tmp_path):
    def frames():
        yield np.zeros((64, 64, 3), np.uint8)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_mp4(frames(), tmp_path / "clip.mp4", fps=25, size=(64, 64), audio_path=None,
                  settings=ExportSettings())
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_when_a_new_render_fails(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"previous take")

    def frames():
        raise KeyboardInterrupt
        yield

    with pytest.raises(KeyboardInterrupt):
        write_mp4(frames(), target, fps=25, size=(64, 64), audio_path=None, settings=ExportSettings())
    assert target.read_bytes() == b"previous take"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
