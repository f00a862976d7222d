"""Turns studio UI values into pipeline calls. No Gradio here: the app (app.py) wires widgets to
these methods and turns `StudioError`s into the messages the page shows.

Models load lazily, once per process: the face analyser, aligner, voice activity and emotion
models are kept for every session; per-render pieces (motion settings, renderer size) are cheap
and built from each project's settings. Heavy work is serialised by Gradio's queue
(`concurrency_id="heavy"`), so one model is never used by two threads at once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from pipelines.emotion import apply_overrides
from pipelines.errors import InputError, RenderInterrupted, StudioError
from pipelines.files import file_sha256
from pipelines.project import EmotionOverride, Project
from pipelines.settings import PipelineSettings, list_presets, load_preset, preset_description
from pipelines.types import EMOTIONS

from .library import Library, TakeEntry
from .outbox import Outbox

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Style:
    """The style panel's values (and the framing chosen beside the portrait)."""

    preset: str = "natural"
    head_motion: float = 1.0
    blink_rate: float = 17.0
    expression_strength: float = 1.0
    seed: int = 0
    size: int = 512
    fps: float = 25.0
    framing: str = "full"
    renderer: str = "cpu"

    @classmethod
    def of_preset(cls, name: str, keep: "Style | None" = None) -> "Style":
        """The preset's motion and renderer; size, fps, framing and seed stay as in `keep`."""
        s = load_preset(name)
        base = keep or cls()
        return dataclasses.replace(base, preset=name, head_motion=s.motion.head_motion,
                                   blink_rate=s.motion.blink_rate_per_min,
                                   expression_strength=s.motion.expression_strength,
                                   renderer=s.render.renderer)

    @classmethod
    def of_project(cls, project: Project) -> "Style":
        s = project.settings
        return cls(preset=s.preset, head_motion=s.motion.head_motion,
                   blink_rate=s.motion.blink_rate_per_min,
                   expression_strength=s.motion.expression_strength, seed=int(project.seed),
                   size=int(s.render.size), fps=float(s.render.fps), framing=s.face.framing,
                   renderer=s.render.renderer)

    @classmethod
    def from_dict(cls, values: dict | None) -> "Style":
        """A Style from a script's JSON (unknown keys are refused, missing ones default)."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"Unknown style setting(s): {', '.join(unknown)}.",
                             f"Use any of: {', '.join(sorted(known))}.")
        style = cls(**values)
        return dataclasses.replace(style, seed=int(style.seed or 0), size=int(style.size),
                                   fps=float(style.fps), renderer=style.renderer or "cpu")

    def adjusted(self) -> bool:
        """Whether the motion sliders differ from the preset's own values."""
        preset = Style.of_preset(self.preset, keep=self)
        return any(abs(float(getattr(self, f)) - float(getattr(preset, f))) > 1e-6
                   for f in ("head_motion", "blink_rate", "expression_strength"))

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


@dataclass(frozen=True)
class Inputs:
    """What the creator has put on the page: the portrait, the recording and the script."""

    portrait: str | None = None
    audio: str | None = None
    script: str = ""


@dataclass(frozen=True)
class PresetChoice:
    name: str
    description: str
    available: bool
    why_not: str = ""

    @property
    def label(self) -> str:
        return self.name if self.available else f"{self.name} (unavailable here)"


@dataclass
class RenderJob:
    """A render as the studio remembers it, so that a page opened (or reloaded) while it runs
    can say where it is."""

    project_name: str
    page: str  # the browser session that started it
    started: float = field(default_factory=time.time)
    state: str = "running"  # running | landed | cancelled | failed
    take_number: int = 0
    page_left: bool = False  # that page was closed or reloaded before the render ended
    announced: bool = False


@dataclass
class Session:
    """One browser tab's work: its folder, the open project and its library id, the flag that
    cancels its current analysis or render, and the notes it has already been shown."""

    id: str
    folder: Path
    project: Project | None = None
    project_id: str | None = None
    project_name: str | None = None
    interrupt: threading.Event = field(default_factory=threading.Event)
    running: str | None = None  # "analysis" | "render" while one runs
    notes_shown: set[str] = field(default_factory=set)
    hashes: dict[tuple, str] = field(default_factory=dict)


