import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "assets"
DATA = ROOT / "tests" / "data"  # test-only recordings; their licences are in data/LICENSES.md


@dataclass(frozen=True)
class ReadClip:
    """A read-English recording, its script and pocketsphinx's reference alignment of it."""

    wav: Path
    script: Path
    reference: Path


# Two LibriVox clips by the same reader (the first is also the app's bundled sample speech).
LIBRIVOX = (
    ReadClip(ASSETS / "speech.wav", ASSETS / "speech.txt",
             DATA / "sense_and_sensibility_01_austen_64kb-0870.phone.json"),
    ReadClip(DATA / "sense_and_sensibility_01_austen_64kb-0920.wav",
             DATA / "sense_and_sensibility_01_austen_64kb-0920.txt",
             DATA / "sense_and_sensibility_01_austen_64kb-0920.phone.json"),
)
GO_FORWARD = DATA / "goforward.wav"  # "go forward ten meters"
FEELS_LIKE = DATA / "input_4_16k.wav"  # "feels like these days go on forever"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) only GPU tests may skip. `.ci/run` runs the suite in a fresh clone with
    nothing beside it: a test that needs a file from outside the repository fails there, and one
    that would skip for want of it fails too."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") and item.get_closest_marker("gpu") is None \
            and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where only GPU tests may skip: {reason}"


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
    """The sample portrait cropped around the face at 256 px, and its face analysis (built once per run)."""
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
