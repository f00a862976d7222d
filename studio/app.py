"""The Gradio studio: one page from upload to export, plus the library.

`build_ui(controller)` returns the Blocks without launching; `launch_studio()` launches it on
127.0.0.1 with the queue and upload limits, serving no file of the studio's data folder (pages get
copies, see outbox.py). UI code only: every action is a `StudioController` call
(controller.py); the page's layout is in panels.py.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
from pathlib import Path

import gradio as gr

from pipelines.errors import RenderInterrupted, StudioError
from pipelines.pipeline import STAGES

from .access import LOGIN_VARIABLE, Login, login_for
from .controller import Inputs, Session, StudioController, Style
from .panels import CSS, Page, build_page
from .views import (analysis_note, counted, cue_rows, library_choices, scene_box_text,
                    segment_rows, signal_rows, timeline_figure, transcript_rows)

MAX_UPLOAD = "200mb"
log = logging.getLogger("synchrorama.studio")


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "synchrorama-studio"


# ------------------------------------------------------------------------------ messages
def user_message(err: BaseException) -> str:
    """What the page says about a failure: the one place errors become words."""
    if isinstance(err, RenderInterrupted):
        return "Cancelled; nothing was saved."
    if isinstance(err, StudioError):
        return str(err)
    return ("Something unexpected went wrong (the details are in the terminal that runs the "
            "studio). Your inputs and edits are kept: try again.")


def shows_errors(fn):
    """Lets a handler's failure reach the page as a message a creator can act on."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except StudioError as e:
            raise gr.Error(user_message(e), print_exception=False) from None
        except Exception as e:
            log.exception("studio handler %s failed", fn.__name__)
            raise gr.Error(user_message(e), print_exception=False) from None
    return wrapper


def _progress(progress: gr.Progress):
    def report(stage: str, fraction: float) -> None:
        i = STAGES.index(stage) if stage in STAGES else len(STAGES) - 1
        progress((i + max(0.0, min(fraction, 1.0))) / len(STAGES), desc=f"{stage}…")
    return report


# ------------------------------------------------------------------------------ handlers
def segment_edit(c: StudioController, index: int, field: str):
    """The handler of one segment control: sets that field of that segment. A new category
    brings its own intensity, valence and arousal, so the row's sliders show what the render
    will use; a template scene is rewritten for the new emotion."""
    @shows_errors
    def edit(value, sess: Session | None):
        changes = {"label": None, "intensity": None, "valence": None, "arousal": None, field: value}
        project = c.edit_segment(sess, index, **changes)
        row = segment_rows(project)[index]
        return (timeline_figure(project), signal_rows(project), scene_box_text(project),
                cue_rows(project), row["intensity"], row["valence"], row["arousal"])
    return edit


