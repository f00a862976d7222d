"""Text stage: script normalisation, g2p and word/phone timing (pocketsphinx)."""
from .align import PocketsphinxAligner, transcribe

__all__ = ["PocketsphinxAligner", "transcribe"]
