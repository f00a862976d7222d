import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
SAMPLES = ROOT.parent / "shared" / "samples"


@pytest.fixture(scope="session")
def portrait_path() -> Path:
    return ASSETS / "portrait.png"


@pytest.fixture(scope="session")
def closed_mouth_portrait_path() -> Path:
    """A second portrait: lips closed, glasses, no smile."""
    return ASSETS / "portrait_hopper.jpg"


@pytest.fixture(scope="session")
def speech_path() -> Path:
    return ASSETS / "speech.wav"


@pytest.fixture(scope="session")
def speech_script() -> str:
    return (ASSETS / "speech.txt").read_text().strip()


@pytest.fixture(scope="session")
def framed_face(portrait_path):
    """The sample portrait cropped around the face at 256 px, and its face analysis (shared)."""
    from pipelines.face import FaceAnalyzer, frame_image, load_portrait
    from pipelines.settings import FaceSettings

    image, ref = load_portrait(portrait_path)
    with FaceAnalyzer(FaceSettings(framing="crop")) as fa:
        face = fa.analyze(image, ref, 256)
    return frame_image(image, face.framing), face


@pytest.fixture(scope="session")
def closed_mouth_prepared(closed_mouth_portrait_path):
    from pipelines.face import FaceAnalyzer, frame_image, load_portrait
    from pipelines.render.cpu import CpuRenderer
    from pipelines.settings import FaceSettings, RenderSettings

    image, ref = load_portrait(closed_mouth_portrait_path)
    with FaceAnalyzer(FaceSettings(framing="crop")) as fa:
        face = fa.analyze(image, ref, 256)
    framed = frame_image(image, face.framing)
    renderer = CpuRenderer(RenderSettings(size=256))
    return renderer, renderer.prepare(framed, face), face, framed


@pytest.fixture(scope="session")
def prepared(framed_face):
    from pipelines.render.cpu import CpuRenderer
    from pipelines.settings import RenderSettings

    framed, face = framed_face
    renderer = CpuRenderer(RenderSettings(size=256))
    return renderer, renderer.prepare(framed, face), face


def weights(base=None, **named) -> np.ndarray:
    """Blendshape weights: `base` (e.g. the portrait's rest expression) with `named` set."""
    from pipelines.types import BLENDSHAPE_INDEX

    w = np.zeros(len(BLENDSHAPE_INDEX), np.float32) if base is None else np.array(base, np.float32)
    for k, v in named.items():
        w[BLENDSHAPE_INDEX[k]] = v
    return w