class StudioHandlers:
    """What each control does. UI values in, pipeline calls through the controller, views out."""

    def __init__(self, controller: StudioController, page: Page):
        self.c = controller
        self.page = page

    def session(self, sess: Session | None) -> Session:
        return sess if sess is not None else self.c.new_session()

    # ---------------------------------------------------------------- reading the page
    def style_of(self, values: dict) -> Style:
        return self.page.style.read(values)

    def inputs_of(self, values: dict) -> Inputs:
        p = self.page
        return Inputs(values[p.portrait.image], values[p.speech.audio],
                      values[p.speech.script] or "")

    # ---------------------------------------------------------------- steps 1 and 2
    def portrait_changed(self, values: dict):
        p = self.page
        sess = self.session(values[p.session])
        path = values[p.portrait.image]
        if not path:
            return sess, None, ""
        try:
            preview, note = self.c.inspect_portrait(sess, path, self.style_of(values))
        except StudioError as e:
            gr.Warning(user_message(e))
            return sess, None, f"**Problem:** {user_message(e)}"
        return sess, preview, f"**Face found.** {note}"

    def face_moves_shown(self, values: dict):
        """The uploaded face under every emotion and mouth shape, once step 1 has found it. A
        failure here says so under the grid and changes nothing else: Analyze and Render never
        depend on this picture."""
        p = self.page
        path, face_found = values[p.portrait.image], values[p.portrait.preview]
        hidden = gr.update(value=None, visible=False)
        if not path or not face_found:
            return hidden, ""  # step 1's own note says what is wrong with the photo
        try:
            preview = self.c.expression_preview(path, self.style_of(values))
        except Exception as e:  # any failure becomes a line on the page, not a traceback
            if not isinstance(e, StudioError):
                log.exception("the expression preview failed")
            return hidden, f"**No expression preview:** {user_message(e)}"
        return gr.update(value=preview.grid, visible=True), ""

    def audio_changed(self, path: str | None) -> str:
        if not path:
            return ""
        try:
            return f"**Speech loaded:** {self.c.inspect_audio(path)}"
        except StudioError as e:
            gr.Warning(user_message(e))
            return f"**Problem:** {user_message(e)}"

    def inputs_changed(self, values: dict):
        """Marks the analysis out of date (visibly) when the page's inputs no longer match it."""
        p = self.page
        sess = values[p.session]
        reason = self.c.stale_reason(sess, self.inputs_of(values))
        if reason is None:
            analysed = sess is not None and sess.project is not None and sess.project.emotion
            return (gr.update(elem_classes=["analysis"]),
                    analysis_note(sess.project) if analysed else gr.skip())
        return (gr.update(elem_classes=["analysis", "stale"]),
                f"**Out of date.** {reason} Press **Analyze** again before rendering.")

    # ---------------------------------------------------------------- step 3
    @shows_errors
    def analyze_clicked(self, values: dict, progress=gr.Progress()):
        sess = self.session(values[self.page.session])
        _, news = self.c.analyze(sess, self.inputs_of(values), self.style_of(values),
                                 _progress(progress))
        for note in news:
            gr.Warning(note)
        return sess, gr.skip()  # the note says "Analyzed" with the results (show_analysis)

    def show_analysis(self, sess: Session):
        project = sess.project
        return (analysis_note(project), segment_rows(project), timeline_figure(project),
                signal_rows(project),
                transcript_rows(project), scene_box_text(project), cue_rows(project),
                gr.update(elem_classes=["analysis"]))

    # ---------------------------------------------------------------- steps 4 and 5
    @shows_errors
    def reset_emotions(self, sess: Session):
        self.c.reset_emotions(sess)
        return self.show_analysis(sess)

    def scene_edited(self, text: str, sess: Session | None):
        if sess is None or sess.project is None or sess.project.emotion is None:
            return []
        if sess.project.scene is not None and text == sess.project.scene.text:
            return cue_rows(sess.project)
        return cue_rows(self.c.set_scene_text(sess, text))

    @shows_errors
    def generate_scene(self, url: str, model: str, key: str, sess: Session | None):
        project, warnings = self.c.generate_scene(sess, url, model, key)
        for w in warnings:
            gr.Warning(w)
        return project.scene.text, cue_rows(project)

    # ---------------------------------------------------------------- step 6
    def preset_chosen(self, values: dict):
        """Moves the sliders to the chosen preset's values; a preset this computer cannot run
        is refused, saying why, and the previous one stays."""
        p = self.page.style
        name, previous = values[p.preset], values[p.last_preset]
        choice = next((c for c in self.c.preset_choices() if c.name == name), None)
        if choice is None or not choice.available:
            gr.Warning(f"The {name} preset cannot run here. {choice.why_not if choice else ''}")
            return previous, gr.skip(), gr.skip(), gr.skip(), gr.skip(), previous
        style = Style.of_preset(name, keep=self.style_of(values))
        return (gr.update(value=name, info=choice.description), style.head_motion,
                style.blink_rate, style.expression_strength, style.renderer, name)

    # ---------------------------------------------------------------- step 7
    @shows_errors
    def render_clicked(self, values: dict, request: gr.Request, progress=gr.Progress()):
        p = self.page
        sess = values[p.session]
        scene_text = values[p.scene.text]
        project = sess.project if sess is not None else None
        # The scene box may hold an edit whose blur event has not run yet.
        if (project is not None and project.scene is not None and scene_text is not None
                and scene_text != project.scene.text):
            self.c.set_scene_text(sess, scene_text)
        take = self.c.render(sess, self.style_of(values), _progress(progress),
                             inputs=self.inputs_of(values), page=request.session_hash or "")
        files = self.c.take_downloads(take)
        note = f"**Take {take.number} is ready** ({take.label}). It is also in the Library."
        return note, str(files[0]), [str(f) for f in files]

    def cancel_clicked(self, sess: Session | None):
        what = self.c.cancel(sess)
        if what == "render":
            gr.Info("Render cancelled; nothing was saved.")
            return "**Render cancelled;** nothing was saved.", None, None, gr.skip()
        if what == "analysis":
            gr.Info("Analysis cancelled.")
            return (gr.skip(), gr.skip(), gr.skip(),
                    "**Analysis cancelled.** Press Analyze to start again.")
        return "Nothing is running.", gr.skip(), gr.skip(), gr.skip()

    # ---------------------------------------------------------------- the page itself
    def page_opened(self):
        notes = self.c.notices_for_new_page()
        return gr.update(value="\n\n".join(notes), visible=bool(notes))

    def page_closed(self, request: gr.Request):
        if request is not None and request.session_hash:
            self.c.page_left(request.session_hash)

    # ---------------------------------------------------------------- library
    def library_view(self, project_id: str | None = None):
        projects, selected, takes = library_choices(self.c.library, project_id)
        shown = [t for t in takes if t.thumbnail.exists()]
        thumbs = self.c.outbox.publish([(t.thumbnail, f"{t.file_stem}.png") for t in shown])
        pics = [(str(path), t.title) for path, t in zip(thumbs, shown)]
        ids = [t.id for t in shown]
        take_choices = gr.update(choices=[(t.title, t.id) for t in takes], value=None)
        return (gr.update(choices=projects, value=selected), pics, ids, take_choices, take_choices,
                None, None)

    def take_video(self, take_id: str | None):
        take = self.c.library.take(take_id) if take_id else None
        if take is None:
            return None
        return self.c.outbox.one(take.video, f"{take.file_stem}.mp4")

    def gallery_selected(self, ids: list[str], evt: gr.SelectData):
        if evt.index is None or not 0 <= evt.index < len(ids):
            return gr.skip()
        return ids[evt.index]

    @shows_errors
    def open_clicked(self, project_id: str | None, sess: Session | None):
        sess = self.session(sess)
        project = self.c.open_project(sess, project_id)
        portrait = self.c.outbox.one(Path(project.portrait.path))
        audio = self.c.outbox.one(Path(project.audio.path))
        gr.Info("Project opened in the Create tab.")
        return (sess, gr.update(selected="create"), portrait, audio, project.script or "",
                *self.page.style.show(Style.of_project(project)), *self.show_analysis(sess))

    def ask_to_delete(self, kind: str, item_id: str | None):
        if not item_id:
            gr.Warning(f"Choose a {kind} first.")
            return gr.skip(), gr.skip(), gr.skip()
        if kind == "project":
            entry = self.c.library.project(item_id)
            what = (f"Delete the project **{entry.name}** and its "
                    f"{counted(entry.takes, 'take')}?") if entry else None
        else:
            take = self.c.library.take(item_id)
            what = f"Delete **take {take.number}** of {take.project_name}?" if take else None
        if what is None:
            gr.Warning(f"That {kind} is no longer in the library.")
            return gr.skip(), gr.skip(), gr.skip()
        return (gr.update(visible=True), f"{what} This cannot be undone.", (kind, item_id))

    def confirm_delete(self, pending, project_id: str | None):
        if pending:
            kind, item_id = pending
            if kind == "project":
                self.c.library.delete_project(item_id)
                project_id = None if item_id == project_id else project_id
            else:
                self.c.library.delete_take(item_id)
            gr.Info(f"The {kind} was deleted.")
        return (gr.update(visible=False), None, *self.library_view(project_id))

    # ---------------------------------------------------------------- scripts (gradio_client)
    @shows_errors
    def api_render(self, portrait: str, audio: str, transcript: str = "", emotion: str = "auto",
                   progress=gr.Progress()) -> str:
        """Portrait + recording [+ what is said, + one emotion for the whole clip] -> MP4."""
        sess = self.c.new_session()
        style = Style()
        self.c.analyze(sess, Inputs(portrait, audio, transcript or ""), style, _progress(progress))
        self.c.set_emotion_all(sess, (emotion or "auto").strip().lower())
        take = self.c.render(sess, style, _progress(progress))
        return str(self.c.take_downloads(take)[0])

    @shows_errors
    def api_analyze(self, portrait: str, audio: str, script: str = "", style: dict | None = None,
                    sess: Session | None = None, progress=gr.Progress()):
        sess = self.session(sess)
        project, _ = self.c.analyze(sess, Inputs(portrait, audio, script or ""),
                                    Style.from_dict(style), _progress(progress))
        return sess, analysis_note(project)

    @shows_errors
    def api_render_take(self, style: dict | None = None, sess: Session | None = None,
                        progress=gr.Progress()):
        take = self.c.render(sess, Style.from_dict(style), _progress(progress))
        files = [str(f) for f in self.c.take_downloads(take)]
        return files[0], files

    @shows_errors
    def api_edit_segment(self, index: float, label: str = "", intensity: float | None = None,
                         valence: float | None = None, arousal: float | None = None,
                         sess: Session | None = None):
        project = self.c.edit_segment(sess, int(index), label or None,
                                      None if intensity is None or intensity < 0 else intensity,
                                      valence, arousal)
        return signal_rows(project)

    @shows_errors
    def api_set_scene(self, text: str, sess: Session | None = None):
        return cue_rows(self.c.set_scene_text(sess, text))

    @shows_errors
    def api_library(self):
        return [{"id": p.id, "name": p.name, "takes": p.takes} for p in self.c.library.projects()]

    @shows_errors
    def api_open_project(self, project_id: str, sess: Session | None = None):
        sess = self.session(sess)
        project = self.c.open_project(sess, project_id)
        return sess, {"script": project.script or "",
                      "style": dataclasses.asdict(Style.of_project(project)),
                      "segments": len(project.emotion.segments) if project.emotion else 0}

    def api_cancel(self, sess: Session | None = None) -> str:
        return self.c.cancel(sess) or "nothing"


