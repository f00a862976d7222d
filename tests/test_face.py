"""Face stage: loading, detection, framing, landmarks, description (MediaPipe on CPU, offline)."""
from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipelines.errors import FaceTooSmallError, ImageError, NoFaceError, UnsupportedFormatError
from pipelines.face import (FaceAnalyzer, FaceTurnedAwayError, compute_framing, describe_face,
                            frame_image, head_pose, load_portrait, map_to_frame, map_to_original)
from pipelines.face.analyzer import _by_prominence, _Candidate
from pipelines.serialization import dumps, from_jsonable
from pipelines.settings import FaceSettings
from pipelines.types import FaceAnalysis, MediaRef

PORTRAIT = Path(__file__).resolve().parent.parent / "assets" / "portrait.png"
REF = MediaRef(path=str(PORTRAIT), sha256="test")


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    return np.asarray(Image.open(PORTRAIT).convert("RGB"))


@pytest.fixture(scope="module")
def analyzer():
    with FaceAnalyzer(FaceSettings(framing="crop")) as a:
        yield a


@pytest.fixture(scope="module")
def full_analyzer():
    with FaceAnalyzer(FaceSettings(framing="full")) as a:
        yield a


@pytest.fixture(scope="module")
def analysis(analyzer, portrait) -> FaceAnalysis:
    return analyzer.analyze(portrait, REF, 512)


def _original(analysis: FaceAnalysis) -> np.ndarray:
    return map_to_original(analysis.landmarks, analysis.framing)


# ------------------------------------------------------------------------------- loading
def test_load_png_gives_rgb_and_media_ref(tmp_path):
    image, ref = load_portrait(PORTRAIT)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    assert Path(ref.path).is_absolute() and ref.path == str(PORTRAIT)
    assert ref.sha256 == hashlib.sha256(PORTRAIT.read_bytes()).hexdigest()


def test_rgba_is_composited_on_white(tmp_path, portrait, analyzer):
    rgba = np.dstack([portrait, np.full(portrait.shape[:2], 255, np.uint8)])
    rgba[:, :60, 3] = 0  # transparent strip on the left
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba).save(path)
    image, _ = load_portrait(path)
    assert image.shape == (512, 512, 3)
    assert (image[:, :60] == 255).all()
    assert np.array_equal(image[:, 60:], portrait[:, 60:])
    assert analyzer.analyze(image, REF, 256).num_faces == 1


def test_greyscale_and_16bit_inputs(tmp_path, portrait, analyzer):
    grey = np.asarray(Image.fromarray(portrait).convert("L"))
    Image.fromarray(grey).save(tmp_path / "grey.png")
    image, _ = load_portrait(tmp_path / "grey.png")
    assert image.shape == (512, 512, 3) and (image[..., 0] == image[..., 2]).all()
    assert analyzer.analyze(image, REF, 256).landmarks.shape == (478, 3)

    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "grey16.png")  # 16-bit PNG
    image16, _ = load_portrait(tmp_path / "grey16.png")
    assert image16.dtype == np.uint8 and np.abs(image16[..., 0].astype(int) - grey).max() <= 1


def test_cmyk_and_webp_and_bmp(tmp_path, portrait):
    Image.fromarray(portrait).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    Image.fromarray(portrait).save(tmp_path / "p.webp", quality=90)
    Image.fromarray(portrait).save(tmp_path / "p.bmp")
    for name in ("cmyk.jpg", "p.webp", "p.bmp"):
        image, _ = load_portrait(tmp_path / name)
        assert image.shape == (512, 512, 3)
        assert np.abs(image.astype(int) - portrait).mean() < 12, name


def test_exif_rotated_jpeg_is_upright(tmp_path, portrait, analyzer):
    # Orientation 6: the stored pixels must be turned 90 degrees clockwise for display.
    stored = np.ascontiguousarray(np.rot90(portrait, 1))  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    image, _ = load_portrait(path)
    assert image.shape == portrait.shape
    assert np.abs(image.astype(int) - portrait).mean() < 6
    lm = _original(analyzer.analyze(image, REF, 256))
    eyes_y = lm[[33, 263], 1].mean()
    assert eyes_y < lm[[61, 291], 1].mean() < lm[152, 1]  # eyes above mouth above chin


