"""CPU renderer: the rig moves what it should and nothing else."""
import numpy as np
import pytest

from conftest import weights
from pipelines.face import mesh as L

STILL = np.zeros(6, np.float32)


def _box(face, ids, pad):
    p = face.landmarks[list(ids), :2]
    x0, y0 = np.floor(p.min(0) - pad).astype(int)
    x1, y1 = np.ceil(p.max(0) + pad).astype(int)
    return slice(max(y0, 0), y1), slice(max(x0, 0), x1)


def _cavity_pixels(img, region) -> int:
    """Pixels that look like the inside of a mouth: dark and red (not skin, teeth, or lips,
    even along the darker line where closed lips meet)."""
    px = img[region].astype(float)
    return int(((px.mean(axis=2) < 90) & (px[..., 0] - px[..., 1] > 15)).sum())


def _interior_pixels(img, region) -> int:
    """Cavity or teeth: what shows only when the lips part."""
    px = img[region].astype(float)
    teeth = (px.min(axis=2) > 170) & (np.ptp(px, axis=2) < 40)
    return _cavity_pixels(img, region) + int(teeth.sum())


def _teeth_pixels(img, region) -> int:
    """Light, and far less red than the warm skin and lips of the closed-mouth portrait (teeth
    take the photo's own light and colour cast, so they are not simply white)."""
    px = img[region].astype(float)
    return int(((px.mean(axis=2) > 100) & (px[..., 0] - px[..., 2] < 60)
                & (px[..., 0] - px[..., 2] < 0.35 * px.mean(axis=2))).sum())


def _diff(a, b, region=None):
    if region is not None:
        a, b = a[region], b[region]
    return np.abs(a.astype(float) - b.astype(float)).mean()


def test_jaw_open_changes_the_mouth_and_shows_a_dark_interior(prepared):
    renderer, prep, face = prepared
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    open_ = renderer.render_frame(prep, weights(prep.rig.rest_expression, jawOpen=0.6), STILL)
    mouth = _box(face, L.INNER_LIP_RING, pad=4)
    eyes = _box(face, L.EYE["Left"]["upper"] + L.EYE["Right"]["upper"], pad=2)
    assert _diff(rest, open_, mouth) > 15
    assert _diff(rest, open_, eyes) < 1.0
    # The opening shows a mouth cavity (and teeth), which closed lips never do.
    assert _cavity_pixels(open_, mouth) > 30
    # Closed, the photo's own opening is only the shadowed line where the lips meet.
    assert _cavity_pixels(rest, mouth) < 0.4 * _cavity_pixels(open_, mouth)


def test_lips_close_at_rest_even_on_a_smiling_photo_with_teeth(prepared, framed_face):
    renderer, prep, face = prepared
    framed, _ = framed_face
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    # The photo shows teeth (bright) between the lips; the rest frame must not.
    gap = _box(face, L.LIP_INNER_UPPER + L.LIP_INNER_LOWER, pad=0)
    def teeth_like(img):  # bright and unsaturated, unlike skin and lips
        px = img[gap].astype(float)
        return ((px.min(axis=2) > 170) & (np.ptp(px, axis=2) < 40)).mean()

    assert teeth_like(framed) > 0.05
    assert teeth_like(rest) < 0.2 * teeth_like(framed)


def test_bilabial_closure_closes_an_open_jaw(prepared):
    renderer, prep, face = prepared
    mouth = _box(face, L.INNER_LIP_RING, pad=4)
    apart = renderer.render_frame(prep, weights(prep.rig.rest_expression, jawOpen=0.5), STILL)
    closed = renderer.render_frame(prep, weights(prep.rig.rest_expression, jawOpen=0.5, mouthClose=1.0), STILL)
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    assert _interior_pixels(apart, mouth) > 40
    # Closed lips show little more than at rest (the seam darkens the corners a little more),
    # where this smiling photo's own opening is closed by its lips.
    assert _interior_pixels(closed, mouth) <= _interior_pixels(rest, mouth) + 0.25 * _interior_pixels(apart, mouth)