# ------------------------------------------------------------------------------ wiring
def build_ui(controller: StudioController) -> gr.Blocks:
    with gr.Blocks(title="SynchroRaMa Studio", fill_width=True) as demo:
        page = build_page(controller, functools.partial(segment_edit, controller))
        h = StudioHandlers(controller, page)
        _wire_inputs(h, page)
        analyze_event = _wire_analysis(h, page)
        _wire_editing(h, page)
        _wire_style(h, page)
        _wire_render(h, page, analyze_event)
        _wire_library(h, page)
        _wire_scripts(h, page)
        demo.load(h.page_opened, None, page.notice, api_visibility="private")
        demo.unload(h.page_closed)
    return demo


def _wire_inputs(h: StudioHandlers, page: Page) -> None:
    p = page.portrait
    looked_at = {p.image, p.framing, page.session, *page.style.widgets}
    face_found = p.image.change(h.portrait_changed, looked_at, [page.session, p.preview, p.note],
                                concurrency_id="heavy", api_visibility="private")
    p.framing.change(h.portrait_changed, looked_at, [page.session, p.preview, p.note],
                     concurrency_id="heavy", api_visibility="private")
    # After the face check, as its own event: the detected face shows at once, and a failed
    # preview leaves steps 1-7 as they are. The framing does not change it (always close-ups).
    moves = page.face_moves
    face_found.then(h.face_moves_shown, {p.image, p.preview, *page.style.widgets},
                    [moves.grid, moves.note], concurrency_id="heavy",
                    show_progress_on=[p.note], api_visibility="private")
    page.speech.audio.change(h.audio_changed, [page.speech.audio], [page.speech.audio_note],
                             api_visibility="private")
    on_page = {page.session, p.image, page.speech.audio, page.speech.script}
    for trigger in (p.image.change, page.speech.audio.change, page.speech.script.change):
        trigger(h.inputs_changed, on_page, [page.analysed, page.speech.analysis_note],
                queue=False, show_progress="hidden", api_visibility="private")