def test_missing_corrupt_and_not_an_image(tmp_path, portrait):
    with pytest.raises(ImageError, match="not found"):
        load_portrait(tmp_path / "nope.png")

    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n" * 20)
    with pytest.raises(UnsupportedFormatError) as err:
        load_portrait(text)
    assert "notes.jpg" in str(err.value) and "JPEG" in str(err.value) and "PNG" in str(err.value)

    good = tmp_path / "good.png"
    Image.fromarray(portrait).save(good)
    data = good.read_bytes()
    broken = tmp_path / "broken.png"
    broken.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError) as err:
        load_portrait(broken)
    assert "broken.png" in str(err.value) and "damaged" in str(err.value)

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_portrait(empty)

    with pytest.raises(ImageError, match="not a file"):
        load_portrait(tmp_path)


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares width x height but holds almost no data (a decompression bomb)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_huge_images_are_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 20000, 20000)  # 400 MP
    t0 = time.perf_counter()
    with pytest.raises(ImageError) as err:
        load_portrait(bomb)
    assert time.perf_counter() - t0 < 1.0
    assert "bomb.png" in str(err.value) and "400 megapixels" in str(err.value)
    _png_header_only(bomb, 12000, 9000)  # 108 MP: under Pillow's own limit, over ours
    with pytest.raises(ImageError) as err:
        load_portrait(bomb)
    assert "12000x9000" in str(err.value) and "100-megapixel limit" in str(err.value)
    with pytest.raises(ImageError, match="megapixel"):
        load_portrait(PORTRAIT, max_megapixels=0.1)


# ------------------------------------------------------------------------------- landmarks
def test_landmarks_on_the_portrait_are_plausible(analysis):
    assert analysis.landmarks.shape == (478, 3) and analysis.landmarks.dtype == np.float64
    assert analysis.num_faces == 1 and analysis.original_size == (512, 512)
    lm = _original(analysis)
    # Eye corners (subject's right = image left), mouth corners, nose tip, irises: positions read
    # off the astronaut photo by eye, with a few pixels of slack.
    expected = {33: (195, 101), 263: (256, 104), 61: (202, 139), 291: (246, 141), 1: (224, 130),
                468: (204, 101), 473: (247, 104)}
    for idx, (x, y) in expected.items():
        assert abs(lm[idx, 0] - x) < 6 and abs(lm[idx, 1] - y) < 6, (idx, lm[idx, :2])
    assert lm[33, 0] < lm[133, 0] < lm[362, 0] < lm[263, 0]
    # Landmarks live in framed pixels: inside the 512x512 frame.
    assert analysis.landmarks[:, :2].min() >= 0 and analysis.landmarks[:, :2].max() <= 512
    assert analysis.inter_ocular > 100  # ~61 px in the original, x2.33 in the frame


def test_crop_framing_centres_the_face(analysis, portrait):
    fr = analysis.framing
    assert fr.mode == "crop" and fr.width == fr.height == 512
    x0, y0, x1, y1 = analysis.box
    assert abs((x0 + x1) / 2 / 512 - 0.5) < 0.05
    assert abs((y0 + y1) / 2 / 512 - 0.5) < 0.1  # a little above centre, shoulders below
    assert (y0 + y1) / 2 / 512 < 0.5
    assert abs((x1 - x0) / 512 - FaceSettings().face_fraction) < 0.03
    cx0, cy0, cx1, cy1 = fr.crop
    assert 0 <= cx0 < cx1 <= 512 and 0 <= cy0 < cy1 <= 512 and cx1 - cx0 == cy1 - cy0
    framed = frame_image(portrait, fr)
    assert framed.shape == (512, 512, 3) and framed.dtype == np.uint8


