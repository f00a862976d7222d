"""Turns studio UI values into pipeline calls. No Gradio here: the app (app.py) wires widgets to
these methods and turns `StudioError`s into gr.Error / gr.Warning.

Models load lazily, once per process: the face analyser, aligner, voice activity and emotion
models are shared by every session; per-render pieces (motion settings, renderer size) are cheap
and built from each project's settings. Heavy work is serialised by Gradio's queue
(`concurrency_id="heavy"`), so the shared models are never used by two threads at once.
"""
from __future__ import annotations

import dataclasses
import shutil
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from pipelines.emotion import apply_overrides
from pipelines.errors import InputError, StudioError
from pipelines.project import EmotionOverride, Project
from pipelines.settings import PipelineSettings, load_preset
from pipelines.types import EMOTIONS

from .library import Library, TakeEntry

Progress = Callable[[str, float], None]


@dataclass
class Style:
    """The style panel's values."""

    preset: str = "natural"
    head_motion: float = 1.0
    blink_rate: float = 17.0
    expression_strength: float = 1.0
    seed: int = 0
    size: int = 512
    fps: float = 25.0
    framing: str = "full"
    renderer: str = "cpu"

    def settings(self) -> PipelineSettings:
        s = load_preset(self.preset)
        overrides = {
            "motion": {"head_motion": float(self.head_motion),
                       "blink_rate_per_min": float(self.blink_rate),
                       "expression_strength": float(self.expression_strength)},
            "render": {"size": int(self.size), "fps": float(self.fps), "renderer": self.renderer},
            "face": {"framing": self.framing},
        }
        return s.with_overrides(overrides)


@dataclass
class Session:
    """One browser tab's work: its folder, the open project and its library id, the cancel flag."""

    id: str
    folder: Path
    project: Project | None = None
    project_id: str | None = None
    interrupt: threading.Event = field(default_factory=threading.Event)


