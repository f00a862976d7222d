"""The rig's facial actions: one row per ARKit blendshape channel, the FACS action unit it
implements, which part of the face it moves, in which direction and how far.

Sizes are in the face's own units, so one table fits every face:
- `iod`: inter-ocular distances (outer eye corner to outer eye corner);
- `eye`: the eye's own lid gap (upper to lower lid at rest), for lid actions, so a narrow eye
  is never opened or shut by more than it has;
- `mouth`: for the lips narrowing (du only), the share of each lip point's distance to the
  mouth's centre it moves inwards (dv stays in IOD);
- `lip`: for lip presses and sucks (dv only), a share of the lip's own thickness at each point.

`move` is (du, dv): du outward from the face's midline for sided actions (towards the nose when
negative), towards the image's right for midline ones; dv down the face. `reach` is how far the
movement spreads onto the skin around the moved points (a Gaussian, IOD), and `holds` which
points stay still and hold their neighbours back (see `FaceRig`).

The sizes were checked against a real face going from crying to laughing (MediaPipe landmarks
on every fourth frame, in IOD units): a laugh widens the mouth by about 0.18 (0.09 per corner)
and lifts the corners about 0.1; a laughing jaw parts the lips 0.17-0.23; open lids are about
0.07 apart and narrow to 0.05 in a laugh (the cheeks push up the lower lids). A full action
here is about that size or a little less, so that intensity 1.0 stays a face's own range.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FacialAction:
    channel: str  # ARKit blendshape; "{s}" is replaced by Left and Right for sided actions
    au: str  # the FACS action unit(s)
    region: str  # which points move (see FaceRig._action_basis for each region's handles)
    move: tuple[float, float]  # (du, dv) at weight 1, in `unit`
    reach: float = 0.1  # spread onto the skin around the moved points, IOD
    holds: str = "lips"  # which points stay still (see FaceRig._holds)
    unit: str = "iod"
    inner: float = 1.0  # lip actions: how far the inner lip contour moves, relative to the outer
    # Lip-corner actions: the lip line follows the corner's dv by t ** bend, t the share of the
    # half-mouth from the middle. A corner pulled up (AU12, towards the cheekbone) lifts the lips
    # beside it and leaves the middle level, a U; one pulled down (AU15) bends the whole line
    # into an arch.
    bend: float = 1.5

    @property
    def sided(self) -> bool:
        return "{s}" in self.channel


ACTIONS: tuple[FacialAction, ...] = (
    # Brows. Lids, eye corners and irises hold: a brow moves its skin, never the eye (an iris
    # dragged with the brow reads as eyes rolled up or down). The reference never raises its
    # brows fully; a full AU1 + AU2 lifts them about 1 cm, 0.1 of the outer-corner distance.
    # Smaller, a raised brow reads as a face with high brows, not as surprise.
    FacialAction("browInnerUp", "AU1 inner brow raiser", "brow_inner", (0.0, -0.10), 0.16, "eyes"),
    FacialAction("browOuterUp{s}", "AU2 outer brow raiser", "brow_outer", (0.0, -0.10), 0.16, "eyes"),
    FacialAction("browDown{s}", "AU4 brow lowerer", "brow", (-0.04, 0.08), 0.13, "eyes"),
    # Lids, in eye units. AU5 shows sclera above the iris (the lid gap opens by nearly half); AU7
    # raises the lower lid.
    FacialAction("eyeWide{s}", "AU5 upper lid raiser", "upper_lid", (0.0, -0.45), 0.04, "iris",
                 unit="eye"),
    FacialAction("eyeSquint{s}", "AU7 lid tightener", "lower_lid", (0.0, -0.28), 0.04, "iris",
                 unit="eye"),
    FacialAction("eyeBlink{s}", "AU45 blink", "blink", (0.0, 0.85), 0.04, "eye_corners",
                 unit="eye"),
    # Gaze: the iris slides inside still lids; du in eye widths, dv in lid gaps.
    FacialAction("eyeLookOut{s}", "AU62/AU61 eyes turn out", "iris", (0.2, 0.0), 0.02, "lids", unit="eye"),
    FacialAction("eyeLookIn{s}", "AU61/AU62 eyes turn in", "iris", (-0.2, 0.0), 0.02, "lids", unit="eye"),
    FacialAction("eyeLookUp{s}", "AU63 eyes up", "iris", (0.0, -0.35), 0.02, "lids", unit="eye"),
    FacialAction("eyeLookDown{s}", "AU64 eyes down", "iris", (0.0, 0.30), 0.02, "lids", unit="eye"),
    # Cheeks and nose.
    FacialAction("cheekSquint{s}", "AU6 cheek raiser", "cheek", (0.0, -0.05), 0.26, "eyes"),
    FacialAction("noseSneer{s}", "AU9 nose wrinkler", "nose_wing", (0.0, -0.05), 0.12, "eyes"),
    FacialAction("cheekPuff", "AU34 puff", "cheek_side", (0.04, 0.0), 0.0, "none"),
    # Mouth corners.
    FacialAction("mouthSmile{s}", "AU12 lip corner puller", "lip_line_to_corner", (0.08, -0.09), 0.2, "none",
                 bend=2.5),
    FacialAction("mouthFrown{s}", "AU15 lip corner depressor", "lip_line_to_corner", (-0.015, 0.065),
                 0.16, "none"),
    FacialAction("mouthStretch{s}", "AU20 lip stretcher", "lip_line_to_corner", (0.06, 0.03), 0.16, "none"),
    FacialAction("mouthDimple{s}", "AU14 dimpler", "lip_line_to_corner", (0.035, -0.005), 0.16, "none"),
    FacialAction("mouthPress{s}", "AU24 lip presser", "both_lips", (0.0, 0.3), 0.09, "none",
                 unit="lip", inner=0.3),
    # Lips.
    FacialAction("mouthUpperUp{s}", "AU10 upper lip raiser", "upper_lip", (0.0, -0.07), 0.09),
    FacialAction("mouthLowerDown{s}", "AU16 lower lip depressor", "lower_lip", (0.0, 0.07), 0.09),
    FacialAction("mouthShrugLower", "AU17 chin raiser", "lower_lip", (0.0, -0.035), 0.09),
    FacialAction("mouthShrugUpper", "AU17 (upper lip pushed up)", "upper_lip", (0.0, -0.025), 0.09),
    FacialAction("mouthRollLower", "AU28 lower lip suck", "lower_lip", (0.0, -0.55), 0.09,
                 unit="lip", inner=0.5),
    FacialAction("mouthRollUpper", "AU28 upper lip suck", "upper_lip", (0.0, 0.45), 0.09,
                 unit="lip", inner=0.4),
    FacialAction("mouthPucker", "AU18 lip pucker", "mouth_narrow", (0.4, 0.012), 0.22, "none",
                 unit="mouth"),
    FacialAction("mouthFunnel", "AU22 lip funneler", "mouth_narrow", (0.25, 0.025), 0.22, "none",
                 unit="mouth"),
    FacialAction("mouthLeft", "AU14/AU20 mouth sideways", "mouth_shift", (0.06, 0.0), 0.0, "none"),
    FacialAction("mouthRight", "AU14/AU20 mouth sideways", "mouth_shift", (-0.06, 0.0), 0.0, "none"),
    # Jaw. The lower lip and chin drop; the corners drop CORNER_DROP of that (see FaceRig).
    FacialAction("jawOpen", "AU26/AU27 jaw drop", "jaw", (0.0, 0.30), 0.0, "none"),
    FacialAction("jawLeft", "AU30 jaw sideways", "jaw", (0.07, 0.0), 0.0, "none"),
    FacialAction("jawRight", "AU30 jaw sideways", "jaw", (-0.07, 0.0), 0.0, "none"),
)


def actions_by_channel() -> dict[str, FacialAction]:
    """Every table row per blendshape name (sided rows once per side)."""
    out = {}
    for action in ACTIONS:
        for side in (("Left", "Right") if action.sided else ("",)):
            out[action.channel.format(s=side)] = action
    return out
