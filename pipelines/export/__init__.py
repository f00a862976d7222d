"""Export: MP4 (H.264 + AAC) written atomically."""
from ..files import atomic_output
from .video import probe_durations, write_mp4

__all__ = ["atomic_output", "probe_durations", "write_mp4"]