def _wire_analysis(h: StudioHandlers, page: Page):
    s = page.speech
    reads = {page.session, page.portrait.image, s.audio, s.script, *page.style.widgets}
    event = s.analyze.click(h.analyze_clicked, reads, [page.session, s.analysis_note],
                            show_progress_on=[s.analysis_note], concurrency_id="heavy",
                            concurrency_limit=1, api_visibility="private")
    event.success(h.show_analysis, [page.session], page.analysis_outputs,
                  api_visibility="private")
    return event


def _wire_editing(h: StudioHandlers, page: Page) -> None:
    page.segments.reset.click(h.reset_emotions, [page.session], page.analysis_outputs,
                              api_visibility="private")
    sc = page.scene
    sc.text.blur(h.scene_edited, [sc.text, page.session], [sc.cues], api_visibility="private")
    sc.generate.click(h.generate_scene, [sc.llm_url, sc.llm_model, sc.llm_key, page.session],
                      [sc.text, sc.cues], api_visibility="private")


def _wire_style(h: StudioHandlers, page: Page) -> None:
    st = page.style
    st.preset.select(h.preset_chosen, {*st.widgets, st.last_preset},
                     [st.preset, st.head, st.blink, st.expression, st.renderer, st.last_preset],
                     api_visibility="private", show_progress="hidden")


