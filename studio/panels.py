"""The studio page's layout: one small builder per panel, each returning its widgets as one typed
value. No behaviour here beyond the segment editor's own controls; app.py wires the handlers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gradio as gr

from pipelines.types import EMOTIONS

from .controller import Style, StudioController

LABEL_CHOICES = ["auto", *EMOTIONS]
SIZES = [256, 384, 512, 720, 1024]
CSS = """
.step-title h3 {margin-bottom: 0.2em}
#render-btn {min-height: 3em}
.segment-row {border-top: 1px solid var(--border-color-primary); padding-top: 0.4em}
.analysis.stale {opacity: 0.45}
#notice {border-left: 4px solid var(--color-accent); padding-left: 0.8em}
"""


@dataclass
class PortraitPanel:
    image: gr.Image
    framing: gr.Radio
    preview: gr.Image
    note: gr.Markdown


@dataclass
class FaceMovesPanel:
    """The uploaded face under every emotion and mouth shape, before anything is rendered."""

    grid: gr.Image
    note: gr.Markdown


@dataclass
class SpeechPanel:
    audio: gr.Audio
    audio_note: gr.Markdown
    script: gr.Textbox
    analyze: gr.Button
    analysis_note: gr.Markdown


@dataclass
class AnalysisPanel:
    timeline: gr.Plot
    signals: gr.Dataframe
    transcript: gr.Dataframe


@dataclass
class SegmentsPanel:
    rows: gr.State  # the segments' rows; the editor is rebuilt when they change
    reset: gr.Button


@dataclass
class ScenePanel:
    llm_url: gr.Textbox
    llm_model: gr.Textbox
    llm_key: gr.Textbox
    generate: gr.Button
    text: gr.Textbox
    cues: gr.Dataframe


@dataclass
class StylePanel:
    preset: gr.Dropdown
    last_preset: gr.State  # the last preset that can run here (an unavailable one reverts to it)
    renderer: gr.Dropdown
    seed: gr.Number
    head: gr.Slider
    blink: gr.Slider
    expression: gr.Slider
    size: gr.Dropdown
    fps: gr.Dropdown
    framing: gr.Radio  # shown beside the portrait

    @property
    def widgets(self) -> list:
        """Every widget a Style is read from."""
        return [self.preset, self.renderer, self.seed, self.head, self.blink, self.expression,
                self.size, self.fps, self.framing]

    @property
    def outputs(self) -> list:
        """The widgets `show` sets, in its order."""
        return [*self.widgets, self.last_preset]

    def read(self, values: dict) -> Style:
        return Style(preset=values[self.preset], head_motion=float(values[self.head]),
                     blink_rate=float(values[self.blink]),
                     expression_strength=float(values[self.expression]),
                     seed=int(values[self.seed] or 0), size=int(values[self.size]),
                     fps=float(values[self.fps]), framing=values[self.framing],
                     renderer=values[self.renderer] or "cpu")

    @staticmethod
    def show(style: Style) -> tuple:
        return (style.preset, style.renderer, style.seed, style.head_motion, style.blink_rate,
                style.expression_strength, style.size, int(style.fps), style.framing,
                style.preset)


@dataclass
class RenderPanel:
    start: gr.Button
    cancel: gr.Button
    note: gr.Markdown
    video: gr.Video
    downloads: gr.File


@dataclass
class ConfirmBox:
    box: gr.Group
    question: gr.Markdown
    yes: gr.Button
    no: gr.Button
    pending: gr.State  # ("project" | "take", id) awaiting the answer


@dataclass
class LibraryPanel:
    tab: gr.Tab
    projects: gr.Dropdown
    open: gr.Button
    delete_project: gr.Button
    gallery: gr.Gallery
    gallery_ids: gr.State  # the take id of each picture in the gallery
    take_a: gr.Dropdown
    take_b: gr.Dropdown
    delete_take: gr.Button
    confirm: ConfirmBox
    video_a: gr.Video
    video_b: gr.Video


@dataclass
class Page:
    session: gr.State
    notice: gr.Markdown
    tabs: gr.Tabs
    analysed: gr.Column  # steps 3-5's results: dimmed when the inputs no longer match them
    portrait: PortraitPanel
    face_moves: FaceMovesPanel
    speech: SpeechPanel
    analysis: AnalysisPanel
    segments: SegmentsPanel
    scene: ScenePanel
    style: StylePanel
    render: RenderPanel
    library: LibraryPanel

    @property
    def analysis_outputs(self) -> list:
        """What shows an analysis, in the order StudioHandlers.show_analysis returns it."""
        return [self.speech.analysis_note, self.segments.rows, self.analysis.timeline,
                self.analysis.signals, self.analysis.transcript, self.scene.text, self.scene.cues,
                self.analysed]


EditSegment = Callable[[int, str], Callable]


def build_page(controller: StudioController, edit_segment: EditSegment) -> Page:
    """The whole page. `edit_segment(index, field)` gives the handler for one control of the
    segment editor, whose controls are made anew each time the segments change."""
    session = gr.State(None)
    gr.Markdown("# SynchroRaMa Studio\nA portrait and a speech recording become a lip-synced, "
                "emotion-aware talking-face video. Work top to bottom: **1** portrait, **2** "
                "speech, **3** analyze, **4–6** adjust, **7** render and download.")
    notice = gr.Markdown(visible=False, elem_id="notice")
    with gr.Tabs() as tabs:
        with gr.Tab("Create", id="create"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=320):
                    portrait = _portrait_panel()
                with gr.Column(scale=1, min_width=320):
                    speech = _speech_panel()
            face_moves = _face_moves_panel()
            with gr.Column(elem_classes=["analysis"], elem_id="analysis") as analysed:
                analysis = _analysis_panel()
                segments = _segments_panel()

                @gr.render(inputs=[segments.rows], triggers=[segments.rows.change])
                def segment_editor(rows):
                    # Runs after the page is built, when `scene` (made below) exists.
                    shows = [analysis.timeline, analysis.signals, scene.text, scene.cues]
                    _segment_editor(rows, edit_segment, session, shows)

                scene = _scene_panel()
            style = _style_panel(controller, portrait.framing)
            render = _render_panel()
        library = _library_panel()
    return Page(session, notice, tabs, analysed, portrait, face_moves, speech, analysis,
                segments, scene, style, render, library)


def _portrait_panel() -> PortraitPanel:
    gr.Markdown("### 1 · Portrait", elem_classes="step-title")
    image = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"],
                     label="Portrait photo (one face, looking at the camera)", height=300,
                     elem_id="portrait")
    framing = gr.Radio(["full", "crop"], value="full", label="Framing",
                       info="full: your whole photo · crop: a square close-up")
    # A file path when read back: the expression preview only asks whether a face was found.
    preview = gr.Image(label="Detected face (green) and video frame (amber)", interactive=False,
                       height=220, elem_id="face-preview", type="filepath")
    note = gr.Markdown(elem_id="face-note")
    return PortraitPanel(image, framing, preview, note)


def _face_moves_panel() -> FaceMovesPanel:
    # Full width under steps 1 and 2: eight faces side by side stay large enough to compare.
    # Hidden until a portrait with a face is uploaded.
    grid = gr.Image(label="How this face will move: each emotion at half and full intensity, "
                          "then the main mouth shapes", interactive=False, visible=False,
                    format="png", elem_id="face-moves")
    note = gr.Markdown(elem_id="face-moves-note")
    return FaceMovesPanel(grid, note)


def _speech_panel() -> SpeechPanel:
    gr.Markdown("### 2 · Speech", elem_classes="step-title")
    audio = gr.Audio(type="filepath", sources=["upload", "microphone"],
                     label="Speech recording (wav, mp3, m4a, ogg, webm, flac)", elem_id="audio")
    audio_note = gr.Markdown(elem_id="audio-note")
    script = gr.Textbox(label="Script (optional: what is said; sharpens lip sync)", lines=3,
                        elem_id="script")
    analyze = gr.Button("3 · Analyze speech and emotion", variant="primary", elem_id="analyze-btn")
    analysis_note = gr.Markdown(elem_id="analysis-note")
    return SpeechPanel(audio, audio_note, script, analyze, analysis_note)


def _analysis_panel() -> AnalysisPanel:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            timeline = gr.Plot(label="Emotion timeline: valence, arousal and category per "
                                     "segment", elem_id="timeline")
        with gr.Column(scale=2):
            with gr.Tab("Signals"):
                signals = gr.Dataframe(
                    headers=["segment", "text", "voice", "voice V/A", "fused"],
                    # Fixed shares of the column: at laptop width the table fits instead of
                    # scrolling sideways (the cells wrap).
                    column_widths=["19%", "22%", "22%", "18%", "19%"],
                    interactive=False, wrap=True, max_height=300,
                    label="What each signal said (and its confidence)", elem_id="signals")
            with gr.Tab("Transcript"):
                transcript = gr.Dataframe(headers=["word", "start (s)", "end (s)"],
                                          interactive=False, max_height=300,
                                          label="Words with their timing")
    return AnalysisPanel(timeline, signals, transcript)


def _segments_panel() -> SegmentsPanel:
    rows = gr.State([])
    gr.Markdown("### 4 · Emotion per segment", elem_classes="step-title")
    with gr.Row():
        gr.Markdown("Set a segment's category, intensity, valence or arousal; **auto** keeps "
                    "what was detected.")
        reset = gr.Button("Reset all to detected", size="sm", scale=0, elem_id="reset-btn")
    return SegmentsPanel(rows, reset)


def _segment_editor(rows: list[dict], edit_segment: EditSegment, session: gr.State,
                    shows: list) -> None:
    """One row of controls per segment. An edit shows its effect (timeline, signals, the
    template scene rewritten) and the values the render will use on the row's own sliders."""
    if not rows:
        gr.Markdown("*Analyze the speech to list its segments here.*")
        return
    for row in rows:
        i = row["index"]
        with gr.Row(elem_classes="segment-row", equal_height=True):
            gr.Markdown(f"**{row['start']:.1f}–{row['end']:.1f} s** · "
                        f"{row['text'] or '(no words)'}"
                        f"  \n*detected: {row['detected']}*", scale=3)
            label = gr.Dropdown(LABEL_CHOICES, value=row["label"], label="Category", scale=1,
                                min_width=120, key=f"label-{i}", elem_id=f"label-{i}",
                                interactive=True)
            sliders = {
                field: gr.Slider(lo, 1, value=row[field], step=0.05, label=field.capitalize(),
                                 scale=1, min_width=120, key=f"{field[:3]}-{i}",
                                 elem_id=f"{field}-{i}")
                for field, lo in (("intensity", 0), ("valence", -1), ("arousal", -1))}
        outputs = [*shows, *sliders.values()]
        # An edit takes a fraction of a second: no progress overlays flashing over the slider
        # just dragged. A dropdown's `input` fires twice for one choice; `select` once.
        label.select(edit_segment(i, "label"), [label, session], outputs,
                     show_progress="hidden", api_visibility="private")
        for field, slider in sliders.items():
            slider.release(edit_segment(i, field), [slider, session], outputs,
                           show_progress="hidden", api_visibility="private")