class StudioController:
    def __init__(self, data_dir: str | Path):
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.library = Library(self.data_dir / "library")
        self.sessions_dir = self.data_dir / "sessions"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox()
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()
        self._jobs: list[RenderJob] = []
        self._diffusion: tuple[bool, str] | None = None

    def close(self) -> None:
        self.outbox.close()

    # ------------------------------------------------------------------ sessions
    def new_session(self) -> Session:
        sid = uuid.uuid4().hex[:12]
        folder = self.sessions_dir / sid
        folder.mkdir(parents=True)
        return Session(sid, folder)

    # ------------------------------------------------------------- loaded models
    def _get(self, key: str, make):
        with self._lock:
            if key not in self._models:
                self._models[key] = make()
            return self._models[key]

    def pipeline(self, settings: PipelineSettings):
        """A pipeline for `settings` whose heavy parts are loaded once for every session."""
        from pipelines.pipeline import SynchroRaMaPipeline

        return SynchroRaMaPipeline.from_settings(settings, kept=self._get)

    def diffusion_status(self) -> tuple[bool, str]:
        """Whether the diffusion renderer can run here, and if not, why (for the style panel).
        Asked once: the answer (GPU, drivers, installed packages) holds while the app runs."""
        from pipelines.render.diffusion import diffusion_availability

        if self._diffusion is None:
            ok, reason = diffusion_availability()
            self._diffusion = (ok, "Diffusion renders photoreal frames from the same motion; it "
                                   "is slower." if ok else reason)
        return self._diffusion

    def preset_choices(self) -> list[PresetChoice]:
        """Every preset, with whether it can run on this computer."""
        out = []
        for name in list_presets():
            why_not = self._why_preset_cannot_run(name)
            out.append(PresetChoice(name, preset_description(name), not why_not, why_not))
        return out

    def _why_preset_cannot_run(self, name: str) -> str:
        """Empty when `name` runs here; else why not (its renderer is unavailable)."""
        can_diffuse, why = self.diffusion_status()
        return why if load_preset(name).render.renderer == "diffusion" and not can_diffuse else ""

    # ------------------------------------------------------------------- inputs
    def inspect_portrait(self, session: Session, path: str, style: Style) -> tuple[np.ndarray, str]:
        """The portrait with its detected face box and output framing drawn on it, and a
        one-line description. Raises StudioError for no face, several faces, a tiny face, …
        The description's notes count as shown: Analyze does not repeat them."""
        import cv2

        from pipelines.face import describe_face, load_portrait
        from pipelines.face.analyzer import map_to_original

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
        box = map_to_original(np.array([face.box[:2], face.box[2:]], float), fr)
        (bx0, by0), (bx1, by1) = box.astype(int)
        cv2.rectangle(preview, (bx0, by0), (bx1, by1), (0, 220, 90), thick)
        note = describe_face(face)["summary"]
        if face.warnings:
            note += " " + " ".join(face.warnings)
            session.notes_shown.update(face.warnings)
        return preview, note

    def expression_preview(self, path: str, style: Style, progress: Progress | None = None):
        """The portrait under every emotion and the main mouth shapes (pipelines/preview.py),
        drawn with the face models every session shares. Raises StudioError as a render would
        for the same photo (no face, unreadable file, …)."""
        from pipelines.preview import ExpressionPreviewer

        previewer = ExpressionPreviewer.from_settings(style.settings(), kept=self._get)
        return previewer(path, callback=progress)

    def inspect_audio(self, path: str) -> str:
        from pipelines.audio import load_speech

        speech = load_speech(path, PipelineSettings().audio)
        channels = "mono" if speech.source_channels == 1 else f"{speech.source_channels} channels"
        return f"{speech.duration:.1f} s, {speech.source_sample_rate} Hz, {channels}."

    def stale_reason(self, session: Session | None, inputs: Inputs) -> str | None:
        """Why the session's analysis no longer matches what is on the page, or None."""
        project = session.project if session is not None else None
        if project is None or project.emotion is None:
            return None
        changed = []
        if inputs.portrait and self._sha(session, inputs.portrait) != project.portrait.sha256:
            changed.append("portrait")
        if inputs.audio and self._sha(session, inputs.audio) != project.audio.sha256:
            changed.append("recording")
        if (inputs.script or "").strip() != (project.script or ""):
            changed.append("script")
        if not changed:
            return None
        what = " and ".join([", ".join(changed[:-1]), changed[-1]] if len(changed) > 1 else changed)
        return (f"The {what} changed after the analysis, so the segments, emotions and scene "
                "below belong to the old one.")

    def _sha(self, session: Session, path: str) -> str:
        """A file's hash, remembered per path, size and time (the page asks on every edit)."""
        p = Path(path)
        try:
            st = p.stat()
        except OSError:
            return ""
        key = (str(p), st.st_size, st.st_mtime_ns)
        if key not in session.hashes:
            session.hashes[key] = file_sha256(p)
        return session.hashes[key]

    # ------------------------------------------------------------------ analyse
    def analyze(self, session: Session, inputs: Inputs, style: Style,
                progress: Progress) -> tuple[Project, list[str]]:
        """Transcription/alignment, segments, emotion and scene for the session's inputs. A new
        portrait or recording starts a new library project; the same ones keep their edits.
        Returns the project and the notes the page has not shown yet."""
        if not inputs.portrait:
            raise InputError("Add a portrait photo first (step 1).")
        if not inputs.audio:
            raise InputError("Add a speech recording first (step 2).")
        settings = style.settings()
        project = Project.new(inputs.portrait, inputs.audio, script=inputs.script,
                              seed=int(style.seed), settings=settings)
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
        with self._running(session, "analysis") as interrupt:
            out = self.pipeline(settings)(project, callback=progress, interrupt=interrupt)
        session.project = out.project
        if not same_inputs:
            session.project_id = session.project_name = None  # new inputs: a new project
        self._save(session)
        news = [w for w in session.project.warnings if w not in session.notes_shown]
        session.notes_shown.update(news)
        return session.project, news

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
    def render(self, session: Session, style: Style, progress: Progress,
               inputs: Inputs | None = None, page: str = "") -> TakeEntry:
        """Renders the analysed project as a new take. With `inputs` (what the page shows), a
        portrait, recording or script changed since the analysis is refused, never rendered
        from the old analysis."""
        from pipelines.motion import motion_to_csv

        project = self._need_project(session)
        stale = self.stale_reason(session, inputs) if inputs is not None else None
        if stale:
            raise InputError(stale, "Press Analyze (step 3) again, then Render.")
        self._check_preset_runs_here(style.preset)
        settings = style.settings().with_overrides({"scene": dataclasses.asdict(project.settings.scene)})
        project = dataclasses.replace(project)
        project.restyle(settings, style.seed)
        job = RenderJob(self._library_entry(session).name, page)
        self._jobs.append(job)
        work = session.folder / f"render-{uuid.uuid4().hex[:8]}"
        work.mkdir()
        video = work / "take.mp4"
        try:
            with self._running(session, "render") as interrupt:
                out = self.pipeline(settings)(project, video, callback=progress,
                                              interrupt=interrupt)
                project = out.project
                csv = work / "motion.csv"
                motion_to_csv(project.motion, csv)
                thumb = work / "thumb.png"
                _thumbnail(video, thumb, _duration(project))
                if interrupt.is_set():  # pressed after the last frame: still nothing is kept
                    raise RenderInterrupted()
            take = self.library.add_take(session.project_id, project, video,
                                         _take_label(project, style), duration=_duration(project),
                                         motion_csv=csv, thumbnail=thumb)
            job.state, job.take_number = "landed", take.number
        except RenderInterrupted:
            job.state = "cancelled"
            raise
        except BaseException:
            job.state = "failed"
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)  # a cancelled or failed render leaves nothing
        session.project = project
        return take

    def _check_preset_runs_here(self, preset: str) -> None:
        why = self._why_preset_cannot_run(preset)
        if why:
            raise InputError(f"The {preset} preset cannot run on this computer. {why}",
                             "Choose natural, calm or storyteller (they run on any computer).")

    def cancel(self, session: Session | None) -> str | None:
        """Stops the session's analysis or render; returns which one it was (None: nothing ran)."""
        if session is None or session.running is None:
            return None
        session.interrupt.set()
        return session.running

    @contextlib.contextmanager
    def _running(self, session: Session, what: str) -> Iterator[threading.Event]:
        # A fresh flag for every run: a Cancel pressed for an earlier run (whose thread may
        # still be winding down) never stops this one.
        session.interrupt = threading.Event()
        session.running = what
        try:
            yield session.interrupt
        finally:
            session.running = None

    # ------------------------------------------------------------ pages and jobs
    def page_left(self, page: str) -> None:
        """The browser page `page` was closed or reloaded: its renders go on, and the next page
        opened is told about them."""
        for job in self._jobs:
            if job.page == page and job.state == "running":
                job.page_left = True

    def notices_for_new_page(self) -> list[str]:
        """What a page that has just opened should know: renders still running, and renders
        whose page went away before they ended."""
        notes = []
        for job in self._jobs:
            started = time.strftime("%H:%M", time.localtime(job.started))
            if job.state == "running":
                notes.append(f"A render of **{job.project_name}** (started {started}) is still "
                             "running. It will appear in the Library when it is done; new "
                             "analyses and renders wait until then.")
            elif job.page_left and not job.announced:
                job.announced = True
                if job.state == "landed":
                    notes.append(f"The render of **{job.project_name}** started at {started} "
                                 f"has finished: it is take {job.take_number} in the Library.")
                elif job.state == "failed":
                    notes.append(f"The render of **{job.project_name}** started at {started} "
                                 "did not finish. Open the project from the Library to try again.")
        # An ended render matters only to a page that left before it ended, until it is told.
        self._jobs = [j for j in self._jobs
                      if j.state == "running" or (j.page_left and not j.announced)]
        return notes

    # ------------------------------------------------------------------ library
    def open_project(self, session: Session, project_id: str) -> Project:
        entry = self.library.project(project_id) if project_id else None
        if entry is None:
            raise InputError("That project is no longer in the library.")
        session.project = self.library.load_project(project_id)
        session.project_id, session.project_name = project_id, entry.name
        return session.project

    def take_downloads(self, take: TakeEntry) -> list[Path]:
        """The take's video, project and motion as copies named after the project and take."""
        return self.outbox.publish([(take.video, f"{take.file_stem}.mp4"),
                                    (take.project_path, f"{take.file_stem}.project.json"),
                                    (take.motion_csv, f"{take.file_stem}.motion.csv")])

    # ---------------------------------------------------------------- internals
    def _need_project(self, session: Session | None) -> Project:
        if session is None or session.project is None or session.project.emotion is None:
            raise InputError("Analyze the speech first (step 3).")
        return session.project

    def _save(self, session: Session) -> None:
        known = session.project_id is not None
        self._library_entry(session)
        if known:
            self.library.save_project(session.project_id, session.project)

    def _library_entry(self, session: Session):
        """The session's project in the library: added when it is new, and put back if it was
        deleted there while this page still had it open (its edits and next takes are kept)."""
        entry = self.library.project(session.project_id) if session.project_id else None
        if entry is None:
            p = session.project
            if not session.project_name:  # named after the files as the creator gave them
                session.project_name = Path(p.portrait.path).stem + " + " + Path(p.audio.path).stem
            session.project_id, session.project = self.library.create_project(
                p, session.project_name)
            entry = self.library.project(session.project_id)
        return entry


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
    preset = f"{style.preset} (adjusted)" if style.adjusted() else style.preset
    return (f"{preset}, seed {style.seed}, {style.size}px {style.fps:g} fps, "
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
