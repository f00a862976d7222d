"""Face stage: load the portrait, find and frame the face, fit the 478-point MediaPipe mesh.

Public API:
    load_portrait(path) -> (rgb uint8 array, MediaRef)
    FaceAnalyzer(settings).analyze(image, portrait, out_size) -> FaceAnalysis
    frame_image(image, framing) -> framed RGB array (the renderer's background plate)
    compute_framing, map_to_frame, map_to_original: framing geometry
    describe_face(analysis) -> dict for the scene prompt; head_pose(landmarks) -> (yaw, pitch, roll)
"""
from ..errors import FaceTurnedAwayError
from .analyzer import (FACE_CENTER_Y, FaceAnalyzer, compute_framing, frame_image, map_to_frame,
                       map_to_original)
from .describe import (describe_face, eye_openness, head_pose, mouth_openness, rest_expression,
                       smile_amount)
from .io import SUPPORTED_FORMATS, load_portrait

__all__ = [
    "FACE_CENTER_Y", "FaceAnalyzer", "FaceTurnedAwayError", "SUPPORTED_FORMATS", "compute_framing",
    "describe_face", "rest_expression", "eye_openness", "frame_image", "head_pose", "load_portrait",
    "map_to_frame", "map_to_original", "mouth_openness", "smile_amount",
]