def test_landmarks_match_the_framed_pixels(analysis, portrait):
    """The mesh was re-fitted on the framed image: mapping it back agrees with the geometry."""
    framed = frame_image(portrait, analysis.framing)
    back = map_to_frame(map_to_original(analysis.landmarks, analysis.framing), analysis.framing)
    assert np.allclose(back, analysis.landmarks)
    # The iris centres sit on dark pixels of the framed image (the pupils).
    for idx in (468, 473):
        x, y = analysis.landmarks[idx, :2].astype(int)
        patch = framed[y - 2:y + 3, x - 2:x + 3].mean()
        assert patch < framed.mean() * 0.6


def test_full_framing_has_even_dimensions(full_analyzer, portrait):
    wide = cv2.copyMakeBorder(portrait, 0, 1, 121, 120, cv2.BORDER_REFLECT)  # 753 x 513
    result = full_analyzer.analyze(wide, REF, 301)
    fr = result.framing
    assert fr.mode == "full" and fr.crop == (0.0, 0.0, 753.0, 513.0)
    assert fr.width % 2 == 0 and fr.height % 2 == 0 and fr.width == 300
    assert fr.height == 2 * round(513 * 300 / 753 / 2)
    assert frame_image(wide, fr).shape == (fr.height, fr.width, 3)
    lm = map_to_original(result.landmarks, fr)
    assert abs(lm[1, 0] - (224 + 121)) < 6 and abs(lm[1, 1] - 130) < 6


def test_tight_photo_shrinks_the_crop_without_padding(analyzer, portrait):
    tight = np.ascontiguousarray(portrait[40:220, 150:300])  # 150 x 180 close-up
    result = analyzer.analyze(tight, REF, 256)
    x0, y0, x1, y1 = result.framing.crop
    assert x1 - x0 == 150 and 0 <= y0 and y1 <= 180  # as big as the photo allows
    assert any("tight around the face" in w for w in result.warnings)


# ------------------------------------------------------------------------------- failures
def test_two_faces_picks_the_larger_and_warns(analyzer, portrait):
    canvas = np.full((512, 900, 3), 255, np.uint8)
    canvas[:, :512] = portrait
    canvas[64:448, 516:900] = cv2.resize(portrait, (384, 384), interpolation=cv2.INTER_AREA)
    result = analyzer.analyze(canvas, REF, 256)
    assert result.num_faces == 2
    assert any("2 faces" in w and "largest" in w for w in result.warnings)
    nose = _original(result)[1]
    assert abs(nose[0] - 224) < 8 and abs(nose[1] - 130) < 8  # the full-size face on the left


def test_prominence_tie_goes_to_the_most_central_face():
    left = _Candidate((10, 100, 110, 200), 0.9)
    centre = _Candidate((450, 100, 548, 200), 0.8)  # 2% smaller: a tie
    small = _Candidate((800, 100, 860, 160), 0.99)
    assert _by_prominence([left, small, centre], 1000, 400) == [centre, left, small]


@pytest.mark.parametrize("kind", ["noise", "gradient", "landscape"])
def test_no_face(analyzer, kind):
    rng = np.random.default_rng(0)
    if kind == "noise":
        img = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    elif kind == "gradient":
        g = np.linspace(0, 255, 640)[None, :].repeat(480, 0)
        img = np.stack([g, g[::-1], np.full_like(g, 128)], -1).astype(np.uint8)
    else:  # sky, sun and rolling hills
        h, w = 480, 720
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = np.stack([110 + 0.2 * yy, 160 + 0.15 * yy, 235 + 0 * yy], -1).clip(0, 255)
        cv2.circle(img, (560, 90), 40, (255, 230, 120), -1)
        hills = (300 + 40 * np.sin(xx / 90.0) + 20 * np.sin(xx / 31.0)).astype(int)
        img[yy > hills] = (60, 130, 50)
        img = cv2.GaussianBlur(img, (5, 5), 0)
    with pytest.raises(NoFaceError) as err:
        analyzer.analyze(img, REF, 256)
    assert "front-facing" in str(err.value) and "well-lit" in str(err.value)


