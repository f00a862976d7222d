"""The MediaPipe face mesh (478 points with iris), named once: single landmarks and index groups.

Every module that reads landmarks takes its indices from here.

"Left"/"right" follow ARKit: the subject's own left, which is the image's right in an
unmirrored photo.
"""
from __future__ import annotations

LIP_OUTER_UPPER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LIP_OUTER_LOWER = (146, 91, 181, 84, 17, 314, 405, 321, 375)
LIP_INNER_UPPER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LIP_INNER_LOWER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_CORNERS_OUTER = (61, 291)  # subject's right, left
MOUTH_CORNERS_INNER = (78, 308)
# Each inner lip line with the inner corners, left to right in the image.
INNER_UPPER_LINE = (78,) + LIP_INNER_UPPER + (308,)
INNER_LOWER_LINE = (78,) + LIP_INNER_LOWER + (308,)
# Inner lip ring, in order around the opening (for the mouth-interior polygon).
INNER_LIP_RING = INNER_UPPER_LINE + tuple(reversed(LIP_INNER_LOWER))

EYE = {
    # subject's right eye (image left)
    "Right": dict(
        upper=(246, 161, 160, 159, 158, 157, 173),
        lower=(7, 163, 144, 145, 153, 154, 155),
        corners=(33, 133),
        upper2=(247, 30, 29, 27, 28, 56, 190),
        lower2=(130, 25, 110, 24, 23, 22, 26, 112, 243),
        upper3=(113, 225, 224, 223, 222, 221, 189),
        lower3=(226, 31, 228, 229, 230, 231, 232, 233, 244),
        brow=(70, 63, 105, 66, 107, 46, 53, 52, 65, 55),
        brow_inner=(107, 55, 66, 65),
        brow_outer=(70, 46, 63, 53),
        brow_top=(70, 63, 105, 66, 107),  # the brow's upper edge, outer end to inner
    ),
    # subject's left eye (image right)
    "Left": dict(
        upper=(466, 388, 387, 386, 385, 384, 398),
        lower=(249, 390, 373, 374, 380, 381, 382),
        corners=(263, 362),
        upper2=(467, 260, 259, 257, 258, 286, 414),
        lower2=(359, 255, 339, 254, 253, 252, 256, 341, 463),
        upper3=(342, 445, 444, 443, 442, 441, 413),
        lower3=(446, 261, 448, 449, 450, 451, 452, 453, 464),
        brow=(300, 293, 334, 296, 336, 276, 283, 282, 295, 285),
        brow_inner=(336, 285, 296, 295),
        brow_outer=(300, 276, 293, 283),
        brow_top=(300, 293, 334, 296, 336),
    ),
}
IRIS = (tuple(range(468, 473)), tuple(range(473, 478)))  # assigned to eyes by proximity
CHIN = 152
NOSE_TIP = 1
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
# The face oval's top edge across the forehead (the mesh stops short of the hairline).
FOREHEAD_TOP = (103, 67, 109, 10, 338, 297, 332)
# Features whose outlines the warp must keep sharp (lips, eyes with their lids).
SHARP_FEATURES = (
    MOUTH_CORNERS_OUTER + LIP_OUTER_UPPER + LIP_OUTER_LOWER,
    EYE["Left"]["upper2"] + EYE["Left"]["lower2"],
    EYE["Right"]["upper2"] + EYE["Right"]["lower2"],
)

# Single landmarks. "Right"/"left" are the subject's, so the subject's right eye is on the
# image's left.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER = 33, 133, 362, 263
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, LEFT_EYE_UPPER, LEFT_EYE_LOWER = 159, 145, 386, 374
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
UPPER_LIP_INNER, LOWER_LIP_INNER, UPPER_LIP_OUTER, LOWER_LIP_OUTER = 13, 14, 0, 17
FOREHEAD = 10
RIGHT_CHEEK, LEFT_CHEEK = 234, 454
NOSE_BRIDGE = 168
NOSE_BRIDGE_BELOW = 6  # the next point down the bridge
CHEEK_SKIN = (50, 280, 101, 330)  # plain cheek skin below the eyes, beside the nose
# Points that no expression moves, only the head: the eyes' corners, the nose bridge, the top of
# the forehead.
HEAD_ONLY = (RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER, NOSE_BRIDGE, FOREHEAD)

# Bare skin where a photograph is smooth at a fine scale: under each eye, across the forehead,
# the middle of each cheek, the nose bridge, between the brows and the chin (a beard, a fringe or
# glasses may cover some of them; pipelines/face/quality.py reads the lower quartile).
SKIN_POINTS = (118, 347, 108, 151, 337, 205, 425, 6, 9, 199)