def _scene_panel() -> ScenePanel:
    with gr.Accordion("5 · Scene description (what the speaker does)", open=True):
        gr.Markdown("An LLM (any OpenAI-compatible endpoint) or the offline template writes it; "
                    "edit it freely. Cues it names (nod, shake, smile, look down, keep still, …) "
                    "steer the motion; anchor them with times (`[2.0–3.5 s]`, `at 4 s`) or words "
                    "(`when she says \"never\"`).")
        with gr.Row():
            llm_url = gr.Textbox(label="LLM base URL (empty: offline template)",
                                 placeholder="http://127.0.0.1:8080/v1", scale=2)
            llm_model = gr.Textbox(label="Model", placeholder="gpt-4o-mini", scale=1)
            llm_key = gr.Textbox(label="API key (this session only; default: OPENAI_API_KEY)",
                                 type="password", scale=1)
            generate = gr.Button("Generate", scale=0, min_width=120)
        text = gr.Textbox(label="Scene description (editable)", lines=5, elem_id="scene-text")
        cues = gr.Dataframe(headers=["cue", "start (s)", "end (s)", "strength"],
                            interactive=False, label="Cues read from the text", max_height=200,
                            elem_id="cues")
    return ScenePanel(llm_url, llm_model, llm_key, generate, text, cues)


