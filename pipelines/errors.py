"""User-facing failures. Each carries a message a person can act on; the CLI prints it on one
line and exits non-zero, the studio shows it as a gr.Error. Never let a raw traceback reach a user.
"""
from __future__ import annotations


class StudioError(Exception):
    """Base class: `str(err)` is the full, actionable message."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}" if hint else message)


class InputError(StudioError):
    """Something about the user's files or arguments."""


class ImageError(InputError):
    pass


class NoFaceError(ImageError):
    pass


class FaceTooSmallError(ImageError):
    pass


class NotHumanFaceError(NoFaceError):
    """Something face-like that is not a human face the face mesh can fit: an animal, a statue,
    a stylised drawing, or a face mostly covered or turned away."""


class FaceTurnedAwayError(ImageError):
    """The face is turned too far from the camera for the 2-D rig to animate."""


class AudioError(InputError):
    pass


class UnsupportedFormatError(InputError):
    pass


class SilentAudioError(AudioError):
    pass


class AudioTooLongError(AudioError):
    pass


class ProjectError(InputError):
    pass


class MissingWeightsError(StudioError):
    pass


class DiffusionUnavailableError(StudioError):
    """The diffusion renderer cannot run here (no CUDA, too little memory, old diffusers)."""


class LLMUnavailableError(StudioError):
    pass


class RenderInterrupted(StudioError):
    exit_code = 130

    def __init__(self, message: str = "Render cancelled; no output was written."):
        super().__init__(message)