class StudioController:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.library = Library(self.data_dir / "library")
        self.sessions_dir = self.data_dir / "sessions"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self._shared: dict[str, object] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> Session:
        sid = uuid.uuid4().hex[:12]
        folder = self.sessions_dir / sid
        folder.mkdir(parents=True)
        return Session(sid, folder)

    # ------------------------------------------------------------- shared models
    def _get(self, key: str, make):
        with self._lock:
            if key not in self._shared:
                self._shared[key] = make()
            return self._shared[key]

    def pipeline(self, settings: PipelineSettings):
        """A pipeline for `settings` whose heavy parts are shared across sessions."""
        from pipelines.pipeline import SynchroRaMaPipeline

        return SynchroRaMaPipeline.from_settings(settings, shared=self._get)

    def diffusion_status(self) -> tuple[bool, str]:
        """Whether the diffusion renderer can run here, and if not, why (for the style panel)."""
        from pipelines.render.diffusion import diffusion_availability

        ok, reason = diffusion_availability()
        if not ok:
            return False, f"Diffusion (GPU) unavailable: {reason}"
        return True, "Diffusion (GPU) renders photoreal frames from the same motion; slower."

    # ------------------------------------------------------------------- inputs
    def inspect_portrait(self, path: str, style: Style) -> tuple[np.ndarray, str]:
        """The portrait with its detected face box and output framing drawn on it, and a
        one-line description. Raises StudioError for no face, several faces, a tiny face, …"""
        import cv2

        from pipelines.face import describe_face, load_portrait

        settings = style.settings()
        image, ref = load_portrait(path, settings.face.max_megapixels)
        face = self.pipeline(settings).face_analyzer.analyze(image, ref, settings.render.size)
        preview = image.copy()
        scale = max(preview.shape[:2]) / 720.0
        thick = max(2, int(round(3 * scale)))
        fr = face.framing
        # The framing box (what the video shows) and the face box, in original-image pixels.
        x0, y0, x1, y1 = (int(round(v)) for v in fr.crop)
        cv2.rectangle(preview, (x0, y0), (x1 - 1, y1 - 1), (255, 200, 0), thick)
        from pipelines.face.analyzer import map_to_original

        box = map_to_original(np.array([face.box[:2], face.box[2:]], float), fr)
        (bx0, by0), (bx1, by1) = box.astype(int)
        cv2.rectangle(preview, (bx0, by0), (bx1, by1), (0, 220, 90), thick)
        d = describe_face(face)
        note = d["summary"]
        if face.warnings:
            note += " " + " ".join(face.warnings)
        return preview, note

    def inspect_audio(self, path: str) -> str:
        from pipelines.audio import load_speech

        speech = load_speech(path, PipelineSettings().audio)
        channels = "mono" if speech.source_channels == 1 else f"{speech.source_channels} channels"
        return f"{speech.duration:.1f} s, {speech.source_sample_rate} Hz, {channels}."

    # ------------------------------------------------------------------ analyse
    def analyze(self, session: Session, portrait: str, audio: str, script: str, style: Style,
                progress: Progress) -> Project:
        """Transcription/alignment, segments, emotion and scene for the session's inputs. A new
        portrait or recording starts a new library project; the same ones keep their edits."""
        if not portrait:
            raise InputError("Add a portrait photo first (step 1).")
        if not audio:
            raise InputError("Add a speech recording first (step 2).")
        settings = style.settings()
        project = Project.new(portrait, audio, script=script, seed=int(style.seed), settings=settings)
        previous = session.project
        same_inputs = (previous is not None and previous.portrait.sha256 == project.portrait.sha256
                       and previous.audio.sha256 == project.audio.sha256)
        if same_inputs:
            # Keep the library's copies of the media (not the upload's temporary paths) and
            # every stage the new script, settings and seed leave valid.
            script = project.script
            project = dataclasses.replace(previous)
            if (previous.script or None) != script:
                project.script = script
                project.invalidate("transcript")
            project.restyle(settings, style.seed)
        out = self.pipeline(settings)(project, callback=progress, interrupt=session.interrupt)
        project = out.project
        if same_inputs and session.project_id:
            self.library.save_project(session.project_id, project)
            session.project = project
        else:
            name = Path(portrait).stem + " + " + Path(audio).stem
            session.project_id, session.project = self.library.create_project(project, name)
        return session.project

    # ------------------------------------------------------------------- edits
    def edit_segment(self, session: Session, index: int, label: str | None, intensity: float | None,
                     valence: float | None, arousal: float | None) -> Project:
        project = self._need_project(session)
        if not 0 <= index < len(project.emotion.segments):
            raise InputError(f"There is no segment {index + 1}.")
        if label is not None and label != "auto" and label not in EMOTIONS:
            raise InputError(f"Unknown emotion '{label}'.", f"Choose one of: auto, {', '.join(EMOTIONS)}.")
        # Merge with this segment's earlier edits: None keeps them, "auto" clears the label.
        old = next((o for o in project.emotion_overrides if o.segment == index), EmotionOverride(index))
        overrides = [o for o in project.emotion_overrides if o.segment != index]
        edit = EmotionOverride(
            segment=index,
            label=None if label == "auto" else (label if label is not None else old.label),
            intensity=old.intensity if intensity is None else float(intensity),
            valence=old.valence if valence is None else float(valence),
            arousal=old.arousal if arousal is None else float(arousal))
        if any(v is not None for v in (edit.label, edit.intensity, edit.valence, edit.arousal)):
            overrides.append(edit)
        return self._set_overrides(session, overrides)

    def set_emotion_all(self, session: Session, label: str, intensity: float | None = None) -> Project:
        """One emotion for the whole clip ("auto" keeps the detected ones)."""
        if label in (None, "", "auto"):
            return self.reset_emotions(session)
        if label not in EMOTIONS:
            raise InputError(f"Unknown emotion '{label}'.", f"Choose one of: auto, {', '.join(EMOTIONS)}.")
        return self._set_overrides(session, [EmotionOverride(-1, label, intensity)])

    def reset_emotions(self, session: Session) -> Project:
        return self._set_overrides(session, [])

    def _set_overrides(self, session: Session, overrides: list[EmotionOverride]) -> Project:
        project = self._need_project(session)
        effective = apply_overrides(project.emotion, overrides)
        project = dataclasses.replace(project, emotion_overrides=overrides, emotion=effective,
                                      motion=None)
        if project.scene is not None and project.scene.source == "template":
            # The template describes the emotions: rewrite it now, so the scene box shows
            # (and a later edit of it starts from) the text that will steer the render.
            project.scene = self._template_scene(project)
        session.project = project
        self._save(session)
        return project

    @staticmethod
    def _template_scene(project: Project):
        from pipelines.scene import SceneDirector, TemplateSceneWriter

        request = _scene_request(project)
        director = SceneDirector(project.settings.scene)
        return director.describe(TemplateSceneWriter().write(request), request, source="template")

    def set_scene_text(self, session: Session, text: str) -> Project:
        """The user's edited scene text (parsed into cues now, so the UI can list them)."""
        from pipelines.scene import SceneDirector

        project = self._need_project(session)
        request = _scene_request(project)
        scene = SceneDirector(project.settings.scene).describe(text or "", request)
        project = dataclasses.replace(project, scene_text=text or None, scene=scene, motion=None)
        session.project = project
        self._save(session)
        return project

    def generate_scene(self, session: Session, base_url: str, model: str, api_key: str) -> tuple[Project, list[str]]:
        from pipelines.scene import SceneDirector

        project = self._need_project(session)
        settings = project.settings.with_overrides(
            {"scene": {"llm_base_url": (base_url or "").strip(),
                       **({"llm_model": model.strip()} if model and model.strip() else {})}})
        request = _scene_request(project)
        scene, warnings = SceneDirector(settings.scene, api_key=api_key or None).generate(request)
        # The generated text becomes the user's text: what they see is what steers the motion.
        # A template is not stored as text, so it keeps following later emotion edits.
        project = dataclasses.replace(project, settings=settings, scene=scene, motion=None,
                                      scene_text=None if scene.source == "template" else scene.text)
        session.project = project
        self._save(session)
        return project, warnings

    # ------------------------------------------------------------------- render
    def render(self, session: Session, style: Style, progress: Progress) -> TakeEntry:
        from pipelines.motion import motion_to_csv

        project = self._need_project(session)
        settings = style.settings().with_overrides({"scene": dataclasses.asdict(project.settings.scene)})
        project = dataclasses.replace(project)
        project.restyle(settings, style.seed)
        session.interrupt.clear()
        work = session.folder / f"render-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        video = work / "take.mp4"
        try:
            out = self.pipeline(settings)(project, video, callback=progress,
                                          interrupt=session.interrupt)
            project = out.project
            csv = work / "motion.csv"
            motion_to_csv(project.motion, csv)
            thumb = work / "thumb.png"
            _thumbnail(video, thumb, _duration(project))
            take = self.library.add_take(session.project_id, project, video,
                                         _take_label(project, style), duration=_duration(project),
                                         motion_csv=csv, thumbnail=thumb)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # a cancelled or failed render leaves nothing
        session.project = project
        return take

    def cancel(self, session: Session | None) -> None:
        if session is not None:
            session.interrupt.set()

    # ------------------------------------------------------------------ library
    def open_project(self, session: Session, project_id: str) -> Project:
        if self.library.project(project_id) is None:
            raise InputError("That project is no longer in the library.")
        session.project = self.library.load_project(project_id)
        session.project_id = project_id
        return session.project

    # ---------------------------------------------------------------- internals
    def _need_project(self, session: Session | None) -> Project:
        if session is None or session.project is None or session.project.emotion is None:
            raise InputError("Analyze the speech first (step 3).")
        return session.project

    def _save(self, session: Session) -> None:
        if session.project_id:
            self.library.save_project(session.project_id, session.project)


