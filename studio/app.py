"""The Gradio studio: one page from upload to export, plus the library.

`build_ui(controller)` returns the Blocks without launching; `launch_studio()` launches it on
127.0.0.1 with the queue, upload limits and the served folders restricted to the studio's data
folder. UI code only: every action is a `StudioController` call (controller.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from pipelines.errors import RenderInterrupted, StudioError
from pipelines.pipeline import STAGES
from pipelines.settings import list_presets, load_preset
from pipelines.types import EMOTIONS

from .controller import Session, StudioController, Style
from .views import (cue_rows, scene_box_text, segment_rows, signal_rows, timeline_figure,
                    transcript_rows)

MAX_UPLOAD = "200mb"
LABEL_CHOICES = ["auto", *EMOTIONS]
CSS = """
.step-title h3 {margin-bottom: 0.2em}
#render-btn {min-height: 3em}
.segment-row {border-top: 1px solid var(--border-color-primary); padding-top: 0.4em}
"""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "synchrorama-studio"


def _progress_callback(progress: gr.Progress):
    def report(stage: str, fraction: float) -> None:
        i = STAGES.index(stage) if stage in STAGES else len(STAGES) - 1
        progress((i + max(0.0, min(fraction, 1.0))) / len(STAGES), desc=f"{stage}…")
    return report


def build_ui(controller: StudioController) -> gr.Blocks:
    c = controller

    def ensure(sess: Session | None) -> Session:
        return sess if sess is not None else c.new_session()

    def style_of(preset, head, blink, expr, seed, size, fps, framing, renderer) -> Style:
        return Style(preset=preset, head_motion=head, blink_rate=blink, expression_strength=expr,
                     seed=int(seed or 0), size=int(size), fps=float(fps), framing=framing,
                     renderer=renderer or "cpu")

    with gr.Blocks(title="SynchroRaMa Studio", fill_width=True) as demo:
        session = gr.State(None)
        segments = gr.State([])  # detected segments; the editor below is rebuilt when it changes
        gr.Markdown("# SynchroRaMa Studio\nA portrait and a speech recording become a lip-synced, "
                    "emotion-aware talking-face video. Work top to bottom: **1** portrait, **2** "
                    "speech, **3** analyze, **4–6** adjust, **7** render and download.")
        with gr.Tab("Create"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=320):
                    gr.Markdown("### 1 · Portrait", elem_classes="step-title")
                    portrait = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"],
                                        label="Portrait photo (one face, looking at the camera)",
                                        height=300, elem_id="portrait")
                    framing = gr.Radio(["full", "crop"], value="full", label="Framing",
                                       info="full: your whole photo · crop: a square close-up")
                    face_preview = gr.Image(label="Detected face (green) and video frame (amber)",
                                            interactive=False, height=220, elem_id="face-preview")
                    face_note = gr.Markdown(elem_id="face-note")
                with gr.Column(scale=1, min_width=320):
                    gr.Markdown("### 2 · Speech", elem_classes="step-title")
                    audio = gr.Audio(type="filepath", sources=["upload", "microphone"],
                                     label="Speech recording (wav, mp3, m4a, ogg, webm, flac)",
                                     elem_id="audio")
                    audio_note = gr.Markdown(elem_id="audio-note")
                    script = gr.Textbox(label="Script (optional: what is said; sharpens lip sync)",
                                        lines=3, elem_id="script")
                    analyze_btn = gr.Button("3 · Analyze speech and emotion", variant="primary",
                                            elem_id="analyze-btn")
                    analysis_note = gr.Markdown(elem_id="analysis-note")
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    timeline = gr.Plot(label="Emotion timeline: valence, arousal and category per "
                                             "segment", elem_id="timeline")
                with gr.Column(scale=2):
                    with gr.Tab("Signals"):
                        signals = gr.Dataframe(
                            headers=["segment", "text", "voice", "voice V/A", "fused"],
                            # Fixed shares of the column: at laptop width the table fits
                            # instead of scrolling sideways (the cells wrap).
                            column_widths=["19%", "22%", "22%", "18%", "19%"],
                            interactive=False, wrap=True, max_height=300,
                            label="What each signal said (and its confidence)")
                    with gr.Tab("Transcript"):
                        transcript = gr.Dataframe(headers=["word", "start (s)", "end (s)"],
                                                  interactive=False, max_height=300,
                                                  label="Words with their timing")

            gr.Markdown("### 4 · Emotion per segment", elem_classes="step-title")
            with gr.Row():
                gr.Markdown("Set a segment's category, intensity, valence or arousal; **auto** "
                            "keeps what was detected.")
                reset_btn = gr.Button("Reset all to detected", size="sm", scale=0,
                                      elem_id="reset-btn")

            @gr.render(inputs=[segments], triggers=[segments.change])
            def segment_editor(rows):
                if not rows:
                    gr.Markdown("*Analyze the speech to list its segments here.*")
                    return
                for row in rows:
                    i = row["index"]
                    with gr.Row(elem_classes="segment-row", equal_height=True):
                        gr.Markdown(f"**{row['start']:.1f}–{row['end']:.1f} s** · "
                                    f"{row['text'] or '(no words)'}  \n*detected: "
                                    f"{row['detected']}*", scale=3)
                        label = gr.Dropdown(LABEL_CHOICES, value=row["label"], label="Category",
                                            scale=1, min_width=120, key=f"label-{i}",
                                            elem_id=f"label-{i}", interactive=True)
                        inten = gr.Slider(0, 1, value=row["intensity"], step=0.05,
                                          label="Intensity", scale=1, min_width=120,
                                          key=f"int-{i}", elem_id=f"intensity-{i}")
                        val = gr.Slider(-1, 1, value=row["valence"], step=0.05, label="Valence",
                                        scale=1, min_width=120, key=f"val-{i}",
                                        elem_id=f"valence-{i}")
                        aro = gr.Slider(-1, 1, value=row["arousal"], step=0.05, label="Arousal",
                                        scale=1, min_width=120, key=f"aro-{i}",
                                        elem_id=f"arousal-{i}")

                    def edit(field, index=i):
                        def fn(value, sess):
                            try:
                                project = c.edit_segment(sess, index, **{
                                    "label": None, "intensity": None, "valence": None,
                                    "arousal": None, field: value})
                            except StudioError as e:
                                raise gr.Error(str(e)) from None
                            # A template scene was rewritten for the new emotion: show it. A
                            # new category also brings its own intensity, valence and arousal:
                            # the sliders show the values the render will use.
                            row = segment_rows(project)[index]
                            return (timeline_figure(project), signal_rows(project),
                                    scene_box_text(project), cue_rows(project),
                                    row["intensity"], row["valence"], row["arousal"])
                        return fn

                    edit_outputs = [timeline, signals, scene_text, cues, inten, val, aro]
                    # An edit takes a fraction of a second: no progress overlays flashing over
                    # the slider just dragged.
                    label.input(edit("label"), [label, session], edit_outputs,
                                show_progress="hidden")
                    for slider, field in ((inten, "intensity"), (val, "valence"), (aro, "arousal")):
                        slider.release(edit(field), [slider, session], edit_outputs,
                                       show_progress="hidden")

            with gr.Accordion("5 · Scene description (what the speaker does)", open=True):
                gr.Markdown("An LLM (any OpenAI-compatible endpoint) or the offline template writes "
                            "it; edit it freely. Cues it names (nod, shake, smile, look down, keep "
                            "still, …) steer the motion; anchor them with times (`[2.0–3.5 s]`, "
                            "`at 4 s`) or words (`when she says \"never\"`).")
                with gr.Row():
                    llm_url = gr.Textbox(label="LLM base URL (empty: offline template)",
                                         placeholder="http://127.0.0.1:8080/v1", scale=2)
                    llm_model = gr.Textbox(label="Model", placeholder="gpt-4o-mini", scale=1)
                    llm_key = gr.Textbox(label="API key (this session only; default: "
                                               "OPENAI_API_KEY)", type="password", scale=1)
                    scene_btn = gr.Button("Generate", scale=0, min_width=120)
                scene_text = gr.Textbox(label="Scene description (editable)", lines=5,
                                        elem_id="scene-text")
                cues = gr.Dataframe(headers=["cue", "start (s)", "end (s)", "strength"],
                                    interactive=False, label="Cues read from the text",
                                    max_height=200)

            with gr.Accordion("6 · Style", open=False):
                with gr.Row():
                    preset = gr.Dropdown(list_presets(), value="natural", label="Preset")
                    can_diffuse, diffusion_note = c.diffusion_status()
                    renderer = gr.Dropdown(
                        [("CPU (fast, always available)", "cpu")]
                        + ([("Diffusion (GPU, photoreal)", "diffusion")] if can_diffuse else []),
                        value="cpu", label="Renderer", info=diffusion_note)
                    seed = gr.Number(0, precision=0, label="Seed (same seed, same video)")
                with gr.Row():
                    head = gr.Slider(0, 2, value=1.0, step=0.05, label="Head motion")
                    blink = gr.Slider(0, 40, value=17, step=1, label="Blinks per minute")
                    expr = gr.Slider(0, 1.5, value=1.0, step=0.05, label="Expression strength")
                with gr.Row():
                    size = gr.Dropdown([256, 384, 512, 720, 1024], value=512,
                                       label="Size (longer side, px)")
                    fps = gr.Dropdown([24, 25, 30], value=25, label="Frames per second")

            gr.Markdown("### 7 · Render", elem_classes="step-title")
            with gr.Row():
                render_btn = gr.Button("Render video", variant="primary", elem_id="render-btn",
                                       scale=3)
                cancel_btn = gr.Button("Cancel", variant="stop", scale=1, elem_id="cancel-btn")
            with gr.Row(equal_height=False):
                video = gr.Video(label="Preview", elem_id="preview", height=420, scale=3)
                downloads = gr.File(label="Downloads: MP4, project (JSON), motion (CSV)",
                                    file_count="multiple", elem_id="downloads", scale=2)

        with gr.Tab("Library") as library_tab:
            gr.Markdown("Every render is kept as a take of its project, with its settings and "
                        "edits. Open a project to continue where you left off.")
            with gr.Row():
                projects = gr.Dropdown(label="Projects", choices=[], scale=3, elem_id="projects",
                                       allow_custom_value=True)  # ids are checked on use
                open_btn = gr.Button("Open in the editor", scale=1)
                delete_project_btn = gr.Button("Delete project", variant="stop", scale=1)
            gallery = gr.Gallery(label="Takes (click one to watch it as take A)", columns=6,
                                 height=240, allow_preview=False, fit_columns=False,
                                 object_fit="contain", elem_id="takes", interactive=False)
            with gr.Row():
                take_a = gr.Dropdown(label="Compare: take A", choices=[], allow_custom_value=True)
                take_b = gr.Dropdown(label="take B", choices=[], allow_custom_value=True)
                delete_take_btn = gr.Button("Delete take A", variant="stop", scale=0)
            with gr.Row():
                video_a = gr.Video(label="Take A", height=360)
                video_b = gr.Video(label="Take B", height=360)

        # A scripting endpoint (gradio_client): portrait + audio [+ transcript, emotion] → MP4.
        with gr.Row(visible=False):
            api_portrait = gr.Image(type="filepath")
            api_audio = gr.Audio(type="filepath")
            api_transcript = gr.Textbox()
            api_emotion = gr.Textbox(value="auto")
            api_video = gr.Video()
            api_btn = gr.Button()

        style_inputs = [preset, head, blink, expr, seed, size, fps, framing, renderer]

        # ------------------------------------------------------------- handlers
        def on_portrait(path, framing_value):
            if not path:
                return None, ""
            try:
                preview, note = c.inspect_portrait(path, Style(framing=framing_value))
            except StudioError as e:
                gr.Warning(str(e))
                return None, f"**Problem:** {e}"
            return preview, f"**Face found.** {note}"

        def on_audio(path):
            if not path:
                return ""
            try:
                return f"**Speech loaded:** {c.inspect_audio(path)}"
            except StudioError as e:
                gr.Warning(str(e))
                return f"**Problem:** {e}"

        def view(project):
            return (segment_rows(project), timeline_figure(project), signal_rows(project),
                    transcript_rows(project), scene_box_text(project), cue_rows(project))

        view_outputs = [segments, timeline, signals, transcript, scene_text, cues]

        def on_analyze(portrait_path, audio_path, script_text, *rest, progress=gr.Progress()):
            *style_values, sess = rest
            sess = ensure(sess)
            try:
                project = c.analyze(sess, portrait_path, audio_path, script_text,
                                    style_of(*style_values), _progress_callback(progress))
            except RenderInterrupted:
                raise gr.Error("Analysis cancelled.") from None
            except StudioError as e:
                raise gr.Error(str(e)) from None
            for w in project.warnings:
                gr.Warning(w)
            tr = project.transcript
            n = len(project.emotion.segments)
            note = (f"**Analyzed:** {n} segment{'' if n == 1 else 's'}, {len(tr.words)} words "
                    f"({'aligned to your script' if tr.source == 'aligned' else tr.source}).")
            return (sess, note, *view(project))

        def on_reset(sess):
            try:
                project = c.reset_emotions(sess)
            except StudioError as e:
                raise gr.Error(str(e)) from None
            return view(project)

        def on_scene_text(text, sess):
            if sess is None or sess.project is None or sess.project.emotion is None:
                return []
            if sess.project.scene is not None and text == sess.project.scene.text:
                return cue_rows(sess.project)
            return cue_rows(c.set_scene_text(sess, text))

        def on_generate(url, model, key, sess):
            try:
                project, warnings = c.generate_scene(sess, url, model, key)
            except StudioError as e:
                raise gr.Error(str(e)) from None
            for w in warnings:
                gr.Warning(w)
            return project.scene.text, cue_rows(project)

        def on_render(*rest, progress=gr.Progress()):
            *style_values, scene_value, sess = rest
            try:
                # The scene box may hold an edit whose blur event has not run yet.
                if (sess is not None and sess.project is not None and sess.project.scene is not None
                        and scene_value is not None and scene_value != sess.project.scene.text):
                    c.set_scene_text(sess, scene_value)
                take = c.render(sess, style_of(*style_values), _progress_callback(progress))
            except RenderInterrupted:
                raise gr.Error("Render cancelled; nothing was saved.") from None
            except StudioError as e:
                raise gr.Error(str(e)) from None
            files = [str(take.video), str(take.project_path), str(take.motion_csv)]
            return (str(take.video), files, *library_view())

        def library_view(selected_project=None):
            plist = c.library.projects()
            choices = [(f"{p.name} ({p.takes} takes)", p.id) for p in plist]
            takes = c.library.takes()
            take_choices = [(t.title, t.id) for t in takes]
            pics = [(str(t.thumbnail), t.title) for t in takes if t.thumbnail.exists()]
            return (gr.update(choices=choices, value=selected_project), pics,
                    gr.update(choices=take_choices), gr.update(choices=take_choices))

        library_outputs = [projects, gallery, take_a, take_b]

        def on_open(project_id, sess):
            sess = ensure(sess)
            try:
                project = c.open_project(sess, project_id)
            except StudioError as e:
                raise gr.Error(str(e)) from None
            s = project.settings
            style = [s.preset, s.motion.head_motion, s.motion.blink_rate_per_min,
                     s.motion.expression_strength, project.seed, s.render.size,
                     int(s.render.fps), s.face.framing, s.render.renderer]
            gr.Info("Project opened in the Create tab.")
            return (sess, project.portrait.path, project.audio.path, project.script or "",
                    *style, *view(project))

        def on_delete_project(project_id):
            if project_id:
                c.library.delete_project(project_id)
            return library_view()

        def on_delete_take(take_id):
            if take_id:
                c.library.delete_take(take_id)
            return (*library_view(), None)

        def on_gallery_select(evt: gr.SelectData):
            with_thumbs = [t for t in c.library.takes() if t.thumbnail.exists()]
            if evt.index is None or not 0 <= evt.index < len(with_thumbs):
                return gr.update(), None
            take = with_thumbs[evt.index]
            return gr.update(value=take.id), str(take.video)

        def take_video(take_id):
            t = c.library.take(take_id) if take_id else None
            return str(t.video) if t is not None else None

        def on_api_render(portrait_path, audio_path, transcript_text, emotion, progress=gr.Progress()):
            sess = c.new_session()
            try:
                style = Style()
                c.analyze(sess, portrait_path, audio_path, transcript_text or "", style,
                          _progress_callback(progress))
                c.set_emotion_all(sess, (emotion or "auto").strip().lower())
                take = c.render(sess, style, _progress_callback(progress))
            except StudioError as e:
                raise gr.Error(str(e)) from None
            return str(take.video)

        # --------------------------------------------------------------- wiring
        portrait.change(on_portrait, [portrait, framing], [face_preview, face_note],
                        concurrency_id="heavy", api_visibility="private")
        framing.change(on_portrait, [portrait, framing], [face_preview, face_note],
                       concurrency_id="heavy", api_visibility="private")
        audio.change(on_audio, [audio], [audio_note], api_visibility="private")
        analyze_btn.click(on_analyze, [portrait, audio, script, *style_inputs, session],
                          [session, analysis_note, *view_outputs], api_name="analyze",
                          concurrency_id="heavy", concurrency_limit=1)
        reset_btn.click(on_reset, [session], view_outputs, api_name="reset_emotions")
        scene_text.blur(on_scene_text, [scene_text, session], [cues], api_name="set_scene")
        scene_btn.click(on_generate, [llm_url, llm_model, llm_key, session], [scene_text, cues],
                        api_visibility="private")
        render_event = render_btn.click(on_render, [*style_inputs, scene_text, session],
                                        [video, downloads, *library_outputs], api_name="render_take",
                                        concurrency_id="heavy", concurrency_limit=1)
        cancel_btn.click(lambda s: c.cancel(s), [session], None, cancels=[render_event],
                         queue=False, api_visibility="private")
        library_tab.select(library_view, None, library_outputs, api_name="library")
        open_btn.click(on_open, [projects, session],
                       [session, portrait, audio, script, *style_inputs, *view_outputs],
                       api_name="open_project")
        delete_project_btn.click(on_delete_project, [projects], library_outputs,
                                 api_visibility="private")
        delete_take_btn.click(on_delete_take, [take_a], [*library_outputs, video_a],
                              api_visibility="private")
        take_a.change(take_video, [take_a], [video_a], api_visibility="private")
        gallery.select(on_gallery_select, None, [take_a, video_a], api_visibility="private")
        take_b.change(take_video, [take_b], [video_b], api_visibility="private")
        api_btn.click(on_api_render, [api_portrait, api_audio, api_transcript, api_emotion],
                      [api_video], api_name="render", concurrency_id="heavy", concurrency_limit=1)

        # A programmatic segment edit, for scripts and tests (the sliders call the same code).
        def api_edit_segment(index, label, intensity, valence, arousal, sess):
            try:
                project = c.edit_segment(sess, int(index), label or None,
                                         None if intensity is None or intensity < 0 else intensity,
                                         valence, arousal)
            except StudioError as e:
                raise gr.Error(str(e)) from None
            return signal_rows(project)

        with gr.Row(visible=False):
            e_index = gr.Number(precision=0)
            e_label = gr.Textbox()
            e_int = gr.Number()
            e_val = gr.Number()
            e_aro = gr.Number()
            e_btn = gr.Button()
        e_btn.click(api_edit_segment, [e_index, e_label, e_int, e_val, e_aro, session], [signals],
                    api_name="edit_segment")
    return demo


def launch_studio(host: str = "127.0.0.1", port: int = 7860, share: bool = False,
                  data_dir: str | Path | None = None, block: bool = True):
    """Builds and launches the studio; returns (demo, url)."""
    data = Path(data_dir) if data_dir else default_data_dir()
    controller = StudioController(data)
    demo = build_ui(controller)
    demo.queue(default_concurrency_limit=1, max_size=32)
    _, url, _ = demo.launch(server_name=host, server_port=port, share=share,
                            allowed_paths=[str(controller.data_dir)], max_file_size=MAX_UPLOAD,
                            prevent_thread_lock=True, quiet=True, inbrowser=False, css=CSS,
                            theme=gr.themes.Soft(), footer_links=[])
    print(f"SynchroRaMa Studio is running at {url} (data in {controller.data_dir}); "
          "press Ctrl+C to stop.", flush=True)
    if block:
        try:
            demo.block_thread()
        except KeyboardInterrupt:
            pass
    return demo, url


__all__ = ["build_ui", "launch_studio", "default_data_dir", "load_preset"]