def test_small_face_is_too_small_not_missing(portrait):
    canvas = np.full((1024, 1024, 3), 128, np.uint8)
    canvas[400:620, 300:520] = cv2.resize(portrait, (220, 220), interpolation=cv2.INTER_AREA)
    with FaceAnalyzer(FaceSettings(framing="crop", min_face_px=64)) as a, \
            pytest.raises(FaceTooSmallError) as err:
        a.analyze(canvas, REF, 256)
    msg = str(err.value)
    assert "64 pixels" in msg and "closer" in msg
    measured = int(msg.split("only about ")[1].split(" pixels")[0])
    assert 30 <= measured <= 50  # the face is ~40 px wide


def test_a_forty_pixel_face_is_animated_with_a_note_that_it_will_look_soft(analyzer, portrait):
    canvas = np.full((1024, 1024, 3), 128, np.uint8)
    canvas[400:620, 300:520] = cv2.resize(portrait, (220, 220), interpolation=cv2.INTER_AREA)
    result = analyzer.analyze(canvas, REF, 256)
    assert result.geometry.iod > 40  # framed closer: the face fills the output frame
    assert any("The face is small in the photo" in w and "soft" in w for w in result.warnings)


def test_min_face_px_is_measured_in_original_pixels(portrait):
    with FaceAnalyzer(FaceSettings(min_face_px=120)) as a, pytest.raises(FaceTooSmallError):
        a.analyze(portrait, REF, 512)  # ~92 px face, even though the frame upscales it


def test_huge_image_works_and_maps_back(analyzer, portrait, analysis):
    big = cv2.resize(portrait, (4000, 4000), interpolation=cv2.INTER_CUBIC)
    t0 = time.perf_counter()
    result = analyzer.analyze(big, REF, 512)
    elapsed = time.perf_counter() - t0
    assert result.original_size == (4000, 4000)
    lm_big = _original(result) * (512 / 4000)
    diff = np.linalg.norm(lm_big[:, :2] - _original(analysis)[:, :2], axis=1)
    assert diff.mean() < 1.5 and np.percentile(diff, 95) < 3.0
    assert elapsed < 5.0


def test_turned_away_limits(portrait):
    with FaceAnalyzer(FaceSettings(warn_yaw_deg=0.0)) as a:
        result = a.analyze(portrait, REF, 256)
        assert any("turned about" in w for w in result.warnings)
    with FaceAnalyzer(FaceSettings(max_yaw_deg=0.0)) as a, pytest.raises(FaceTurnedAwayError) as err:
        a.analyze(portrait, REF, 256)
    assert isinstance(err.value, ImageError) and "towards the camera" in str(err.value)


def test_bad_arguments(analyzer, portrait):
    with pytest.raises(ImageError):
        analyzer.analyze(portrait[..., 0:2], REF, 256)
    with pytest.raises(ImageError):
        analyzer.analyze(portrait, REF, 16)
    with FaceAnalyzer(FaceSettings(framing="zoom")) as a, pytest.raises(ImageError, match="framing"):
        a.analyze(portrait, REF, 256)


