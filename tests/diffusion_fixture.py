"""The analysed project the diffusion-renderer tests start from (the same inputs, seed and settings
as tests/test_diffusion.py), computed here or read back from a folder written by
scripts/gpu/make_diffusion_fixture.py.

Computing it needs the whole CPU stack (MediaPipe, pocketsphinx, gruut, vaderSentiment, ...); a
GPU machine without them renders from the saved folder instead: `project.json` (every analysed
stage; media paths relative to the repository) and `matte.npy` (MediaPipe's person matte of the
framed portrait, the one input of the CPU renderer's preparation that needs MediaPipe)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_ENV = "SYNCHRORAMA_DIFFUSION_FIXTURE"
PORTRAIT = ROOT / "assets" / "portrait_hopper.jpg"
SPEECH = ROOT / "assets" / "speech.wav"
SCRIPT = ROOT / "assets" / "speech.txt"
SEED = 2


class FixedMatte:
    """Stands in for render.cpu.PersonMatte with a matte computed beforehand."""

    def __init__(self, matte: np.ndarray):
        self.matte = np.asarray(matte, np.float32)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image.shape[:2] != self.matte.shape[:2]:
            raise ValueError(f"saved matte is {self.matte.shape[:2]}, image is {image.shape[:2]}")
        return self.matte

    def close(self) -> None:
        pass


def analyse(settings):
    """(project, matte): every analysis stage of the project, and the framed portrait's matte."""
    from pipelines.face import frame_image, load_portrait
    from pipelines.pipeline import SynchroRaMaPipeline
    from pipelines.project import Project
    from pipelines.render.cpu import PersonMatte

    project = Project.new(PORTRAIT, SPEECH, script=SCRIPT.read_text().strip(), seed=SEED,
                          settings=settings)
    project = SynchroRaMaPipeline.from_settings(settings)(project).project
    image, _ = load_portrait(project.portrait.path)
    person = PersonMatte()
    try:
        matte = person(frame_image(image, project.face.framing))
    finally:
        person.close()
    return project, matte


def save(folder: Path, project, matte: np.ndarray) -> Path:
    from pipelines.serialization import to_jsonable

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = to_jsonable(project)
    for key in ("portrait", "audio"):
        data[key]["path"] = str(Path(data[key]["path"]).resolve().relative_to(ROOT))
    (folder / "project.json").write_text(json.dumps(data, separators=(",", ":")))
    np.save(folder / "matte.npy", np.asarray(matte, np.float32))
    return folder


def load(folder: Path):
    """(project, matte) as saved by `save`, with the media paths pointing into this checkout."""
    from pipelines.project import Project
    from pipelines.serialization import from_jsonable

    folder = Path(folder)
    data = json.loads((folder / "project.json").read_text())
    for key in ("portrait", "audio"):
        data[key]["path"] = str(ROOT / data[key]["path"])
    project = from_jsonable(Project, data)
    project.check_media()  # same files as when analysed (sha256)
    return project, np.load(folder / "matte.npy")
