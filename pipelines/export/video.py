"""H.264 + AAC MP4 export through the ffmpeg binary that ships in imageio-ffmpeg.

The file is written next to its destination under a temporary name and moved into place only
when complete, so a failed or cancelled render never leaves a half-written video.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterable

import imageio_ffmpeg
import numpy as np

from ..files import atomic_output
from ..settings import ExportSettings


def write_mp4(frames: Iterable[np.ndarray], out_path: str | os.PathLike, *, fps: float,
              size: tuple[int, int], audio_path: str | None, settings: ExportSettings,
              num_frames: int | None = None,
              on_frame: Callable[[int], None] | None = None) -> Path:
    """Encodes RGB uint8 frames of `size` (width, height) and muxes the user's audio (re-encoded
    to AAC). `on_frame(i)` is called after each frame (progress; it may raise to cancel)."""
    width, height = size
    output_params = ["-crf", str(settings.crf), "-preset", settings.x264_preset,
                     "-movflags", "+faststart"]
    if audio_path is not None:
        output_params += ["-b:a", settings.audio_bitrate, "-ac", "2"]
    with atomic_output(out_path, ".mp4") as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (width, height), fps=fps, codec="libx264", quality=None,
            macro_block_size=2, pix_fmt_out="yuv420p", output_params=output_params,
            audio_path=audio_path, audio_codec="aac" if audio_path else None,
            ffmpeg_log_level="error")
        writer.send(None)
        try:
            for i, frame in enumerate(frames):
                writer.send(np.ascontiguousarray(frame))
                if on_frame is not None:
                    on_frame(i)
        except BaseException:
            try:
                writer.close()
            except Exception:  # the encoder's own error is secondary to ours
                pass
            raise
        writer.close()
    return Path(out_path)


def probe_durations(path: str | os.PathLike) -> dict[str, float]:
    """Video and audio stream durations of an MP4 (seconds), read by decoding with ffmpeg."""
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    out = {}
    for stream, key in (("v:0", "video"), ("a:0", "audio")):
        r = subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-map", stream,
                            "-f", "null", "-"], capture_output=True, text=True)
        times = [line.rsplit("time=", 1)[1].split()[0] for line in r.stderr.splitlines()
                 if "time=" in line]
        if times:
            h, m, s = times[-1].split(":")
            out[key] = int(h) * 3600 + int(m) * 60 + float(s)
    return out