def _wire_render(h: StudioHandlers, page: Page, analyze_event) -> None:
    r = page.render
    reads = {page.session, page.portrait.image, page.speech.audio, page.speech.script,
             page.scene.text, *page.style.widgets}
    event = r.start.click(h.render_clicked, reads, [r.note, r.video, r.downloads],
                          concurrency_id="heavy", concurrency_limit=1, api_visibility="private")
    r.cancel.click(h.cancel_clicked, [page.session], [r.note, r.video, r.downloads,
                                              page.speech.analysis_note],
                   cancels=[event, analyze_event], queue=False, api_visibility="private")


def _wire_library(h: StudioHandlers, page: Page) -> None:
    lib = page.library
    refresh_outputs = [lib.projects, lib.gallery, lib.gallery_ids, lib.take_a, lib.take_b,
                       lib.video_a, lib.video_b]
    lib.tab.select(h.library_view, [lib.projects], refresh_outputs, api_visibility="private")
    lib.projects.select(h.library_view, [lib.projects], refresh_outputs, api_visibility="private")
    lib.gallery.select(h.gallery_selected, [lib.gallery_ids], [lib.take_a],
                       api_visibility="private")
    lib.take_a.change(h.take_video, [lib.take_a], [lib.video_a], api_visibility="private")
    lib.take_b.change(h.take_video, [lib.take_b], [lib.video_b], api_visibility="private")
    lib.open.click(h.open_clicked, [lib.projects, page.session],
                   [page.session, page.tabs, page.portrait.image, page.speech.audio,
                    page.speech.script, *page.style.outputs, *page.analysis_outputs],
                   api_visibility="private")
    confirm = lib.confirm
    lib.delete_project.click(functools.partial(h.ask_to_delete, "project"), [lib.projects],
                             [confirm.box, confirm.question, confirm.pending],
                             api_visibility="private")
    lib.delete_take.click(functools.partial(h.ask_to_delete, "take"), [lib.take_a],
                          [confirm.box, confirm.question, confirm.pending],
                          api_visibility="private")
    confirm.yes.click(h.confirm_delete, [confirm.pending, lib.projects],
                      [confirm.box, confirm.pending, *refresh_outputs], api_visibility="private")
    confirm.no.click(lambda: (gr.update(visible=False), None), None,
                     [confirm.box, confirm.pending], api_visibility="private")


