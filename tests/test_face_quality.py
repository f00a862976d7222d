"""Honest notes on portraits the animation cannot do well (pipelines/face/quality.py), on real
photos (tests/data, licences in tests/data/LICENSES.md)."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from pipelines.errors import NoFaceError, NotHumanFaceError
from pipelines.face import FaceAnalyzer, FaceTurnedAwayError, load_portrait
from pipelines.face import mesh as L
from pipelines.face import quality
from pipelines.face.geometry import FaceGeometry
from pipelines.settings import FaceSettings
from pipelines.types import FaceAnalysis

from conftest import ASSETS, DATA

# The words that start each quality note; a photo gets each at most once.
EYES_CLOSED = "The eyes look closed"
MOUTH_COVERED = "Something covers part of the mouth"
ENGRAVING = "This looks like an engraving"
SMALL_FACE = "The face is small in the photo"
TURNED = "The head is turned about"
QUALITY_NOTES = (EYES_CLOSED, MOUTH_COVERED, ENGRAVING, SMALL_FACE, TURNED)


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer(FaceSettings()) as a:
        yield a


def _analyze(analyzer: FaceAnalyzer, name: str, size: int = 512) -> FaceAnalysis:
    image, ref = load_portrait(DATA / name)
    return analyzer.analyze(image, ref, size)


def _notes(analysis: FaceAnalysis) -> list[str]:
    """The quality notes among the analysis' warnings, by their first words."""
    return [start for w in analysis.warnings for start in QUALITY_NOTES if w.startswith(start)]


def _assert_once(analysis: FaceAnalysis, start: str) -> str:
    assert len(analysis.warnings) == len(set(analysis.warnings))
    assert _notes(analysis) == [start], analysis.warnings
    return next(w for w in analysis.warnings if w.startswith(start))


def test_closed_eyes_are_noted_once_in_plain_words(analyzer):
    note = _assert_once(_analyze(analyzer, "pexels_woman_eyes_closed.jpg"), EYES_CLOSED)
    assert "closed eyes throughout" in note and "eyes open works better" in note


def test_a_hand_over_the_mouth_is_noted_once(analyzer):
    analysis = _analyze(analyzer, "pexels_woman_hand_over_mouth.jpg")
    note = _assert_once(analysis, MOUTH_COVERED)
    assert "stretch and bend" in note and "whole mouth visible" in note
    # The fingers cover the subject's right half (the image's left): no line between the lips
    # there, a clear one on the other half.
    image, _ = load_portrait(DATA / "pexels_woman_hand_over_mouth.jpg")
    from pipelines.face import map_to_original

    landmarks = map_to_original(analysis.landmarks, analysis.framing)
    right, left = quality.mouth_line_contrast(quality.FaceImage.of(image, FaceGeometry.of(landmarks)))
    assert right < quality.HIDDEN_MOUTH_LINE < quality.VISIBLE_MOUTH_LINE < left


def test_an_engraving_is_noted_once(analyzer):
    note = _assert_once(_analyze(analyzer, "alimehemet_engraving_fez.jpg"), ENGRAVING)
    assert "not a photograph" in note and "A photograph of the person works best" in note


def test_a_small_face_is_noted_once_with_its_size(analyzer):
    image, ref = load_portrait(DATA / "pexels_woman_smile.jpg")
    small = cv2.resize(image, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)  # face ~90 px
    note = _assert_once(analyzer.analyze(small, ref, 512), SMALL_FACE)
    width = int(note.split("about ")[1].split(" pixels")[0])
    assert 80 <= width < quality.SMALL_FACE_PX and "soft" in note


def test_a_turned_head_is_noted_once_and_a_head_turned_about_35_degrees_still_renders(analyzer):
    # Turned well away from the camera (about 25 degrees as measured): analysed, no refusal.
    turned = _analyze(analyzer, "luis_pedro_coelho.jpg")
    yaw = turned.geometry.pose[0]
    assert 20 < abs(yaw) < FaceSettings().warn_yaw_deg and _notes(turned) == []
    with FaceAnalyzer(FaceSettings(warn_yaw_deg=20.0)) as strict:
        note = _assert_once(_analyze(strict, "luis_pedro_coelho.jpg"), TURNED)
    stated = int(note.split("turned about ")[1].split(" degrees")[0])
    assert abs(stated - abs(yaw)) < 2 and "facing the camera" in note
    # Between the warning (35) and the refusal (50): a note, no refusal.
    settings = FaceSettings()
    for degrees in (36.0, -42.0, 49.0):
        quality.refuse_turned_away(degrees, settings)
        assert quality.turned_head_warning(degrees, settings).startswith(TURNED)
    assert quality.turned_head_warning(34.0, settings) is None
    with pytest.raises(FaceTurnedAwayError, match="towards the camera"):
        quality.refuse_turned_away(-51.0, settings)


