"""The studio driven through its public API with gradio_client and plain HTTP, as a script or a
stranger on the network would use it, plus the controller and the project library on their own."""
import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from conftest import ASSETS

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

SMALL = {"size": 256}  # the style panel's values a script changes; the rest keep their defaults
NO_PROGRESS = lambda stage, frac: None  # noqa: E731


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from studio.app import launch_studio

    data = tmp_path_factory.mktemp("studio-data")
    demo, url = launch_studio(port=_free_port(), data_dir=data, block=False)
    yield url, data
    demo.close()


def _client(url):
    return Client(url, verbose=False)


def _analyze(client, portrait=ASSETS / "portrait_hopper.jpg", script="",
             audio=ASSETS / "speech.wav"):
    return client.predict(portrait=handle_file(str(portrait)), audio=handle_file(str(audio)),
                          script=script, style=SMALL, api_name="/analyze")


def _names(files) -> list[str]:
    return sorted(f.rsplit("/", 1)[-1] for f in files)


def test_analyze_edit_render_and_library_round_trip(studio, speech_script):
    url, data = studio
    client = _client(url)
    note = _analyze(client, script=speech_script)
    assert "1 segment," in note and "aligned to your script" in note

    signals = client.predict(index=0, label="happy", intensity=0.9, valence=0.5, arousal=0.4,
                             api_name="/edit_segment")
    assert signals[0][-1] == "happy 0.90 (edited)"

    video, files = client.predict(style=SMALL, api_name="/render_take")
    saved = json.loads(open([f for f in files if f.endswith("project.json")][0]).read())
    assert saved["emotion_overrides"][0]["label"] == "happy"
    assert saved["emotion"]["segments"][0]["label"] == "happy"

    from pipelines.export.video import probe_durations

    d = probe_durations(video)
    assert abs(d["video"] - 7.1) < 0.1 and abs(d["audio"] - 7.1) < 0.1

    # The library lists it; a fresh session re-opens the project with its edit and style.
    (entry,) = [p for p in client.predict(api_name="/library") if p["takes"] == 1]
    opened = _client(url).predict(project_id=entry["id"], api_name="/open_project")
    assert opened["script"].strip() == speech_script.strip()
    assert opened["style"]["size"] == 256 and opened["segments"] == 1


def test_downloads_are_named_after_the_project_and_the_take(studio):
    url, _ = studio
    client = _client(url)
    _analyze(client, portrait=ASSETS / "portrait.png")
    _, first = client.predict(style=SMALL, api_name="/render_take")
    _, second = client.predict(style=SMALL, api_name="/render_take")
    assert _names(first) == ["portrait-speech-take1.motion.csv", "portrait-speech-take1.mp4",
                             "portrait-speech-take1.project.json"]
    assert "portrait-speech-take2.mp4" in _names(second)


def test_the_render_endpoint_takes_the_documented_names(studio):
    url, _ = studio
    video = _client(url).predict(portrait=handle_file(str(ASSETS / "portrait.png")),
                                 audio=handle_file(str(ASSETS / "speech.wav")), transcript="",
                                 emotion="surprised", api_name="/render")
    from pipelines.export.video import probe_durations

    assert abs(probe_durations(video)["video"] - 7.1) < 0.1


def test_an_analysis_after_a_cancelled_render_runs(studio, speech_script):
    url, _ = studio
    client = _client(url)
    _analyze(client, script=speech_script)
    job = client.submit(style={"size": 512}, api_name="/render_take")
    deadline = time.time() + 120
    while time.time() < deadline:
        status = job.status()
        desc = (status.progress_data or [None])[-1]
        if desc is not None and (desc.desc or "").startswith("render"):
            break
        time.sleep(0.05)
    assert client.predict(api_name="/cancel") == "render"
    with pytest.raises(Exception, match="Cancelled"):
        job.result(timeout=120)
    # The cancel belonged to that render: the next analysis is not cancelled by it.
    note = _analyze(client, script=speech_script)
    assert note.startswith("**Analyzed:**")
    assert client.predict(api_name="/cancel") == "nothing"


