"""The Project: all inputs, every intermediate, all overrides, seed and settings, as JSON.

A Project is what the pipeline reads and fills in: stages whose value is already present are
not recomputed, so a saved project re-renders bit-for-bit, and an edited one (an override, a
new scene text) re-renders from the first stage the edit invalidates.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .errors import ProjectError
from .files import atomic_output, file_sha256
from .serialization import from_jsonable, to_jsonable
from .settings import PipelineSettings
from .types import (EmotionTrack, Segment, FaceAnalysis, MediaRef, MotionTrack, SceneDescription,
                    Transcript)

PROJECT_VERSION = 1

# Stages in pipeline order, and the Project field each one fills.
STAGE_FIELDS = ("face", "transcript", "emotion", "scene", "motion")




def media_ref(path: str | os.PathLike) -> MediaRef:
    p = Path(path).expanduser().resolve()
    return MediaRef(path=str(p), sha256=file_sha256(p))


@dataclass
class EmotionOverride:
    """A user's choice for one segment (index) or all (-1). None fields keep the detected value."""

    segment: int = -1
    label: Optional[str] = None
    intensity: Optional[float] = None
    valence: Optional[float] = None
    arousal: Optional[float] = None


@dataclass
class Project:
    portrait: MediaRef
    audio: MediaRef
    script: Optional[str] = None
    seed: int = 0
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    segments: Optional[list[Segment]] = None  # user-edited segmentation; None = automatic
    emotion_overrides: list[EmotionOverride] = field(default_factory=list)
    scene_text: Optional[str] = None
    face: Optional[FaceAnalysis] = None
    transcript: Optional[Transcript] = None
    emotion: Optional[EmotionTrack] = None
    scene: Optional[SceneDescription] = None
    motion: Optional[MotionTrack] = None
    warnings: list[str] = field(default_factory=list)
    version: int = PROJECT_VERSION

    @classmethod
    def new(cls, portrait: str | os.PathLike, audio: str | os.PathLike, *,
            script: str | None = None, seed: int = 0,
            settings: PipelineSettings | None = None) -> "Project":
        from .errors import InputError

        for label, p in (("Portrait", portrait), ("Audio", audio)):
            if not Path(p).expanduser().is_file():
                raise InputError(f"{label} file not found: {p}", "Check the path and try again.")
        return cls(portrait=media_ref(portrait), audio=media_ref(audio),
                   script=(script or "").strip() or None, seed=seed,
                   settings=settings or PipelineSettings())

    def invalidate(self, stage: str) -> None:
        """Forgets `stage` and everything after it (call after editing what it depends on)."""
        for name in STAGE_FIELDS[STAGE_FIELDS.index(stage):]:
            setattr(self, name, None)

    def restyle(self, settings: PipelineSettings, seed: int) -> None:
        """New settings and seed; forgets the first stage they change and everything after it
        (a new size or framing redoes the face, a new seed or motion setting only the motion)."""
        old, seed = self.settings, int(seed)
        changes = (
            ("face", old.face != settings.face or old.render.size != settings.render.size),
            ("transcript", old.audio != settings.audio or old.transcript != settings.transcript),
            ("emotion", old.emotion != settings.emotion),
            ("scene", old.scene != settings.scene),
            ("motion", old.motion != settings.motion or old.render.fps != settings.render.fps
             or seed != self.seed))
        first = next((stage for stage, changed in changes if changed), None)
        if first is not None:
            self.invalidate(first)
        self.settings, self.seed = settings, seed

    def replace(self, **changes) -> "Project":
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ I/O
    def to_json(self) -> str:
        return json.dumps(to_jsonable(self), separators=(",", ":"))

    def save(self, path: str | os.PathLike) -> Path:
        with atomic_output(path, ".json") as tmp:
            tmp.write_text(self.to_json())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Project":
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ProjectError(f"Project file not found: {path}") from None
        except (OSError, ValueError) as e:
            raise ProjectError(f"Could not read project file {path}: {e}",
                               "Is it a project saved by SynchroRaMa Studio?") from None
        if not isinstance(data, dict) or data.get("version") != PROJECT_VERSION:
            raise ProjectError(f"{path} is not a SynchroRaMa project of version {PROJECT_VERSION}.")
        try:
            return from_jsonable(cls, data)
        except (TypeError, KeyError, ValueError) as e:
            raise ProjectError(f"Project file {path} is damaged: {e}") from None

    def check_media(self) -> None:
        """Refuses to render when an input file went missing or changed since the project was
        saved (the stored analysis would no longer match it)."""
        for label, ref in (("portrait", self.portrait), ("audio", self.audio)):
            if not Path(ref.path).is_file():
                raise ProjectError(f"The project's {label} file is missing: {ref.path}",
                                   "Put it back, or start a new project from the new file.")
            if file_sha256(ref.path) != ref.sha256:
                raise ProjectError(f"The project's {label} file changed since it was saved: "
                                   f"{ref.path}", "Start a new project from the new file.")
