"""The expression preview (`launch.py preview`): the grid a creator looks at before rendering.

The grid is read back from the PNG the command writes; where each picture lies comes from
`grid_layout`, which does not depend on the portrait."""
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ASSETS, ROOT

CELL = 128  # smaller than the default 160: the same grid, a little faster
EMOTIONS_SHOWN = ("neutral", "happy", "sad", "angry", "surprised", "fearful", "disgusted",
                  "contempt")
MOUTHS_SHOWN = ("rest", "M/B/P", "AA", "EE", "OO", "F/V")


def run_preview(*args):
    return subprocess.run([sys.executable, str(ROOT / "launch.py"), "preview", *map(str, args)],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    """The bundled portrait's grid, written by the command as a creator would run it."""
    out = tmp_path_factory.mktemp("preview") / "grid.png"
    started = time.perf_counter()
    r = run_preview("--portrait", ASSETS / "portrait.png", "--out", out, "--size", CELL)
    seconds = time.perf_counter() - started
    assert r.returncode == 0, r.stderr
    return out, r, seconds


@pytest.fixture(scope="module")
def pictures(grid_file):
    """label -> that picture's pixels (float, 0..255), cut from the PNG file."""
    from pipelines.preview import grid_layout

    grid = np.asarray(Image.open(grid_file[0]).convert("RGB"), dtype=np.float64)
    return {cell.label: grid[cell.box[1]:cell.box[3], cell.box[0]:cell.box[2]]
            for cell in grid_layout(CELL).cells}


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def test_the_command_writes_one_picture_per_emotion_intensity_and_mouth_shape(grid_file):
    from pipelines.preview import grid_layout

    out, r, seconds = grid_file
    assert r.stdout.strip() == str(out)  # it says where the grid is
    assert "22 pictures" in r.stderr and "Traceback" not in r.stderr
    layout = grid_layout(CELL)
    assert Image.open(out).format == "PNG"
    assert Image.open(out).size == (layout.width, layout.height)
    labels = [c.label for c in layout.cells]
    assert labels == ([f"{e} 0.5" for e in EMOTIONS_SHOWN] + [f"{e} 1.0" for e in EMOTIONS_SHOWN]
                      + list(MOUTHS_SHOWN))
    # A few seconds on a developer's machine; the bound leaves room for a busy CI runner
    # (it includes starting Python and loading the face models).
    assert seconds < 60


def test_every_emotion_changes_the_face_and_more_at_full_intensity(pictures):
    neutral = pictures["neutral 1.0"]
    assert difference(pictures["neutral 0.5"], neutral) < 0.5  # neutral has nothing to add
    assert difference(pictures["happy 1.0"], neutral) > 5
    for emotion in EMOTIONS_SHOWN[1:]:
        half = difference(pictures[f"{emotion} 0.5"], neutral)
        full = difference(pictures[f"{emotion} 1.0"], neutral)
        assert full > 3, emotion
        assert full > half, emotion


def test_an_open_mouth_changes_the_mouth_and_not_the_eyes(pictures):
    rest = pictures["rest"]
    assert difference(rest, pictures["neutral 1.0"]) < 0.5  # the same still face
    cell = rest.shape[0]
    mouth = (slice(int(0.6 * cell), int(0.9 * cell)), slice(int(0.25 * cell), int(0.75 * cell)))
    eyes_and_brows = (slice(0, int(0.45 * cell)), slice(None))
    for shape, floor in (("AA", 10), ("EE", 4), ("OO", 4)):
        picture = pictures[shape]
        assert difference(picture[mouth], rest[mouth]) > floor, shape
        assert difference(picture[eyes_and_brows], rest[eyes_and_brows]) < 1, shape


def test_the_labels_are_written_under_the_pictures(grid_file):
    from pipelines.preview import BACKGROUND, grid_layout

    grid = np.asarray(Image.open(grid_file[0]).convert("RGB"))
    layout = grid_layout(CELL)
    for cell in layout.cells:
        x0, _, x1, y1 = cell.box
        strip = grid[y1:y1 + layout.label_height, x0:x1]
        ink = np.abs(strip.astype(int) - np.array(BACKGROUND)).sum(axis=2) > 200
        assert ink.mean() > 0.005, cell.label  # dark text on the light strip


def test_the_face_is_analysed_once_and_the_renderer_prepared_once():
    from pipelines.preview import ExpressionPreviewer

    previewer = ExpressionPreviewer.from_settings(cell_size=64)
    calls = {"analyze": 0, "prepare": 0, "render_frame": 0}
    for obj, name in ((previewer.face_analyzer, "analyze"), (previewer.renderer, "prepare"),
                      (previewer.renderer, "render_frame")):
        original = getattr(obj, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(obj, name, counted)
    stages = []
    preview = previewer(ASSETS / "portrait_hopper.jpg",
                        callback=lambda stage, fraction: stages.append((stage, fraction)))
    assert calls == {"analyze": 1, "prepare": 1, "render_frame": 22}
    assert stages[0] == ("portrait", 0.0) and stages[-1] == ("done", 1.0)
    assert [f for s, f in stages if s == "render"][-1] == 1.0
    assert any("Glasses" in w for w in preview.warnings)  # the face's notes come through
    assert preview.picture("AA").shape == (64, 64, 3)


# ------------------------------------------------------------------ bad input
def assert_refused(r, out, *words):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    last = [line for line in r.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("error: "), r.stderr
    for word in words:
        assert word.lower() in last.lower(), last
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".partial" in p.name]


def test_a_missing_file_is_refused(tmp_path):
    out = tmp_path / "grid.png"
    r = run_preview("--portrait", tmp_path / "me.jpg", "--out", out)
    assert_refused(r, out, "not found", "me.jpg")


def test_a_file_that_is_not_a_picture_is_refused(tmp_path):
    (tmp_path / "me.jpg").write_text("not a picture")
    out = tmp_path / "grid.png"
    r = run_preview("--portrait", tmp_path / "me.jpg", "--out", out)
    assert_refused(r, out, "me.jpg", "not an image")


def test_a_photo_without_a_face_is_refused_as_a_render_would_be(tmp_path):
    wall = tmp_path / "wall.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (300, 1))).convert(
        "RGB").save(wall)
    out = tmp_path / "grid.png"
    r = run_preview("--portrait", wall, "--out", out)
    assert_refused(r, out, "No face was found in the portrait.")


def test_an_output_that_is_not_a_png_is_refused_before_any_work(tmp_path):
    out = tmp_path / "grid.jpg"
    r = run_preview("--portrait", ASSETS / "portrait.png", "--out", out)
    assert_refused(r, out, ".png")
    assert len(r.stderr.strip().splitlines()) == 1  # refused before the photo is read