def test_blink_closes_the_eyes_only(prepared):
    renderer, prep, face = prepared
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    blink = renderer.render_frame(prep, weights(prep.rig.rest_expression, eyeBlinkLeft=1, eyeBlinkRight=1), STILL)
    for side in ("Left", "Right"):
        eye = _box(face, L.EYE[side]["upper"] + L.EYE[side]["lower"], pad=1)
        assert _diff(rest, blink, eye) > 8
    assert _diff(rest, blink, _box(face, L.INNER_LIP_RING, pad=2)) < 1.0


def test_head_turn_moves_the_head_but_not_the_background(prepared):
    renderer, prep, face = prepared
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    turned = renderer.render_frame(prep, weights(prep.rig.rest_expression), np.array([8, 4, 3, 0, 0, 0], np.float32))
    face_box = _box(face, range(468), pad=0)
    assert _diff(rest, turned, face_box) > 5
    # Image corners are background in the sample portrait: not a pixel may move.
    h, w = rest.shape[:2]
    for region in ((slice(0, 20), slice(0, 20)), (slice(0, 20), slice(w - 20, w))):
        assert np.array_equal(rest[region], turned[region])


def test_rendering_is_deterministic(prepared):
    renderer, prep, _ = prepared
    w, pose = weights(prep.rig.rest_expression, jawOpen=0.3, mouthSmileLeft=0.5), np.array([3, -2, 1, 0.02, 0, 0], np.float32)
    assert np.array_equal(renderer.render_frame(prep, w, pose), renderer.render_frame(prep, w, pose))


@pytest.mark.parametrize("shape", ["mouthSmileLeft", "mouthFrownRight", "browInnerUp",
                                   "browDownLeft", "eyeWideRight", "mouthPucker", "noseSneerLeft"])
def test_expression_channels_change_the_face(prepared, shape):
    renderer, prep, face = prepared
    without = renderer.render_frame(prep, weights(prep.rig.rest_expression, **{shape: 0.0}), STILL)
    full = renderer.render_frame(prep, weights(prep.rig.rest_expression, **{shape: 1.0}), STILL)
    assert _diff(without, full, _box(face, range(468), pad=0)) > 0.3


def test_a_smiling_photo_can_lose_its_smile(prepared):
    """Weights below the photo's own expression take it away (how a "sad" override on a
    smiling portrait removes the smile)."""
    renderer, prep, face = prepared
    rest = prep.rig.rest_expression
    assert rest[[23, 24]].min() > 0.5  # the sample portrait smiles broadly
    as_photo = prep.rig.frame(weights(rest), STILL).points
    no_smile = prep.rig.frame(weights(rest, mouthSmileLeft=0, mouthSmileRight=0,
                                      cheekSquintLeft=0, cheekSquintRight=0), STILL).points
    sad = prep.rig.frame(weights(rest, mouthSmileLeft=0, mouthSmileRight=0, mouthFrownLeft=0.8,
                                 mouthFrownRight=0.8, browInnerUp=0.8), STILL).points
    down = lambda pts: (pts[[61, 291], 1] - pts[13, 1]).mean()  # corners below the lip centre
    assert down(no_smile) > down(as_photo) + 0.01 * prep.rig.iod
    assert down(sad) > down(no_smile)
    # At the photo's own weights only the rest pose (lips closed) moves the face.
    assert np.allclose(as_photo, face.landmarks[:, :2] + prep.rig.vertex_displacement(rest), atol=1e-3)
    assert np.abs(as_photo - face.landmarks[:, :2])[list(range(33, 34)) + [1, 152]].max() < 0.5


