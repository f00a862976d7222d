"""One settings dataclass per concern, loadable from a preset file in `presets/`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .serialization import from_jsonable, to_jsonable

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"


@dataclass
class AudioSettings:
    sample_rate: int = 16000
    max_duration_s: float = 600.0  # longer recordings are refused (split them first)
    min_duration_s: float = 0.3
    silence_dbfs: float = -55.0  # a recording whose loudest 100 ms stay below this is "silent"


@dataclass
class TranscriptSettings:
    # "auto": align the script when given, else recognise; "energy": skip phones entirely.
    mode: str = "auto"
    # Below this fraction of script words whose sound fits the alignment (acoustic score per
    # frame, see pipelines/text/matching.py), the script is taken as not matching the speech and
    # phone recognition is used instead.
    min_script_match: float = 0.5
    # Above this fraction of the recording spent in "pauses" that fit badly (speech the script
    # does not contain), the script is taken as not matching (or covering only part of) the speech.
    max_unexplained_speech: float = 0.2


@dataclass
class FaceSettings:
    framing: str = "full"  # "full" (the whole photo, as uploaded) | "crop" (face-centred square)
    working_max_side: int = 1024  # detection runs at most at this resolution
    min_face_px: int = 24  # faces narrower than this in the original image are refused
    face_fraction: float = 0.40  # face-box width over crop width, for "crop" framing
    warn_yaw_deg: float = 35.0  # a face turned further than this from the camera gets a warning
    max_yaw_deg: float = 50.0  # ... and further than this is refused (the 2-D rig cannot animate it)
    max_megapixels: float = 100.0  # larger images are refused (decompression-bomb guard)
    glasses: str = "auto"  # "auto" (detected) | "yes" | "no": glasses keep the brows calmer


@dataclass
class EmotionSettings:
    """Which backend computes each signal. "vader"/"prosody" are embedded (offline, CPU);
    "transformers" loads `*_model` (a local folder, or a model id already in the user's cache)."""

    text_backend: str = "vader"
    text_model: str = ""
    speech_backend: str = "prosody"
    speech_model: str = ""
    valence_arousal_backend: str = "prosody"
    valence_arousal_model: str = ""
    device: str = "cpu"  # of the transformers backends: "cpu", "cuda", "cuda:N" or "auto"
    min_pause_s: float = 0.45  # pauses at least this long start a new segment


@dataclass
class MotionSettings:
    head_motion: float = 1.0  # scales nods/turns driven by prosody
    idle_motion: float = 1.0  # breathing and slow drift
    blink_rate_per_min: float = 17.0
    articulation: float = 1.0  # viseme strength
    jaw_gain: float = 1.0  # loudness → jaw opening
    expression_strength: float = 1.0  # emotion overlay
    saccades: bool = True
    # Visible lips lead the acoustics: mouth shapes are taken this many seconds ahead of the
    # audio (0.05 s ≈ 1.25 frames at 25 fps).
    lip_lead_s: float = 0.02
    # Eyes counter-rotate against head turns to keep looking at the camera (0 = off, 1 = full).
    gaze_stabilisation: float = 0.5


@dataclass
class SceneSettings:
    """The scene description: written by an LLM when `llm_base_url` is set, else by the offline
    template. The API key is never a setting (it comes from OPENAI_API_KEY or the session)."""

    mode: str = "auto"  # "auto" (LLM if configured, else template) | "template" | "off"
    llm_base_url: str = ""  # e.g. http://127.0.0.1:8080/v1 (llama.cpp), https://api.openai.com/v1
    llm_model: str = "gpt-4o-mini"
    timeout_s: float = 30.0  # per request; a streamed answer gets (retries + 1) × this in total
    retries: int = 2  # on connection errors, 408/409/429/5xx, with exponential backoff
    stream: bool = True
    max_answer_chars: int = 8000
    temperature: float = 0.4


@dataclass
class RenderSettings:
    size: int = 512  # longer output side, pixels
    fps: float = 25.0
    renderer: str = "cpu"
    teeth: bool = True


@dataclass
class DiffusionSettings:
    """The diffusion renderer (GPU): Wan2.2-Animate re-renders the CPU renderer's motion frames
    with the portrait's identity. See presets gpu-24gb / gpu-80gb."""

    model: str = "Wan-AI/Wan2.2-Animate-14B-Diffusers"  # local folder or id in the HF cache
    device: str = "cuda"  # "cpu" only makes sense for tiny test models
    dtype: str = "bf16"  # "bf16" | "fp16" | "fp32"
    offload: str = "none"  # "none" | "model" | "sequential" | "group"
    vae_tiling: bool = False
    steps: int = 20
    guidance: float = 1.0
    segment_frames: int = 77  # frames per generated segment (4n + 1)
    prev_segment_frames: int = 1  # frames of the previous segment that condition the next (1 or 5)
    max_side: int = 832  # longer side at most, area at most a 16:9 frame of it (multiple of 16)
    face_blend: str = "mouth"  # "mouth" | "face" | "off": paste the A2M frame's region back
    negative_prompt: str = ("blurry, distorted face, deformed mouth, extra teeth, flicker, "
                            "low quality, watermark, text")


@dataclass
class ExportSettings:
    crf: int = 18
    x264_preset: str = "veryfast"
    audio_bitrate: str = "192k"


@dataclass
class PipelineSettings:
    preset: str = "natural"
    audio: AudioSettings = field(default_factory=AudioSettings)
    transcript: TranscriptSettings = field(default_factory=TranscriptSettings)
    emotion: EmotionSettings = field(default_factory=EmotionSettings)
    scene: SceneSettings = field(default_factory=SceneSettings)
    face: FaceSettings = field(default_factory=FaceSettings)
    motion: MotionSettings = field(default_factory=MotionSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    diffusion: DiffusionSettings = field(default_factory=DiffusionSettings)
    export: ExportSettings = field(default_factory=ExportSettings)

    def with_overrides(self, overrides: dict[str, Any]) -> "PipelineSettings":
        """Returns a copy with nested values replaced, e.g. {"render": {"fps": 30}}."""
        data = to_jsonable(self)
        _merge(data, overrides, path="")
        return from_jsonable(PipelineSettings, data)


def _merge(base: dict, new: dict, path: str) -> None:
    for key, value in new.items():
        where = f"{path}{key}"
        if key not in base:
            raise InputError(f"Unknown setting '{where}'.",
                             "Check the preset file against pipelines/settings.py.")
        if isinstance(base[key], dict) and isinstance(value, dict):
            _merge(base[key], value, path=where + ".")
        else:
            base[key] = value


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str) -> PipelineSettings:
    data = _preset_data(name)
    data.pop("description", None)
    return dataclasses.replace(PipelineSettings().with_overrides(data), preset=name)


def preset_description(name: str) -> str:
    """The preset's one-line description, for menus."""
    return str(_preset_data(name).get("description") or "")


def _preset_data(name: str) -> dict:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise InputError(f"Unknown preset '{name}'.", f"Choose one of: {', '.join(list_presets())}.")
    return yaml.safe_load(path.read_text()) or {}
