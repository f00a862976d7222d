"""Export: MP4 (H.264 + AAC) written atomically."""
from .video import atomic_output, probe_durations, write_mp4

__all__ = ["atomic_output", "probe_durations", "write_mp4"]
