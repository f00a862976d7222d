"""SynchroRaMaPipeline: portrait + speech → lip-synced, emotion-aware talking-face MP4.

In the style of a `diffusers` pipeline: `__init__` receives the stage components and does no
I/O; `from_settings` builds the embedded defaults (models load lazily on first use and stay
loaded for the life of the pipeline); `check_inputs` validates; `__call__` runs numbered stages,
reports progress through a callback, honours an interrupt flag, and returns a typed output.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .emotion import EmotionAnalyzer, apply_overrides, segment_speech
from .errors import InputError, RenderInterrupted
from .export.video import write_mp4
from .project import Project
from .settings import PipelineSettings
from .types import EmotionTrack, Prosody, Speech, Transcript

log = logging.getLogger("synchrorama")

# progress(stage_name, fraction_of_that_stage_done in 0..1)
ProgressCallback = Callable[[str, float], None]

STAGES = ("portrait", "speech", "transcript", "prosody", "emotion", "scene", "motion", "render")


@dataclass
class PipelineOutput:
    video_path: Optional[Path]
    project: Project
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class SpeechAnalysis:
    speech: Speech
    transcript: Transcript
    prosody: Prosody
    emotion: EmotionTrack
    warnings: list[str] = field(default_factory=list)


class SynchroRaMaPipeline:
    def __init__(self, *, face_analyzer, aligner, voice_activity, emotion_analyzer, motion_model,
                 renderer, settings: PipelineSettings, scene_director=None):
        self.face_analyzer = face_analyzer
        self.scene_director = scene_director
        self.emotion_analyzer = emotion_analyzer
        self.aligner = aligner
        self.voice_activity = voice_activity
        self.motion_model = motion_model
        self.renderer = renderer
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: PipelineSettings | None = None,
                      kept: Callable[[str, Callable[[], object]], object] | None = None,
                      ) -> "SynchroRaMaPipeline":
        """The embedded pipeline for `settings`. `kept(key, make)` lets a long-running host
        (the studio) keep one instance of each heavy component across pipelines; without it
        every component is new (and still loads its model lazily)."""
        from .audio.features import SileroVoiceActivity
        from .motion import AudioToMotion
        from .scene import SceneDirector
        from .text import PocketsphinxAligner

        settings = settings or PipelineSettings()
        get = kept or (lambda key, make: make())
        face_analyzer, cpu = portrait_components(settings, get)
        # The renderer is cheap and follows this render's settings; the diffusion model in it
        # is loaded once and kept for every render (one at a time, see
        # render.diffusion.LoadedModel).
        renderer = make_renderer(settings, cpu, kept=get)
        return cls(face_analyzer=face_analyzer,
                   aligner=get("aligner", PocketsphinxAligner),
                   voice_activity=get("vad", SileroVoiceActivity),
                   emotion_analyzer=get(f"emotion:{settings.emotion}",
                                        lambda: EmotionAnalyzer(settings.emotion)),
                   motion_model=AudioToMotion(settings.motion),
                   renderer=renderer,
                   settings=settings,
                   scene_director=SceneDirector(settings.scene))

    def analyze(self, audio_path: str | Path, script: str | None = None) -> SpeechAnalysis:
        """Speech-only analysis (`launch.py analyze`): transcript, segments, emotion embedding."""
        from .audio import compute_prosody, load_speech

        s = self.settings
        speech = load_speech(audio_path, s.audio)
        transcript = self.aligner.transcribe(speech, script, s.transcript)
        prosody = compute_prosody(speech, vad=self.voice_activity)
        segments = segment_speech(transcript, prosody, speech.duration, s.emotion.min_pause_s)
        emotion = self.emotion_analyzer(speech, prosody, transcript, segments)
        return SpeechAnalysis(speech, transcript, prosody, emotion, list(transcript.warnings))

    def scene_director_for(self, settings: PipelineSettings, api_key: str | None = None):
        from .scene import SceneDirector

        if api_key or self.scene_director is None or self.scene_director.settings != settings.scene:
            return SceneDirector(settings.scene, api_key=api_key)
        return self.scene_director

    def check_inputs(self, project: Project, out_path: str | Path | None) -> None:
        s = project.settings
        if not 64 <= s.render.size <= 2048:
            raise InputError(f"Output size {s.render.size} is out of range.", "Use 64..2048 pixels.")
        if not 1 <= s.render.fps <= 60:
            raise InputError(f"Frame rate {s.render.fps} is out of range.", "Use 1..60 fps.")
        if s.face.framing not in ("crop", "full"):
            raise InputError(f"Unknown framing '{s.face.framing}'.", "Use 'crop' or 'full'.")
        if out_path is not None and hasattr(self.renderer, "check"):
            self.renderer.check()  # e.g. the diffusion renderer: no GPU, no weights → stop now
        if out_path is not None:
            out = Path(out_path)
            if out.suffix.lower() != ".mp4":
                raise InputError(f"Output must be an .mp4 file, got '{out.name}'.")
            if out.exists() and out.is_dir():
                raise InputError(f"Output path {out} is a folder.", "Give a file name ending in .mp4.")
        project.check_media()

    def __call__(self, project: Project, out_path: str | Path | None = None, *,
                 callback: ProgressCallback | None = None,
                 interrupt: threading.Event | None = None,
                 llm_api_key: str | None = None) -> PipelineOutput:
        """Fills in every missing intermediate of `project` and, when `out_path` is given,
        renders the video. Returns the completed project (the input is not modified).
        `llm_api_key` is used for this call only (never stored); without it the scene writer
        reads OPENAI_API_KEY."""
        project = project.replace()  # shallow copy: stages below assign new values only
        self.check_inputs(project, out_path)
        settings = project.settings
        timings: dict[str, float] = {}
        warnings: list[str] = list(project.warnings)
        progress = callback or (lambda stage, frac: None)

        def stage(name: str):
            if interrupt is not None and interrupt.is_set():
                raise RenderInterrupted()
            progress(name, 0.0)
            return _Timer(timings, name)

        # 1. Portrait: load, frame, face mesh.
        from .face import frame_image, load_portrait, rest_expression

        with stage("portrait"):
            image, _ = load_portrait(project.portrait.path)
            if project.face is None:
                project.face = self.face_analyzer.analyze(image, project.portrait, settings.render.size)
                warnings += project.face.warnings
            framed = frame_image(image, project.face.framing)

        # 2. Speech: decode to 16 kHz mono (the export keeps the user's original file).
        from .audio import compute_prosody, load_speech

        with stage("speech"):
            speech: Speech = load_speech(project.audio.path, settings.audio)

        # 3. Transcript with word and phone timing.
        with stage("transcript"):
            if project.transcript is None:
                project.transcript = self.aligner.transcribe(speech, project.script,
                                                             settings.transcript)
                warnings += project.transcript.warnings

        # 4. Prosody (loudness, pitch, voice activity).
        with stage("prosody"):
            prosody = compute_prosody(speech, vad=self.voice_activity)

        # 5. Emotion per segment (multimodal embedding), then the user's overrides.
        with stage("emotion"):
            if project.emotion is None:
                segments = project.segments or segment_speech(
                    project.transcript, prosody, speech.duration, settings.emotion.min_pause_s)
                project.emotion = self.emotion_analyzer(speech, prosody, project.transcript, segments)
            effective = apply_overrides(project.emotion, project.emotion_overrides)
            if effective != project.emotion:
                project.motion = None  # the face must follow the edited emotion
                if project.scene is not None and project.scene.source == "template":
                    project.scene = None  # the template describes the emotions: rewrite it
            project.emotion = effective

        # 6. Scene description: the user's text, or generated (LLM or offline template); its
        #    cues steer the motion, and the same text prompts the diffusion renderer.
        with stage("scene"):
            if project.scene is None:
                from .scene import SceneRequest

                director = self.scene_director_for(settings, llm_api_key)
                request = SceneRequest.build(speech.duration, project.transcript, project.emotion,
                                             project.face)
                if project.scene_text and project.scene_text.strip():
                    project.scene = director.describe(project.scene_text, request)
                else:
                    progress("scene", 0.1)
                    project.scene, scene_warnings = director.generate(request)
                    warnings += scene_warnings
                project.motion = None

        # 7. Audio-to-motion.
        with stage("motion"):
            if project.motion is None:
                project.motion = self.motion_model(
                    transcript=project.transcript, prosody=prosody, duration=speech.duration,
                    fps=settings.render.fps, seed=project.seed, emotion=project.emotion,
                    scene=project.scene, rest_expression=rest_expression(project.face.landmarks))

        project.warnings = _unique(warnings)
        if out_path is None:
            return PipelineOutput(None, project, project.warnings, timings)

        # 8. Render and export.
        with stage("render"):
            from .render.diffusion import RenderJob, diffusion_prompt

            prepared = self.renderer.prepare(framed, project.face)
            total = project.motion.num_frames
            # The diffusion renderer reports its own progress (denoising steps); the CPU one
            # progresses frame by frame as they are written.
            own_progress = self.renderer.name != "cpu"
            job = RenderJob(prompt=diffusion_prompt(project.scene.text if project.scene else "",
                                                    project.emotion),
                            seed=project.seed, interrupt=interrupt,
                            progress=(lambda f: progress("render", f)) if own_progress else None)

            def on_frame(i: int) -> None:
                if interrupt is not None and interrupt.is_set():
                    raise RenderInterrupted()
                if not own_progress and (i % 5 == 0 or i == total - 1):
                    progress("render", (i + 1) / total)

            h, w = framed.shape[:2]
            write_mp4(self.renderer.frames(prepared, project.motion, job), out_path,
                      fps=settings.render.fps, size=(w, h), audio_path=project.audio.path,
                      settings=settings.export, num_frames=total, on_frame=on_frame)
        progress("done", 1.0)
        return PipelineOutput(Path(out_path), project, project.warnings, timings)


def portrait_components(settings: PipelineSettings,
                        kept: Callable[[str, Callable[[], object]], object] | None = None):
    """The face analyser and the CPU renderer for `settings`, built as every pipeline builds
    them: with `kept` (see `SynchroRaMaPipeline.from_settings`) their MediaPipe models are the
    host's loaded ones, so the expression preview (preview.py) loads nothing twice."""
    from .face import FaceAnalyzer
    from .render.cpu import CpuRenderer, PersonMatte

    get = kept or (lambda key, make: make())
    face_analyzer = get(f"face:{settings.face}", lambda: FaceAnalyzer(settings.face))
    return face_analyzer, CpuRenderer(settings.render, matte=get("matte", PersonMatte))


def make_renderer(settings: PipelineSettings, cpu, kept=None):
    """The renderer the settings ask for; the CPU renderer also draws the diffusion renderer's
    motion frames."""
    name = settings.render.renderer
    if name == "cpu":
        return cpu
    if name == "diffusion":
        from .render.diffusion import DiffusionRenderer, LoadedModel

        model = kept("diffusion-model", LoadedModel) if kept else LoadedModel()
        return DiffusionRenderer(settings.render, settings.diffusion, cpu, model=model)
    raise InputError(f"Unknown renderer '{name}'.", "Use 'cpu' or 'diffusion'.")


class _Timer:
    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.t0
        return False


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