# ------------------------------------------------------------------------------- pose, description
def _rotate_yaw(landmarks: np.ndarray, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    centre = landmarks.mean(axis=0)
    p = landmarks - centre
    # Turn the face towards the image's right: the nose (z < 0) moves to +x.
    rot = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    return p @ rot.T + centre


def test_head_pose_follows_a_known_rotation(analysis):
    yaw0, pitch0, roll0 = head_pose(analysis.landmarks)
    assert abs(yaw0) < 12 and abs(roll0) < 10
    for turn in (-40.0, 25.0, 60.0):
        yaw, pitch, roll = head_pose(_rotate_yaw(analysis.landmarks, turn))
        assert abs((yaw - yaw0) - turn) < 2.0, (turn, yaw)
    rolled = analysis.landmarks.copy()
    a = math.radians(15)
    c = rolled[:, :2].mean(axis=0)
    rolled[:, :2] = (rolled[:, :2] - c) @ np.array([[math.cos(a), math.sin(a)],
                                                     [-math.sin(a), math.cos(a)]]) + c
    assert abs(head_pose(rolled)[2] - roll0 - 15) < 1.0  # clockwise on screen


def test_describe_face(analysis):
    info = describe_face(analysis)
    json.dumps(info)
    assert info["framing"] == "crop" and info["num_faces"] == 1
    assert info["smile"] > 0.5 and info["expression"].startswith("smiling")  # she beams
    assert info["eyes_open"] is True
    assert abs(info["yaw"]) < 12
    assert 0.3 < info["face_fraction"] < 0.55
    assert "camera" in info["summary"]


def test_analysis_round_trips_through_json(analysis):
    again = from_jsonable(FaceAnalysis, json.loads(dumps(analysis)))
    assert np.array_equal(again.landmarks, analysis.landmarks)
    assert again.framing == analysis.framing and again.box == analysis.box


def test_models_are_cached_and_closed(portrait):
    a = FaceAnalyzer(FaceSettings(framing="crop"))
    a.analyze(portrait, REF, 256)
    mesh = a._mesh
    t0 = time.perf_counter()
    a.analyze(portrait, REF, 256)
    warm = time.perf_counter() - t0
    assert a._mesh is mesh and warm < 1.0
    a.close()
    assert a._mesh is None and a._detector is None
    assert a.analyze(portrait, REF, 256).num_faces == 1  # re-created on demand
    a.close()


def test_compute_framing_near_edge_shifts_and_notes():
    # A face box hugging the top-left corner of a 1000x800 photo.
    pts = np.array([[10.0, 5.0, 0.0], [110.0, 125.0, 0.0]])
    fr, notes = compute_framing(pts, (1000, 800), 512, FaceSettings(framing="crop"))
    x0, y0, x1, y1 = fr.crop
    assert (x0, y0) == (0.0, 0.0) and round(x1 - x0) == round(100 / FaceSettings().face_fraction)
    assert any("edge" in n for n in notes)


def test_glasses_are_detected_and_keep_the_brows_calm(closed_mouth_portrait_path, portrait_path):
    """Grace Hopper wears glasses, the astronaut does not. With glasses the rig moves the brows
    less, so the frames in front of them do not bend."""
    from conftest import weights
    from pipelines.face import frame_image, load_portrait
    from pipelines.render.cpu import CpuRenderer
    from pipelines.render.rig import GLASSES_BROW_GAIN
    from pipelines.settings import RenderSettings

    with FaceAnalyzer(FaceSettings()) as fa:
        hopper_img, hopper_ref = load_portrait(closed_mouth_portrait_path)
        hopper = fa.analyze(hopper_img, hopper_ref, 256)
        astro_img, astro_ref = load_portrait(portrait_path)
        astro = fa.analyze(astro_img, astro_ref, 256)
    assert hopper.glasses and not astro.glasses
    assert "wearing glasses" in describe_face(hopper)["summary"]
    assert any("Glasses detected" in w for w in hopper.warnings)
    # The same brow raise moves the brow vertices far less on the bespectacled portrait.
    renderer = CpuRenderer(RenderSettings(size=256))
    framed = frame_image(hopper_img, hopper.framing)
    with_glasses = renderer.prepare(framed, hopper).rig
    without = renderer.prepare(framed, FaceAnalysis(**{**hopper.__dict__, "glasses": False})).rig
    brow = [105, 334]
    raise_ = weights(with_glasses.rest_expression, browInnerUp=1.0, browOuterUpLeft=1.0,
                     browOuterUpRight=1.0)
    d_glasses = np.abs(with_glasses.vertex_displacement(raise_)[brow]).max()
    d_plain = np.abs(without.vertex_displacement(raise_)[brow]).max()
    assert d_glasses == pytest.approx(GLASSES_BROW_GAIN * d_plain, rel=0.05)
    # A user can say otherwise.
    with FaceAnalyzer(FaceSettings(glasses="no")) as fa:
        assert not fa.analyze(hopper_img, hopper_ref, 256).glasses
    # A preset's bare `yes` arrives from YAML as a boolean and still means yes.
    with FaceAnalyzer(FaceSettings(glasses=True)) as fa:
        assert fa.analyze(astro_img, astro_ref, 256).glasses
