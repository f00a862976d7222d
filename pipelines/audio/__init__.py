"""Audio stage: decoding user recordings and frame-level prosody."""
from .decode import SUPPORTED_FORMATS, load_speech
from .features import compute_prosody

__all__ = ["SUPPORTED_FORMATS", "compute_prosody", "load_speech"]