def _style_panel(controller: StudioController, framing: gr.Radio) -> StylePanel:
    default = Style.of_preset("natural")
    presets = controller.preset_choices()
    can_diffuse, diffusion_note = controller.diffusion_status()
    unavailable = [p.name for p in presets if not p.available]
    with gr.Accordion("6 · Style", open=False):
        with gr.Row():
            preset = gr.Dropdown(
                [(p.label, p.name) for p in presets], value=default.preset, label="Preset",
                info=next(p.description for p in presets if p.name == default.preset),
                elem_id="preset")
            renderer = gr.Dropdown(
                [("CPU (fast, always available)", "cpu")]
                + ([("Diffusion (GPU, photoreal)", "diffusion")] if can_diffuse else []),
                value="cpu", label="Renderer", info=diffusion_note, elem_id="renderer")
            seed = gr.Number(0, precision=0, label="Seed (same seed, same video)")
        if unavailable:
            gr.Markdown(f"*{', '.join(unavailable)}: unavailable on this computer. "
                        f"{presets[[p.name for p in presets].index(unavailable[0])].why_not}*",
                        elem_id="preset-note")
        with gr.Row():
            head = gr.Slider(0, 2, value=default.head_motion, step=0.05, label="Head motion",
                             elem_id="head-motion")
            blink = gr.Slider(0, 40, value=default.blink_rate, step=1, label="Blinks per minute",
                              elem_id="blinks")
            expression = gr.Slider(0, 1.5, value=default.expression_strength, step=0.05,
                                   label="Expression strength", elem_id="expression")
        with gr.Row():
            size = gr.Dropdown(SIZES, value=default.size, label="Size (longer side, px)")
            fps = gr.Dropdown([24, 25, 30], value=int(default.fps), label="Frames per second")
    return StylePanel(preset, gr.State(default.preset), renderer, seed, head, blink, expression,
                      size, fps, framing)


