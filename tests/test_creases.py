"""Expression creases: raised brows fold the forehead, lowered brows furrow the skin between
them, drawn on the photo's own skin and nowhere else."""
import dataclasses

import numpy as np
import pytest

from scipy.signal import find_peaks

from conftest import ASSETS, DATA, weights
from pipelines.face import FaceAnalyzer, frame_image, load_portrait
from pipelines.face import mesh as L
from pipelines.render.cpu import CpuRenderer
from pipelines.settings import RenderSettings

STILL = np.zeros(6, np.float32)
RAISED = dict(browInnerUp=1.0, browOuterUpLeft=1.0, browOuterUpRight=1.0)
LOWERED = dict(browDownLeft=1.0, browDownRight=1.0)


@pytest.fixture(scope="module")
def bare_forehead():
    """Luis Pedro Coelho: a bare forehead, the head a little turned."""
    image, ref = load_portrait(DATA / "luis_pedro_coelho.jpg")
    with FaceAnalyzer() as analyzer:
        face = analyzer.analyze(image, ref, 320)
    framed = frame_image(image, face.framing)
    renderer = CpuRenderer(RenderSettings())
    return renderer, renderer.prepare(framed, face), face, framed


def _luma(img):
    return img.astype(float) @ np.array([0.299, 0.587, 0.114])


def _with_and_without_creases(renderer, prep, w):
    """The same warped frame drawn with the creases and without them."""
    f = prep.rig.frame(w, STILL)
    plain = dataclasses.replace(prep, creases=None)
    return renderer.draw(prep, f, w), renderer.draw(plain, f, w), f.points


def _forehead(points, iod):
    """Rows and columns of the middle of the forehead, above the brows."""
    brows = points[[i for e in L.EYE.values() for i in e["brow"]], :2]
    cx = points[[i for e in L.EYE.values() for i in e["brow_inner"]], 0].mean()
    top = max(0.0, points[list(L.FOREHEAD_TOP), 1].min())
    return (slice(int(top), int(brows[:, 1].min())),
            slice(int(cx - 0.2 * iod), int(cx + 0.2 * iod)))


def _between_the_brows(points, iod):
    cx, cy = points[[i for e in L.EYE.values() for i in e["brow_inner"]], :2].mean(axis=0)
    return (slice(int(cy - 0.12 * iod), int(cy + 0.02 * iod)),
            slice(int(cx - 0.15 * iod), int(cx + 0.15 * iod)))


def _dips(profile, depth):
    """How many separate grooves the profile shows: darkenings deeper than `depth`, each
    standing out from what is beside it."""
    return len(find_peaks(-profile, height=depth, prominence=0.5)[0])


def test_raised_brows_fold_the_forehead_into_lines(bare_forehead):
    """AU1 + AU2 push the forehead's skin into horizontal lines: darker grooves, one above
    another across the middle of the forehead. Nothing else in the frame changes."""
    renderer, prep = bare_forehead[:2]
    iod = prep.rig.iod
    w = weights(prep.rig.rest_expression, **RAISED)
    folded, plain, points = _with_and_without_creases(renderer, prep, w)
    change = _luma(folded) - _luma(plain)
    rows = change[_forehead(points, iod)].mean(axis=1)
    assert _dips(rows, 1.5) >= 2
    # The lines run across the forehead (with a slight wave): every column of its middle is
    # darkened near the deepest groove, not spots of it.
    region = _forehead(points, iod)
    groove = region[0].start + int(np.argmin(rows))
    assert np.mean(change[groove - 2:groove + 3, region[1]].min(axis=0) < -1.0) > 0.95
    # Below the brows (eyes, nose, mouth) the frame is as it was.
    below = int(points[[i for e in L.EYE.values() for i in e["upper"]], 1].min())
    assert np.abs(change[below:]).max() < 1.0


@pytest.mark.parametrize("which", ["bare_forehead", "prepared", "closed_mouth_prepared"])
def test_lowered_brows_furrow_the_skin_between_them(which, request):
    """AU4 bunches the skin between the brows into short vertical furrows, one inside each
    brow's inner end; the forehead above stays smooth."""
    renderer, prep = request.getfixturevalue(which)[:2]
    iod = prep.rig.iod
    w = weights(prep.rig.rest_expression, **LOWERED)
    furrowed, plain, points = _with_and_without_creases(renderer, prep, w)
    change = _luma(furrowed) - _luma(plain)
    columns = change[_between_the_brows(points, iod)].mean(axis=0)
    assert _dips(columns, 1.5) == 2
    brows = int(points[[i for e in L.EYE.values() for i in e["brow"]], 1].min())
    assert np.abs(change[:int(brows - 0.2 * iod)]).max() < 1.0


def test_a_still_face_is_drawn_without_creases(prepared):
    _, prep, _ = prepared
    assert prep.creases.apply(prep.plate, weights(prep.rig.rest_expression)) is prep.plate


def test_no_crease_is_drawn_over_hair_across_the_forehead(bare_forehead):
    """A fringe (or a hat, or a frame) over the forehead is not skin: it does not fold."""
    _, _, face, framed = bare_forehead
    p = face.landmarks[:, :2]
    brow_top = int(p[[i for e in L.EYE.values() for i in e["brow"]], 1].min())
    fringe = framed.copy()
    hair_to = brow_top - int(0.12 * face.geometry.iod)
    fringe[:hair_to] = (52, 38, 30)  # dark brown hair down to just above the brows
    prep = CpuRenderer(RenderSettings()).prepare(fringe, face)
    shaded = prep.creases.apply(prep.plate, weights(prep.rig.rest_expression, **RAISED))
    change = np.abs(_luma(shaded) - _luma(prep.plate))
    assert change[:hair_to - 2].max() < 1.0
    # The skin left below the fringe still folds.
    assert change[hair_to + 2:brow_top].max() > 2.0


def test_the_nose_wrinkler_creases_the_top_of_the_nose(bare_forehead):
    """AU9 creases the skin across the nose's root, between the eyes; the brows and the
    forehead above them stay as they were."""
    renderer, prep = bare_forehead[:2]
    iod = prep.rig.iod
    w = weights(prep.rig.rest_expression, noseSneerLeft=1.0, noseSneerRight=1.0)
    wrinkled, plain, points = _with_and_without_creases(renderer, prep, w)
    change = _luma(wrinkled) - _luma(plain)
    cx, cy = points[[L.NOSE_BRIDGE, L.NOSE_BRIDGE_BELOW], :2].mean(axis=0)
    root = change[int(cy - 0.06 * iod):int(cy + 0.06 * iod), int(cx - 0.04 * iod):int(cx + 0.04 * iod)]
    assert _dips(root.mean(axis=1), 1.0) >= 1
    brows = int(points[[i for e in L.EYE.values() for i in e["brow"]], 1].min())
    assert np.abs(change[:brows]).max() < 1.0