def test_scene_clauses_keep_their_own_anchors(studio, speech_script):
    url, _ = studio
    client = _client(url)
    _analyze(client, script=speech_script)
    cues = client.predict(text='She raises her brows when she says "leisure" and tilts her '
                               'head left from 5 to 6.5 s.', api_name="/set_scene")
    by_kind = {row[0]: (row[1], row[2]) for row in cues}
    assert set(by_kind) == {"raise brows", "tilt left"}
    assert 1.5 < by_kind["raise brows"][0] < 2.5  # "leisure" is spoken at about 1.9 s
    assert by_kind["tilt left"] == (5.0, 6.5)


def test_user_errors_come_back_as_readable_messages(studio, tmp_path):
    import soundfile as sf
    from PIL import Image

    url, _ = studio
    client = _client(url)
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((400, 400, 3), 200, np.uint8)).save(blank)
    with pytest.raises(Exception) as err:
        _analyze(client, portrait=blank)
    assert "face" in str(err.value).lower()
    with pytest.raises(Exception) as err:
        client.predict(style=SMALL, api_name="/render_take")
    assert "Analyze the speech first" in str(err.value)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 2, np.float32), 16000)
    with pytest.raises(Exception) as err:
        _analyze(client, audio=silent)
    assert "silent" in str(err.value)
    assert "dBFS" not in str(err.value) and "silence_dbfs" not in str(err.value)


def test_two_sessions_keep_their_own_files(studio):
    url, data = studio
    a, b = _client(url), _client(url)
    _analyze(a)
    _analyze(b, portrait=ASSETS / "portrait.png")
    video_a, _ = a.predict(style=SMALL, api_name="/render_take")
    video_b, _ = b.predict(style=SMALL, api_name="/render_take")
    assert open(video_a, "rb").read() != open(video_b, "rb").read()
    assert len(list((data / "sessions").iterdir())) >= 2


