"""MotionTrack → CSV (one row per frame: frame, time, head pose, 52 ARKit blendshapes)."""
from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from ..types import HEAD_POSE_COLUMNS, MotionTrack


def motion_to_csv(track: MotionTrack, path: str | Path) -> Path:
    """Writes atomically (temp file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["frame", "time", *HEAD_POSE_COLUMNS, *track.blendshape_names]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for i in range(track.num_frames):
                writer.writerow([i, f"{i / track.fps:.6f}",
                                 *(f"{v:.4f}" for v in track.head_pose[i]),
                                 *(f"{v:.4f}" for v in track.blendshapes[i])])
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