def test_a_frown_bends_the_mouth_without_pinching_the_opening(prepared):
    """Corners pulled down (AU15) bend the whole lip line: the lips neither cross nor part at
    the corners, and a talking mouth opens as wide in the middle as without the frown."""
    _, prep, _ = prepared
    rig, rest = prep.rig, prep.rig.rest_expression
    up, lo = list(L.INNER_UPPER_LINE), list(L.INNER_LOWER_LINE)

    def lips(**kw):
        pts = rig.frame(weights(rest, mouthSmileLeft=0, mouthSmileRight=0, **kw), STILL).points
        height = lambda ids: (pts[ids] - rig.mouth_center) @ rig.ey / rig.iod
        return height(lo) - height(up), height(up), height([61, 291]) - height([13])

    open_gap, _, open_corners = lips(jawOpen=0.3)
    frown_gap, upper, frown_corners = lips(jawOpen=0.3, mouthFrownLeft=1.0, mouthFrownRight=1.0)
    # Both corners down by most of the table's AU15 size (0.065 IOD, about what the reference
    # face's corners drop in crying).
    assert (frown_corners - open_corners).min() > 0.035
    assert frown_gap.min() > -1e-3  # no crossing anywhere along the mouth
    mid = len(up) // 2
    assert frown_gap[mid] > 0.9 * open_gap[mid]
    # Along the lip line the gap stays a lens: no point opens wider than the middle.
    assert frown_gap.max() <= frown_gap[mid] + 1e-3
    # The upper lip bends down steadily from its middle to each corner, without the middle
    # left standing as a bump (an "M" that drew a staple-shaped opening).
    assert np.all(np.diff(upper[mid:]) > -1e-3) and np.all(np.diff(upper[: mid + 1]) < 1e-3)
    assert upper[mid - 1] + upper[mid + 1] - 2 * upper[mid] < 0.07


# ----------------------------------------------------------- a closed-mouth portrait

def test_a_closed_mouth_photo_keeps_its_own_lip_line(closed_mouth_prepared):
    renderer, prep, face, framed = closed_mouth_prepared
    lips = _box(face, L.INNER_LIP_RING, pad=6)
    # Nothing to paint over: the plate is the photo, and at rest the lips look as photographed.
    assert np.array_equal(prep.plate, framed)
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    assert _diff(rest, framed, lips) < 2.0
    # The photographed lip line (darker than the lips around it) is still there.
    line = rest[lips].astype(float).mean(axis=(1, 2))
    assert line.min() < line.max() - 25


def test_an_open_mouth_is_a_lens_whose_corners_stay_outside(closed_mouth_prepared):
    renderer, prep, face, _ = closed_mouth_prepared
    rig = prep.rig
    f = rig.frame(weights(rig.rest_expression, jawOpen=0.6, mouthFunnel=0.6, mouthPucker=0.4), STILL)
    x = f.points @ rig.ex
    inner = list(L.LIP_INNER_UPPER + L.LIP_INNER_LOWER)
    # No inner-lip point passes a mouth corner (that draws a bow-tie opening).
    assert (x[inner] > x[78]).all() and (x[inner] < x[308]).all()
    # The lower lip drops most in the middle.
    drop = (f.points - face.landmarks[:, :2]) @ rig.ey
    assert drop[14] > 1.2 * drop[95] and drop[14] > 1.2 * drop[324]


def test_the_lower_lip_moves_as_one_piece(closed_mouth_prepared):
    """The mesh rows inside the lower lip follow its contours; lagging behind, they folded the
    lip into a second, ghost mouth below the opening."""
    _, prep, _, _ = closed_mouth_prepared
    rig = prep.rig
    d = rig.vertex_displacement(weights(rig.rest_expression, jawOpen=0.6)) @ rig.ey
    for mid in (15, 16, 85, 315):
        assert d[mid] > 0.85 * min(d[14], d[17])