def _scene_request(project: Project):
    """What the scene writers and the cue parser need to know about the analysed project."""
    from pipelines.scene import SceneRequest

    return SceneRequest.build(_duration(project), project.transcript, project.emotion, project.face)


def _duration(project: Project) -> float:
    if project.emotion is not None and project.emotion.segments:
        return float(project.emotion.segments[-1].segment.end)
    if project.transcript is not None and project.transcript.words:
        return float(project.transcript.words[-1].end)
    return 0.0


def _take_label(project: Project, style: Style) -> str:
    labels = sorted({s.label for s in project.emotion.segments}) if project.emotion else []
    return (f"{style.preset}, seed {style.seed}, {style.size}px {style.fps:g} fps, "
            f"{'/'.join(labels) or 'neutral'}")


def _thumbnail(video: Path, out: Path, duration: float) -> None:
    """A still from a third of the way into the take (seeked to, not decoded up to)."""
    import imageio_ffmpeg
    from PIL import Image

    frames = imageio_ffmpeg.read_frames(str(video), input_params=["-ss", f"{duration / 3:.3f}"])
    meta = next(frames)
    w, h = meta["size"]
    frame = next(frames, None)
    frames.close()
    if frame is None:
        raise StudioError("The rendered video has no frames.")
    img = Image.frombytes("RGB", (w, h), frame)
    img.thumbnail((240, 240))
    img.save(out)