@pytest.mark.parametrize("name", [
    "pexels_woman_smile.jpg",  # an ordinary colour photo
    "marie_curie_bw_lowres.png",  # black-and-white, 256 x 256
    "aksel_andersson_white_beard.jpg",  # sepia print with grain, full beard
    "ew_dahlgren_moustache_sepia.jpg",  # a moustache hides the whole mouth: it moves with the lips
    "luis_pedro_coelho.jpg",  # head turned, lips parted
])
def test_ordinary_photographs_get_none_of_the_notes(analyzer, name):
    assert _notes(_analyze(analyzer, name)) == []


def test_the_notes_are_the_same_at_every_output_size_and_framing(analyzer):
    image, ref = load_portrait(DATA / "pexels_woman_eyes_closed.jpg")
    with FaceAnalyzer(FaceSettings(framing="crop")) as crop:
        notes = {tuple(_notes(a.analyze(image, ref, size)))
                 for a in (analyzer, crop) for size in (256, 512, 1024)}
    assert notes == {(EYES_CLOSED,)}


def test_an_animal_is_refused_as_not_human_in_plain_words(analyzer):
    with pytest.raises(NotHumanFaceError) as err:
        _analyze(analyzer, "macaque_selfie_nonhuman.jpg")
    assert isinstance(err.value, NoFaceError)  # callers that handle "no face" handle this too
    assert "not a human face" in err.value.message and "animal" in err.value.message
    assert "photograph of one person's face" in err.value.hint


def test_each_measure_is_skipped_on_a_face_too_coarse_to_judge():
    image, ref = load_portrait(DATA / "pexels_woman_hand_over_mouth.jpg")
    with FaceAnalyzer(FaceSettings(min_face_px=16)) as a:
        analysis = a.analyze(cv2.resize(image, None, fx=0.15, fy=0.15,
                                        interpolation=cv2.INTER_AREA), ref, 256)
    assert analysis.geometry.iod / analysis.framing_scale < quality.MIN_MEASURED_IOD_PX
    assert _notes(analysis) == [SMALL_FACE]


def test_rotating_the_photo_in_plane_changes_no_measure(analyzer):
    """The face is resampled upright, so a tilted photo measures like a straight one."""
    image, ref = load_portrait(DATA / "pexels_woman_hand_over_mouth.jpg")
    h, w = image.shape[:2]
    side = int(math.hypot(h, w))
    canvas = cv2.copyMakeBorder(image, (side - h) // 2, (side - h) // 2, (side - w) // 2,
                                (side - w) // 2, cv2.BORDER_REPLICATE)
    turn = cv2.getRotationMatrix2D((canvas.shape[1] / 2, canvas.shape[0] / 2), 20, 1.0)
    tilted = cv2.warpAffine(canvas, turn, canvas.shape[1::-1], flags=cv2.INTER_CUBIC)
    assert _notes(analyzer.analyze(tilted, ref, 512)) == [MOUTH_COVERED]


def test_a_faint_mouth_is_not_taken_for_one_under_a_moustache(analyzer):
    """A soft-focus mouth shows a faint line between the lips on both halves, as faint as one
    hidden under hair. Taken for covered, the mouth would never be seen to open."""
    from pipelines.face import map_to_original

    image, ref = load_portrait(ASSETS / "portrait.png")
    analysis = analyzer.analyze(image, ref, 512)
    landmarks = map_to_original(analysis.landmarks, analysis.framing)
    geometry = FaceGeometry.of(landmarks)
    soft = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.03 * geometry.iod)
    mouth = np.zeros(image.shape[:2], np.float32)
    cx, cy = landmarks[[L.MOUTH_RIGHT, L.MOUTH_LEFT], :2].mean(axis=0)
    cv2.ellipse(mouth, (int(cx), int(cy)), (int(0.6 * geometry.iod), int(0.35 * geometry.iod)),
                0, 0, 360, 1.0, -1)
    mouth = cv2.GaussianBlur(mouth, (0, 0), 0.1 * geometry.iod)[..., None]
    faint = (image * (1 - mouth) + soft * mouth).astype(np.uint8)
    face = quality.FaceImage.of(faint, geometry)
    assert max(quality.mouth_line_contrast(face)) < quality.HIDDEN_MOUTH_LINE
    assert quality.covered_mouth_halves(face) == (False, False)