def test_a_raised_upper_lip_uncovers_the_teeth(closed_mouth_prepared):
    renderer, prep, face, _ = closed_mouth_prepared
    mouth = _box(face, L.INNER_LIP_RING, pad=3)
    rest = renderer.render_frame(prep, weights(prep.rig.rest_expression), STILL)
    smile = renderer.render_frame(prep, weights(
        prep.rig.rest_expression, mouthSmileLeft=1.0, mouthSmileRight=1.0, mouthUpperUpLeft=0.8,
        mouthUpperUpRight=0.8, mouthLowerDownLeft=0.4, mouthLowerDownRight=0.4), STILL)
    assert _teeth_pixels(rest, mouth) == 0
    assert _teeth_pixels(smile, mouth) > 15


def test_the_drawn_lip_seam_is_a_smooth_curve_that_fades_at_the_corners():
    from pipelines.render.mouth import MouthInterior

    img = np.full((120, 200, 3), 180, np.uint8)
    lm = np.zeros((478, 3))
    lm[:, :2] = [100, 60]
    from pipelines.face.geometry import FaceGeometry
    from pipelines.render.mouth import MouthLook

    lm[:, 0] += np.linspace(-50, 50, 478)  # a face 100 px between the outer eye corners
    geometry = FaceGeometry.of(lm)
    mouth = MouthInterior(MouthLook.of_photo(img, geometry), geometry)
    # A closed mouth whose lip midpoints zig-zag by a pixel, as landmarks do.
    xs = np.linspace(60, 140, 11)
    ys = 60 + 8 * ((xs - 100) / 40) ** 2 + np.where(np.arange(11) % 2, 1.0, -1.0)
    lips = np.stack([xs, ys], 1)
    out = mouth._seam(img.copy(), lips, lips).astype(float)
    dark = 180 - out.mean(axis=2)
    columns = np.arange(64, 137)
    rows = np.array([np.argmax(dark[:, x]) for x in columns])
    assert dark[:, 100].max() > 15  # the lips visibly meet in the middle
    assert dark[:, 61].max() < 0.25 * dark[:, 100].max()  # and the line fades at the corners
    assert np.abs(np.diff(rows)).max() <= 1  # no zig-zag, no kinks


