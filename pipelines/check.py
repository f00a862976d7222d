"""`launch.py check`: verifies that everything the embedded path needs is installed and works
offline (the models ship inside the pip packages)."""
from __future__ import annotations

import subprocess
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _checks():
    def ffmpeg():
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
        assert "libx264" in encoders and "aac" in encoders, "ffmpeg lacks libx264 or aac"
        return exe

    def pocketsphinx():
        from pocketsphinx import get_model_path

        model = Path(get_model_path()) / "en-us"
        assert (model / "en-us").is_dir(), f"acoustic model missing under {model}"
        return str(model)

    def face_mesh():
        import numpy as np
        from PIL import Image

        from .face import FaceAnalyzer
        from .types import MediaRef

        img = np.array(Image.open(ASSETS / "portrait.png").convert("RGB"))
        with FaceAnalyzer() as fa:
            face = fa.analyze(img, MediaRef(str(ASSETS / "portrait.png"), ""), 256)
        return f"{len(face.landmarks)} landmarks on the sample portrait"

    def segmentation():
        import numpy as np
        from PIL import Image

        from .render.cpu import PersonMatte

        img = np.array(Image.open(ASSETS / "portrait.png").convert("RGB"))
        m = PersonMatte()
        frac = float((m(img) > 0.5).mean())
        m.close()
        return f"person covers {100 * frac:.0f}% of the sample"

    def studio():
        import gradio

        return f"gradio {gradio.__version__}"

    return [("ffmpeg (H.264 + AAC)", ffmpeg), ("pocketsphinx en-us model", pocketsphinx),
            ("MediaPipe face mesh", face_mesh), ("MediaPipe selfie segmentation", segmentation),
            ("studio UI", studio)]


def _optional():
    """Optional parts: reported, never a failure."""
    from .render.diffusion import diffusion_availability

    ok, reason = diffusion_availability()
    yield "diffusion renderer (GPU)", reason if ok else f"unavailable: {reason}"


def run_check() -> int:
    failed = 0
    for name, fn in _checks():
        try:
            detail = fn()
            print(f"ok    {name}: {detail}")
        except Exception as e:  # report every failure, not just the first
            failed += 1
            print(f"FAIL  {name}: {type(e).__name__}: {e}")
    for name, detail in _optional():
        print(f"info  {name}: {detail}")
    return 1 if failed else 0
