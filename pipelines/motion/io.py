"""MotionTrack → CSV (one row per frame: frame, time, head pose, 52 ARKit blendshapes)."""
from __future__ import annotations

import csv
from pathlib import Path

from ..files import atomic_output
from ..types import HEAD_POSE_COLUMNS, MotionTrack


def motion_to_csv(track: MotionTrack, path: str | Path) -> Path:
    header = ["frame", "time", *HEAD_POSE_COLUMNS, *track.blendshape_names]
    with atomic_output(path, ".csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for i in range(track.num_frames):
            writer.writerow([i, f"{i / track.fps:.6f}",
                             *(f"{v:.4f}" for v in track.head_pose[i]),
                             *(f"{v:.4f}" for v in track.blendshapes[i])])
    return Path(path)