def test_the_teeth_hang_from_the_neutral_lip_line_not_the_photos_smile(prepared,
                                                                         closed_mouth_prepared):
    """The smiling photo's upper lip curves up at the corners; the teeth do not. Once a sad
    face takes the smile away, teeth hung from the photo's lip line would still grin."""
    _, prep, face = prepared
    line = prep.rig.frame(weights(), STILL).teeth_line
    photo = face.landmarks[list(L.INNER_UPPER_LINE), :2]
    arc = lambda pts: pts[len(pts) // 2, 1] - pts[[0, -1], 1].mean()  # > 0: corners higher
    assert arc(photo) > 0.03 * prep.rig.iod  # the sample portrait's broad smile
    assert arc(line) < 0.5 * arc(photo)
    # A portrait without a smile keeps its own lip line for the teeth.
    _, prep2, face2, _ = closed_mouth_prepared
    line2 = prep2.rig.frame(weights(), STILL).teeth_line
    photo2 = face2.landmarks[list(L.INNER_UPPER_LINE), :2]
    assert np.abs(line2 - photo2).max() < 0.03 * prep2.rig.iod


def test_on_a_smiling_photo_the_lower_lip_drops_right_to_the_corners(prepared):
    """The photo's smile lifts the lip corners above the mouth centre; the jaw must still carry
    the whole lower lip, or an open mouth keeps the smile's crescent when the smile is gone."""
    _, prep, face = prepared
    lower_near_corners, centre = [95, 324], 14
    assert (face.landmarks[lower_near_corners, 1] < face.landmarks[centre, 1]).all()
    closed = prep.rig.frame(weights(), STILL).points
    open_ = prep.rig.frame(weights(jawOpen=0.3), STILL).points
    drop = open_[:, 1] - closed[:, 1]
    assert drop[lower_near_corners].min() > 0.3 * drop[centre]
    assert np.abs(drop[[13, 0]]).max() < 0.2 * drop[centre]  # the upper lip hardly moves


def _teeth_extent(renderer, prep, w) -> float:
    """Width of the visible teeth as a fraction of the mouth opening's width."""
    f = prep.rig.frame(w, STILL)
    img = renderer.draw(prep, f, w)
    ring = f.points[list(L.INNER_LIP_RING)]
    x0, y0 = np.floor(ring.min(0)).astype(int) - 2
    x1, y1 = np.ceil(ring.max(0)).astype(int) + 3
    region = (slice(y0, y1), slice(x0, x1))
    teeth = np.zeros(img.shape[:2], bool)
    teeth[region] = True
    px = img[region].astype(float)
    light = (px.mean(axis=2) > 100) & (px[..., 0] - px[..., 2] < 0.35 * px.mean(axis=2))
    cols = np.nonzero(light.sum(axis=0) >= 2)[0]
    return (np.ptp(cols) + 1) / np.ptp(ring[:, 0]) if len(cols) else 0.0


def test_speech_shows_the_front_teeth_and_a_smile_shows_more(closed_mouth_prepared):
    """Teeth from corner to corner read as a grin on any talking face; a smile stretches the
    lips over more of them."""
    renderer, prep, _, _ = closed_mouth_prepared
    rest = prep.rig.rest_expression
    speech = _teeth_extent(renderer, prep, weights(rest, jawOpen=0.25))
    smile = _teeth_extent(renderer, prep, weights(rest, jawOpen=0.25, mouthSmileLeft=1.0,
                                                  mouthSmileRight=1.0, mouthUpperUpLeft=0.5,
                                                  mouthUpperUpRight=0.5))
    assert speech < 0.7
    assert smile > speech + 0.1


def test_surprise_raises_the_whole_brow_not_just_its_inner_end(prepared):
    """AU1 + AU2: an inner brow raised far above the outer one is the oblique brow of fear."""
    from pipelines.motion.expressions import EXPRESSIONS

    _, prep, face = prepared
    rest = prep.rig.rest_expression
    still = prep.rig.frame(weights(rest), STILL).points
    named = {k: v for k, v in EXPRESSIONS["surprised"].shapes.items() if not k.startswith("jaw")}
    surprised = prep.rig.frame(weights(rest, **named), STILL).points
    rise = still[:, 1] - surprised[:, 1]
    for eye in L.EYE.values():
        inner, outer = rise[list(eye["brow_inner"])].mean(), rise[list(eye["brow_outer"])].mean()
        assert inner > 0.03 * prep.rig.iod
        assert outer > 0.6 * inner


def test_an_open_mouth_narrows_to_its_corners(closed_mouth_prepared):
    """Near a corner the opening is a sliver, not the vertical side of a box: the corners pull
    the upper lip beside them down with the jaw."""
    _, prep, face, _ = closed_mouth_prepared
    rig = prep.rig
    f = rig.frame(weights(rig.rest_expression, jawOpen=0.5), STILL)
    y, u = f.points @ rig.ey, (face.landmarks[:, :2] - rig.mouth_center) @ rig.ex
    upper, lower = list(L.LIP_INNER_UPPER), list(L.LIP_INNER_LOWER)
    gap = lambda t: np.interp(t, *zip(*sorted(zip(u[lower], y[lower])))) - np.interp(
        t, *zip(*sorted(zip(u[upper], y[upper]))))
    outer_point = 0.8 * max(abs(u[78]), abs(u[308]))
    assert gap(0.0) > 0.08 * rig.iod
    assert max(gap(outer_point), gap(-outer_point)) < 0.65 * gap(0.0)  # an ellipse: 0.6


def test_rounded_lips_cover_more_of_the_teeth(closed_mouth_prepared, monkeypatch):
    """A tall round opening (surprise) shows the edges of the teeth, not a block of them."""
    from pipelines.render import mouth

    renderer, prep, face, _ = closed_mouth_prepared
    w = weights(prep.rig.rest_expression, jawOpen=0.7, mouthFunnel=1.0)
    f = prep.rig.frame(w, STILL)
    ring = f.points[list(L.INNER_LIP_RING)]
    assert np.ptp(ring[:, 1]) > 0.6 * np.ptp(ring[:, 0])  # well over half as tall as wide
    region = _box(face, L.INNER_LIP_RING, pad=8)
    rounded = _teeth_pixels(renderer.draw(prep, f, w), region)
    monkeypatch.setattr(mouth, "ROUND_COVER", 0.0)
    uncovered = _teeth_pixels(renderer.draw(prep, f, w), region)
    assert 0 < rounded < 0.75 * uncovered


def _crease_depth(img, points, iod) -> float:
    """How much darker the skin is along the given points than around them (luminance)."""
    import cv2

    lum = img.astype(np.float32).mean(axis=2)
    around = cv2.GaussianBlur(lum, (0, 0), 0.12 * iod)
    here = cv2.GaussianBlur(lum, (0, 0), 0.015 * iod)
    xs, ys = np.round(points).astype(int).T
    return float((around[ys, xs] - here[ys, xs]).mean())


def test_taking_the_smile_off_fades_its_creases_and_only_then(prepared, monkeypatch):
    """A smiling photo made sad: its nasolabial creases, dragged in with the mouth corners,
    bent into a hook around the cheek (a swollen cheek that still read as a smile). They fade
    with the smile taken off; while the smile stays the photo is drawn exactly as before."""
    from pipelines.render.folds import NASOLABIAL, SmileFolds

    renderer, prep, _ = prepared
    iod = prep.rig.iod
    assert len(prep.folds.folds) == 2  # the astronaut smiles on both sides
    sad = weights(prep.rig.rest_expression, mouthSmileLeft=0.0, mouthSmileRight=0.0,
                  cheekSquintLeft=0.0, cheekSquintRight=0.0)
    f = prep.rig.frame(sad, STILL)
    creases = f.points[[i for path in NASOLABIAL.values() for i in path[1:-1]]]
    faded = renderer.draw(prep, f, sad)
    rest = weights(prep.rig.rest_expression)
    smiling = renderer.draw(prep, prep.rig.frame(rest, STILL), rest)

    monkeypatch.setattr(SmileFolds, "apply", lambda self, plate, w: plate)
    kept = renderer.draw(prep, f, sad)
    assert np.array_equal(smiling, renderer.draw(prep, prep.rig.frame(rest, STILL), rest))
    assert _crease_depth(kept, creases, iod) > 2.0  # the photo's creases are there to fade
    assert _crease_depth(faded, creases, iod) < 0.5 * _crease_depth(kept, creases, iod)
    half = weights(prep.rig.rest_expression, mouthSmileLeft=0.5, mouthSmileRight=0.5)
    monkeypatch.undo()
    halfway = _crease_depth(renderer.draw(prep, f, half), creases, iod)
    assert _crease_depth(faded, creases, iod) < halfway < _crease_depth(kept, creases, iod)
    # Only the creases change: the mouth, eyes and the rest of the face are as they were.
    changed = np.abs(faded.astype(int) - kept.astype(int)).max(axis=2) > 2
    assert changed.mean() < 0.03


def test_a_slight_smile_keeps_its_lines(closed_mouth_prepared):
    """Hopper barely smiles (rest smile 0.25): the lines beside her mouth are her own, not a
    smile's, and stay when an emotion takes her smile off."""
    renderer, prep, face, _ = closed_mouth_prepared
    sad = weights(prep.rig.rest_expression, mouthSmileLeft=0.0, mouthSmileRight=0.0)
    from pipelines.types import BLENDSHAPE_INDEX

    assert 0.1 < prep.rig.rest_expression[BLENDSHAPE_INDEX["mouthSmileLeft"]] < 0.3
    assert prep.folds.apply(prep.plate, sad) is prep.plate


def _wide_surprised_mouth(rest):
    return weights(rest, jawOpen=0.94, mouthLowerDownLeft=1.0, mouthLowerDownRight=1.0,
                   mouthFunnel=0.5, mouthPucker=0.25, mouthSmileLeft=0.0, mouthSmileRight=0.0,
                   cheekSquintLeft=0.0, cheekSquintRight=0.0)


def test_the_skin_beside_a_smiling_photos_lower_lip_drops_with_it(prepared):
    """A smile raises the mouth corners: the skin just outside the lower lip's sides sits above
    the mouth centre's height, and measured from there it stayed put while the lip beside it
    dropped with the jaw, shearing the cheek into a zigzag."""
    _, prep, face = prepared
    rig = prep.rig
    drop = (rig.vertex_displacement(_wide_surprised_mouth(rig.rest_expression))
            - rig.vertex_displacement(rig.rest_expression)) @ rig.ey
    for skin, lip in ((273, 375), (43, 146)):  # beside and below each corner; the lip's side
        assert rig.v[skin] < 0.02  # above the mouth centre's height on this photo
        assert drop[skin] > 0.6 * drop[lip]


def test_the_cheek_beside_a_wide_open_mouth_stretches_smoothly(prepared, monkeypatch):
    """The expression field is smoothed on the skin (not on the lips or eyes): vertices that
    move very differently left the field bent along the mesh's triangle edges, and the cheek's
    shading followed it in a zigzag beside a wide-open mouth."""
    import cv2

    _, prep, _ = prepared
    rig = prep.rig
    d = rig.vertex_displacement(_wide_surprised_mouth(rig.rest_expression))
    beside = np.zeros(rig.grid_xy.shape[:2], bool)
    for corner in L.MOUTH_CORNERS_OUTER:
        beside |= np.linalg.norm(rig.grid_xy - rig.landmarks[corner, :2], axis=2) < 0.35 * rig.iod
    beside &= rig._skin_smoothing[..., 0] > 0.9  # the cheek, clear of the lips
    assert beside.sum() > 50

    def bend():
        f = rig.expression_field(d)
        curvature = sum(np.abs(cv2.Laplacian(f[..., k], cv2.CV_32F)) for k in (0, 1))
        return np.percentile(curvature[beside], 99)

    smoothed = bend()
    monkeypatch.setattr(rig, "_skin_smoothing", np.zeros_like(rig._skin_smoothing))
    assert smoothed < 0.6 * bend()


def test_a_head_turn_leaves_a_shoulder_beside_the_face_where_it_is(framed_face):
    """A sitter leaning in raises a shoulder beside the lower face. It belongs to the body: it
    holds still while the head turns, while the face and the hair above it move."""
    from pipelines.render.rig import FaceRig

    framed, face = framed_face
    h, w = framed.shape[:2]
    everything = np.ones((h, w), np.float32)  # as if the person filled the frame
    rig = FaceRig(face.geometry, (w, h), everything)
    g = face.geometry
    f = rig.frame(np.zeros_like(rig.rest_expression), np.array([8, 5, 4, 0, 0, 0], np.float32))

    def moved(u, v):
        x, y = np.round(g.position(np.array([u, v]))).astype(int)
        assert 0 <= x < w and 0 <= y < h
        return float(np.hypot(f.map_x[y, x] - x, f.map_y[y, x] - y))

    oval = list(L.FACE_OVAL)
    side = float(g.u[oval].max())
    assert moved(0.0, -0.5) > 2.0  # the nose
    assert moved(0.0, float(g.v[oval].min()) - 0.2) > 2.0  # hair above the forehead
    assert moved(side + 0.1, -0.7) > 1.0  # an ear
    assert moved(side + 0.8, 0.5) < 0.3  # a shoulder beside the jaw