def _render_panel() -> RenderPanel:
    gr.Markdown("### 7 · Render", elem_classes="step-title")
    with gr.Row():
        start = gr.Button("Render video", variant="primary", elem_id="render-btn", scale=3)
        cancel = gr.Button("Cancel", variant="stop", scale=1, elem_id="cancel-btn")
    note = gr.Markdown(elem_id="render-note")
    with gr.Row(equal_height=False):
        video = gr.Video(label="Preview", elem_id="preview", height=420, scale=3)
        downloads = gr.File(label="Downloads: MP4, project (JSON), motion (CSV)",
                            file_count="multiple", elem_id="downloads", scale=2)
    return RenderPanel(start, cancel, note, video, downloads)


def _library_panel() -> LibraryPanel:
    with gr.Tab("Library", id="library") as tab:
        gr.Markdown("Every render is kept as a take of its project, with its settings and edits. "
                    "Open a project to continue where you left off.")
        with gr.Row():
            projects = gr.Dropdown(label="Project (its takes are listed below)", choices=[],
                                   scale=3, elem_id="projects")
            open_ = gr.Button("Open in the editor", scale=1, elem_id="open-btn")
            delete_project = gr.Button("Delete project…", variant="stop", scale=1,
                                       elem_id="delete-project-btn")
        confirm = _confirm_box()
        gallery = gr.Gallery(label="Takes (click one to watch it as take A)", columns=6,
                             height=240, allow_preview=False, fit_columns=False,
                             object_fit="contain", elem_id="takes", interactive=False)
        with gr.Row():
            take_a = gr.Dropdown(label="Compare: take A", choices=[], elem_id="take-a")
            take_b = gr.Dropdown(label="take B", choices=[], elem_id="take-b")
            delete_take = gr.Button("Delete take A…", variant="stop", scale=0,
                                    elem_id="delete-take-btn")
        with gr.Row():
            video_a = gr.Video(label="Take A", height=360, elem_id="video-a")
            video_b = gr.Video(label="Take B", height=360, elem_id="video-b")
    return LibraryPanel(tab, projects, open_, delete_project, gallery, gr.State([]), take_a,
                        take_b, delete_take, confirm, video_a, video_b)


def _confirm_box() -> ConfirmBox:
    with gr.Group(visible=False, elem_id="confirm") as box:
        question = gr.Markdown()
        with gr.Row():
            yes = gr.Button("Yes, delete", variant="stop", elem_id="confirm-yes")
            no = gr.Button("Keep it", elem_id="confirm-no")
    return ConfirmBox(box, question, yes, no, gr.State(None))
