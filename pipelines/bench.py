"""`launch.py bench`: renders a fixed sample end to end (model loading included) and prints one
JSON line with per-stage wall times, real-time factor, render frames/s and peak memory."""
from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def make_sample(seconds: float, folder: Path) -> tuple[Path, str]:
    """The bundled speech repeated (with short pauses) to the requested length, and its script."""
    speech, sr = sf.read(ASSETS / "speech.wav", dtype="float32")
    text = (ASSETS / "speech.txt").read_text().strip()
    pause = np.zeros(int(0.4 * sr), np.float32)
    reps = max(1, int(np.ceil(seconds / (len(speech) / sr + 0.4))))
    audio = np.concatenate([np.concatenate([speech, pause]) for _ in range(reps)])
    audio = audio[: int(seconds * sr)]
    words_per_rep = len(text.split())
    kept = int(round(len(audio) / sr / (len(speech) / sr + 0.4) * words_per_rep))
    script = " ".join((text.split() * reps)[:max(kept, 1)])
    path = folder / "bench.wav"
    sf.write(path, audio, sr)
    return path, script


def run_bench(seconds: float = 30.0, size: int = 512, fps: float = 25.0, asr: bool = False) -> dict:
    """`asr`: give no script, so the speech is recognised first (the slower path)."""
    from .pipeline import SynchroRaMaPipeline
    from .project import Project
    from .settings import load_preset

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        audio, script = make_sample(seconds, folder)
        settings = load_preset("natural").with_overrides({"render": {"size": size, "fps": fps}})
        t0 = time.perf_counter()
        pipe = SynchroRaMaPipeline.from_settings(settings)
        project = Project.new(ASSETS / "portrait.png", audio, script=None if asr else script,
                              seed=0, settings=settings)
        out = pipe(project, folder / "bench.mp4")
        wall = time.perf_counter() - t0
        frames = out.project.motion.num_frames
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "audio_s": round(seconds, 2),
        "size": size,
        "fps": fps,
        "frames": frames,
        "wall_s": round(wall, 2),
        "real_time_factor": round(wall / seconds, 3),
        "render_fps": round(frames / out.timings["render"], 1),
        "stages_s": {k: round(v, 3) for k, v in out.timings.items()},
        "transcript_source": out.project.transcript.source,
        "peak_rss_mb": round(self_kb / 1024, 1),
        "peak_rss_encoder_mb": round(child_kb / 1024, 1),
    }
    print(json.dumps(result))
    sys.stdout.flush()
    return result