def _wire_scripts(h: StudioHandlers, page: Page) -> None:
    """Endpoints for scripts (gradio_client), with named parameters; hidden from the page."""
    with gr.Row(visible=False):
        portrait, audio = gr.Image(type="filepath"), gr.Audio(type="filepath")
        text, emotion = gr.Textbox(), gr.Textbox(value="auto")
        style, result = gr.JSON(), gr.JSON()
        video, files, note = gr.Video(), gr.File(file_count="multiple"), gr.Markdown()
        index, label = gr.Number(precision=0), gr.Textbox()
        intensity, valence, arousal = gr.Number(), gr.Number(), gr.Number()
        rows, button = gr.JSON(), gr.Button()
    s = page.session
    button.click(h.api_render, [portrait, audio, text, emotion], [video], api_name="render",
                 concurrency_id="heavy", concurrency_limit=1)
    button.click(h.api_analyze, [portrait, audio, text, style, s], [s, note], api_name="analyze",
                 concurrency_id="heavy", concurrency_limit=1)
    button.click(h.api_render_take, [style, s], [video, files], api_name="render_take",
                 concurrency_id="heavy", concurrency_limit=1)
    button.click(h.api_edit_segment, [index, label, intensity, valence, arousal, s], [rows],
                 api_name="edit_segment")
    button.click(h.api_set_scene, [text, s], [rows], api_name="set_scene")
    button.click(h.api_library, None, [result], api_name="library")
    button.click(h.api_open_project, [text, s], [s, result], api_name="open_project")
    button.click(h.api_cancel, [s], [note], api_name="cancel", queue=False)


# ------------------------------------------------------------------------------ launching
def launch_studio(host: str = "127.0.0.1", port: int = 7860, share: bool = False,
                  data_dir: str | Path | None = None, block: bool = True,
                  login: Login | None = None):
    """Builds and launches the studio; returns (demo, url). With `share` (a public link) a
    login is required: `login`, or one from the environment or the terminal (access.py)."""
    data = Path(data_dir) if data_dir else default_data_dir()
    login = login or login_for(share)
    controller = StudioController(data)
    demo = build_ui(controller)
    demo.queue(default_concurrency_limit=1, max_size=32)
    _, url, share_url = demo.launch(
        server_name=host, server_port=port, share=share,
        # The data folder (library database, every project's media and takes) is never served;
        # pages get copies of just the files they show (outbox.py).
        blocked_paths=[str(controller.data_dir)], max_file_size=MAX_UPLOAD,
        auth=login.check if login else None, auth_message="SynchroRaMa Studio: please log in.",
        prevent_thread_lock=True, quiet=True, inbrowser=False, css=CSS,
        theme=gr.themes.Soft(), footer_links=[])
    print(f"SynchroRaMa Studio is running at {url} (data in {controller.data_dir}); "
          "press Ctrl+C to stop.", flush=True)
    if share_url:
        print(f"Public link: {share_url} (anyone with it can reach the studio after logging in "
              f"as '{login.user}')", flush=True)
    elif login:
        print(f"Login required (user '{login.user}', from {LOGIN_VARIABLE} or the terminal).",
              flush=True)
    if block:
        try:
            demo.block_thread()
        except KeyboardInterrupt:
            pass
        finally:
            controller.close()
    return demo, url


__all__ = ["build_ui", "launch_studio", "default_data_dir", "user_message"]