# ------------------------------------------------------------------ what the studio serves
def _get(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_the_data_folder_is_never_served(studio):
    url, data = studio
    client = Client(url, verbose=False, download_files=False)  # answers carry the served URLs
    _analyze(client, portrait=ASSETS / "portrait.png")
    video, files = client.predict(style=SMALL, api_name="/render_take")
    library = data / "library"
    private = [library / "library.sqlite",
               *sorted(library.glob("projects/*/project.json"))[:1],
               *sorted(library.glob("projects/*/portrait.*"))[:1],
               *sorted(library.glob("projects/*/takes/*/take.mp4"))[:1]]
    assert len(private) == 4 and all(p.exists() for p in private)
    for path in private:
        assert _get(f"{url}gradio_api/file={path}") == 403, path
    # What the page was given (the take it rendered, its downloads) is served, as copies.
    links = [video["url"], *(f["url"] for f in files)]
    assert all(str(data) not in link for link in links)
    assert [_get(link) for link in links] == [200] * 4


def test_a_login_is_required_when_one_is_set(tmp_path):
    from studio.access import Login
    from studio.app import launch_studio

    demo, url = launch_studio(port=_free_port(), data_dir=tmp_path, block=False,
                              login=Login.of("ada", "s3cret-words"))
    try:
        assert _get(f"{url}config") == 401
        assert _get(f"{url}gradio_api/info") == 401
        form = urllib.parse.urlencode({"username": "ada", "password": "wrong"}).encode()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{url}login", data=form, timeout=30)
        form = urllib.parse.urlencode({"username": "ada", "password": "s3cret-words"}).encode()
        with urllib.request.urlopen(f"{url}login", data=form, timeout=30) as r:
            cookie = "; ".join(c.split(";")[0] for c in r.headers.get_all("set-cookie"))
        assert _get(f"{url}config", {"Cookie": cookie}) == 200
    finally:
        demo.close()


def test_a_public_link_needs_a_login_and_keeps_no_password(monkeypatch):
    from pipelines.errors import InputError
    from studio.access import LOGIN_VARIABLE, login_for

    assert login_for(share=False, environ={}) is None  # this computer only: no login
    with pytest.raises(InputError, match=LOGIN_VARIABLE):  # public, nobody to ask: refuse
        monkeypatch.setattr("sys.stdin.isatty", lambda: False)
        login_for(share=True, environ={})
    asked = login_for(share=True, environ={}, ask=lambda: ("ada", "pw-typed"))
    assert asked.check("ada", "pw-typed") and not asked.check("ada", "other")
    from_env = login_for(share=True, environ={LOGIN_VARIABLE: "bob:pa:ss"})
    assert from_env.check("bob", "pa:ss") and not from_env.check("eve", "pa:ss")
    assert "pa:ss" not in repr(from_env) and b"pa:ss" not in repr(from_env.__dict__).encode()
    with pytest.raises(InputError):
        login_for(share=False, environ={LOGIN_VARIABLE: "no-password"})


# ------------------------------------------------------------------ controller and library
def _analysed_session(tmp_path, script, portrait="portrait_hopper.jpg"):
    """A controller, and a session whose sample project is analysed (no UI, no server)."""
    from studio.controller import Inputs, StudioController, Style

    c = StudioController(tmp_path)
    session = c.new_session()
    style = Style(size=256)
    inputs = Inputs(str(ASSETS / portrait), str(ASSETS / "speech.wav"), script)
    c.analyze(session, inputs, style, NO_PROGRESS)
    return c, session, style, inputs


def test_library_survives_a_restart(tmp_path):
    from pipelines.project import Project
    from studio.library import Library

    lib = Library(tmp_path)
    project = Project.new(ASSETS / "portrait.png", ASSETS / "speech.wav", script="hello")
    pid, stored = lib.create_project(project, "astronaut")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not really a video")
    take = lib.add_take(pid, stored, video, "natural", 7.1)
    reopened = Library(tmp_path)  # a new process, the same folder
    assert [p.name for p in reopened.projects()] == ["astronaut"]
    assert [t.id for t in reopened.takes(pid)] == [take.id] and take.video.exists()
    assert reopened.load_project(pid).script == "hello"
    # The media were copied in: the project no longer depends on the original files.
    assert str(tmp_path) in reopened.load_project(pid).portrait.path
    reopened.delete_take(take.id)
    assert reopened.takes(pid) == [] and not take.folder.exists()
    reopened.delete_project(pid)
    assert reopened.projects() == [] and not (tmp_path / "projects" / pid).exists()


def test_take_numbers_are_never_given_twice(tmp_path):
    from pipelines.project import Project
    from studio.library import Library

    lib = Library(tmp_path)
    pid, stored = lib.create_project(Project.new(ASSETS / "portrait.png", ASSETS / "speech.wav"),
                                     "Ada's intro")

    def take():
        video = tmp_path / "v.mp4"
        video.write_bytes(b"x")
        return lib.add_take(pid, stored, video, "natural", 1.0)

    one, two = take(), take()
    lib.delete_take(two.id)
    three = take()
    assert (one.number, two.number, three.number) == (1, 2, 3)
    assert three.file_stem == "Ada-s-intro-take3" and three.title.startswith("Take 3 · ")


def test_a_library_from_before_take_numbers_gets_them(tmp_path):
    from studio.library import Library

    tmp_path.joinpath("projects").mkdir()
    with sqlite3.connect(tmp_path / "library.sqlite") as db:
        db.executescript("""
            CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL, created REAL NOT NULL,
                                   updated REAL NOT NULL);
            CREATE TABLE takes (id TEXT PRIMARY KEY, project_id TEXT NOT NULL, created REAL NOT NULL,
                                label TEXT NOT NULL, duration REAL NOT NULL);
            INSERT INTO projects VALUES ('p', 'old', 1, 1);
            INSERT INTO takes VALUES ('b', 'p', 20, 'second', 1), ('a', 'p', 10, 'first', 1);
        """)
    lib = Library(tmp_path)
    assert [(t.label, t.number) for t in lib.takes("p")] == [("second", 2), ("first", 1)]


def test_cancel_stops_a_render_and_keeps_nothing(tmp_path, speech_script):
    from pipelines.errors import RenderInterrupted

    c, session, style, _ = _analysed_session(tmp_path, speech_script)

    def press_cancel_mid_render(stage, frac):
        if stage == "render" and frac > 0.2:
            assert c.cancel(session) == "render"

    with pytest.raises(RenderInterrupted):
        c.render(session, style, press_cancel_mid_render)
    assert c.library.takes() == []
    assert not list(session.folder.rglob("*"))  # no half-written video or folder left behind
    # The next render starts afresh.
    take = c.render(session, style, NO_PROGRESS)
    assert take.video.exists() and len(c.library.takes()) == 1


def test_a_changed_input_is_never_rendered_from_the_old_analysis(tmp_path, speech_script):
    import dataclasses

    from pipelines.errors import InputError

    c, session, style, inputs = _analysed_session(tmp_path, speech_script)
    assert c.stale_reason(session, inputs) is None
    other = dataclasses.replace(inputs, portrait=str(ASSETS / "portrait.png"))
    assert "portrait changed" in c.stale_reason(session, other)
    shorter = tmp_path / "shorter.wav"
    import soundfile as sf

    audio, sr = sf.read(ASSETS / "speech.wav")
    sf.write(shorter, audio[: sr * 3], sr)
    for changed in (other, dataclasses.replace(inputs, audio=str(shorter)),
                    dataclasses.replace(inputs, script="Something else entirely.")):
        with pytest.raises(InputError, match="Analyze"):
            c.render(session, style, NO_PROGRESS, inputs=changed)
    assert c.library.takes() == []
    # A project re-opened from the library is compared by content, not by file name.
    copy = tmp_path / "same-portrait.jpg"
    copy.write_bytes((ASSETS / "portrait_hopper.jpg").read_bytes())
    assert c.stale_reason(session, dataclasses.replace(inputs, portrait=str(copy))) is None


def test_a_preset_sets_the_motion_and_an_adjusted_one_says_so(tmp_path, speech_script):
    import dataclasses

    from studio.controller import Style

    story = Style.of_preset("storyteller", keep=Style(size=256, seed=3))
    assert (story.head_motion, story.blink_rate, story.expression_strength) == (1.8, 19, 1.4)
    assert (story.size, story.seed) == (256, 3) and not story.adjusted()
    c, session, _, _ = _analysed_session(tmp_path, speech_script)
    take = c.render(session, story, NO_PROGRESS)
    from pipelines.project import Project

    motion = Project.load(take.project_path).settings.motion
    assert (motion.head_motion, motion.blink_rate_per_min,
            motion.expression_strength) == (1.8, 19, 1.4)
    assert take.label.startswith("storyteller,")
    calmer = c.render(session, dataclasses.replace(story, head_motion=0.5), NO_PROGRESS)
    assert calmer.label.startswith("storyteller (adjusted),")


def test_a_gpu_preset_is_refused_where_it_cannot_run(tmp_path, speech_script):
    import torch

    from pipelines.errors import InputError
    from studio.controller import Style

    c, session, style, _ = _analysed_session(tmp_path, speech_script)
    gpu = {p.name: p for p in c.preset_choices()}["gpu-24gb"]
    if gpu.available:  # a GPU workstation with the weights: nothing to refuse
        return
    assert gpu.label == "gpu-24gb (unavailable here)" and "PyTorch" not in gpu.why_not
    if not torch.cuda.is_available():
        assert "NVIDIA graphics card" in gpu.why_not
    with pytest.raises(InputError, match="gpu-24gb"):
        c.render(session, Style.of_preset("gpu-24gb", keep=style), NO_PROGRESS)


def test_notes_already_shown_for_the_portrait_are_not_repeated(tmp_path, speech_script):
    from studio.controller import Inputs, StudioController, Style

    c = StudioController(tmp_path)
    session = c.new_session()
    hopper = str(ASSETS / "portrait_hopper.jpg")  # she wears glasses
    _, note = c.inspect_portrait(session, hopper, Style(size=256))
    assert "Glasses detected" in note
    inputs = Inputs(hopper, str(ASSETS / "speech.wav"), speech_script)
    project, news = c.analyze(session, inputs, Style(size=256), NO_PROGRESS)
    assert any("Glasses" in w for w in project.warnings)
    assert not any("Glasses" in w for w in news)
    _, news = c.analyze(session, inputs, Style(size=256, seed=1), NO_PROGRESS)
    assert news == []


def test_the_analysis_note_speaks_plainly(tmp_path):
    from studio.views import analysis_note

    c, session, _, _ = _analysed_session(tmp_path, "")
    note = analysis_note(session.project)
    assert "(asr)" not in note and "recognised from the speech" in note


def test_a_reloaded_page_is_told_where_its_render_went(tmp_path, speech_script):
    c, session, style, _ = _analysed_session(tmp_path, speech_script)
    started, release = threading.Event(), threading.Event()

    def slow_progress(stage, frac):
        if stage == "render":
            started.set()
            release.wait(60)

    worker = threading.Thread(target=c.render, args=(session, style, slow_progress),
                              kwargs={"page": "page-1"})
    worker.start()
    assert started.wait(120)
    c.page_left("page-1")  # the creator reloads the page mid-render
    (running,) = c.notices_for_new_page()
    assert "still running" in running
    release.set()
    worker.join(120)
    (landed,) = c.notices_for_new_page()
    assert "take 1 in the Library" in landed
    assert c.notices_for_new_page() == []  # told once


def test_an_edited_scene_steers_the_next_render(tmp_path, speech_script):
    c, session, style, _ = _analysed_session(tmp_path, speech_script)
    project = c.set_scene_text(session, "She keeps her head completely still.")
    assert [q.kind for q in project.scene.cues] == ["keep_still"]
    take = c.render(session, style, NO_PROGRESS)
    from pipelines.project import Project

    saved = Project.load(take.project_path)
    assert saved.scene.text == "She keeps her head completely still."
    assert float(np.std(saved.motion.head_pose[:, 1])) < 0.5


def test_a_template_scene_follows_emotion_edits_and_is_not_taken_for_user_text(tmp_path,
                                                                              speech_script):
    c, session, style, _ = _analysed_session(tmp_path, speech_script)
    before = session.project.scene
    assert before.source == "template"
    project = c.edit_segment(session, 0, "sad", 1.0, None, None)
    # The box is refreshed with the rewritten template (the UI shows project.scene.text) ...
    assert project.scene.source == "template" and project.scene.text != before.text
    assert "looks down" in project.scene.text
    assert "look_down" in [q.kind for q in project.scene.cues]
    assert project.scene_text is None  # ... and it is not stored as the user's own text.
    project = c.reset_emotions(session)
    assert project.scene.text == before.text and project.scene_text is None


def test_launch_py_without_a_command_starts_the_studio_on_localhost(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "launch.py"), "--port", str(port),
                             "--data-dir", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        deadline = time.time() + 90
        line = ""
        while time.time() < deadline and "running at" not in line:
            line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"SynchroRaMa" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ------------------------------------------------------------------ expression preview
def test_an_uploaded_portrait_shows_how_the_face_will_move(tmp_path):
    from pipelines.errors import NoFaceError
    from pipelines.preview import grid_layout
    from studio.controller import StudioController, Style

    c = StudioController(tmp_path)
    preview = c.expression_preview(str(ASSETS / "portrait.png"), Style(size=256))
    layout = grid_layout()
    assert preview.grid.shape == (layout.height, layout.width, 3)
    assert [cell.label for cell in preview.cells][-6:] == ["rest", "M/B/P", "AA", "EE", "OO",
                                                           "F/V"]
    assert float(np.abs(preview.picture("happy 1.0").astype(float)
                        - preview.picture("neutral 1.0")).mean()) > 3
    # The face models are the ones every session shares: another portrait loads nothing new.
    loaded = set(c._models)
    c.expression_preview(str(ASSETS / "portrait_hopper.jpg"), Style(preset="storyteller"))
    assert set(c._models) == loaded
    blank = tmp_path / "wall.png"
    from PIL import Image

    Image.fromarray(np.full((300, 300, 3), 200, np.uint8)).save(blank)
    with pytest.raises(NoFaceError, match="No face was found"):
        c.expression_preview(str(blank), Style())


def test_the_page_shows_the_grid_after_the_face_and_a_failure_as_one_line(tmp_path):
    """The handler the upload triggers, on a page built without a server."""
    import functools

    import gradio as gr

    from studio.app import StudioHandlers, segment_edit
    from studio.controller import StudioController
    from studio.panels import build_page

    c = StudioController(tmp_path)
    with gr.Blocks():
        page = build_page(c, functools.partial(segment_edit, c))
    h = StudioHandlers(c, page)
    p = page.portrait
    values = {w: w.value for w in page.style.widgets}
    portrait = str(ASSETS / "portrait.png")

    grid, note = h.face_moves_shown({**values, p.image: portrait, p.preview: "face.png"})
    assert grid["visible"] is True and grid["value"].shape[2] == 3 and note == ""
    # No face found by step 1 (its own note says so): nothing is drawn, nothing is repeated.
    grid, note = h.face_moves_shown({**values, p.image: portrait, p.preview: None})
    assert grid["visible"] is False and note == ""

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the renderer")

    c.expression_preview = broken
    grid, note = h.face_moves_shown({**values, p.image: portrait, p.preview: "face.png"})
    assert grid["visible"] is False and note.startswith("**No expression preview:**")
    assert "RuntimeError" not in note and "Traceback" not in note
