"""The studio driven through its public API with gradio_client, as a script would use it, plus
the project library on its own."""
import json
import socket

import numpy as np
import pytest

from conftest import ASSETS

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

STYLE = ["natural", 1.0, 17, 1.0, 0, 256, 25, "full", "cpu"]  # the style panel, as the UI sends it


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


def _analyze(client, portrait=ASSETS / "portrait_hopper.jpg", script=""):
    return client.predict(handle_file(str(portrait)), handle_file(str(ASSETS / "speech.wav")),
                          script, *STYLE, api_name="/analyze")


def test_analyze_edit_render_and_library_round_trip(studio, speech_script):
    url, data = studio
    client = _client(url)
    note, *_ = _analyze(client, script=speech_script)
    assert "1 segment," in note and "aligned to your script" in note

    signals = client.predict(0, "happy", 0.9, 0.5, 0.4, api_name="/edit_segment")
    assert signals["data"][0][-1] == "happy 0.90 (edited)"

    video, files, projects, *_ = client.predict(*STYLE, None, api_name="/render_take")
    names = sorted(f.rsplit("/", 1)[-1] for f in files)
    assert names == ["motion.csv", "project.json", "take.mp4"]
    saved = json.loads(open([f for f in files if f.endswith("project.json")][0]).read())
    assert saved["emotion_overrides"][0]["label"] == "happy"
    assert saved["emotion"]["segments"][0]["label"] == "happy"

    from pipelines.export.video import probe_durations

    d = probe_durations(video)
    assert abs(d["video"] - 7.1) < 0.1 and abs(d["audio"] - 7.1) < 0.1

    # The library lists it; a fresh session re-opens the project with its edit.
    projects, gallery, *_ = client.predict(api_name="/library")
    (choice,) = [c for c in projects["choices"] if "1 takes" in c[0]]
    other = _client(url)
    opened = other.predict(choice[1], api_name="/open_project")
    script_box = opened[2]
    assert script_box.strip() == speech_script.strip()
    assert len(gallery) == 1


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


def test_the_render_endpoint_for_scripts(studio):
    url, _ = studio
    client = _client(url)
    video = client.predict(handle_file(str(ASSETS / "portrait.png")),
                           handle_file(str(ASSETS / "speech.wav")), "", "surprised",
                           api_name="/render")
    from pipelines.export.video import probe_durations

    assert abs(probe_durations(video)["video"] - 7.1) < 0.1


def test_two_sessions_keep_their_own_files(studio, tmp_path):
    url, data = studio
    a, b = _client(url), _client(url)
    _analyze(a)
    _analyze(b, portrait=ASSETS / "portrait.png")
    video_a, *_ = a.predict(*STYLE, None, api_name="/render_take")
    video_b, *_ = b.predict(*STYLE, None, api_name="/render_take")
    assert open(video_a, "rb").read() != open(video_b, "rb").read()
    sessions = [p for p in (data / "sessions").iterdir()]
    assert len(sessions) >= 2


def test_user_errors_come_back_as_readable_messages(studio, tmp_path):
    from PIL import Image

    url, _ = studio
    client = _client(url)
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((400, 400, 3), 200, np.uint8)).save(blank)
    with pytest.raises(Exception) as err:
        _analyze(client, portrait=blank)
    assert "face" in str(err.value).lower()
    with pytest.raises(Exception) as err:
        client.predict(*STYLE, None, api_name="/render_take")
    assert "Analyze the speech first" in str(err.value)


def _analysed_session(tmp_path, script):
    """A controller, and a session whose sample project is analysed (no UI, no server)."""
    from studio.controller import StudioController, Style

    c = StudioController(tmp_path)
    session = c.new_session()
    style = Style(size=256)
    c.analyze(session, str(ASSETS / "portrait_hopper.jpg"), str(ASSETS / "speech.wav"),
              script, style, lambda stage, frac: None)
    return c, session, style


def test_cancel_stops_a_render_and_keeps_nothing(tmp_path, speech_script):
    from pipelines.errors import RenderInterrupted

    c, session, style = _analysed_session(tmp_path, speech_script)

    def press_cancel_mid_render(stage, frac):
        if stage == "render" and frac > 0.2:
            c.cancel(session)

    with pytest.raises(RenderInterrupted):
        c.render(session, style, press_cancel_mid_render)
    assert c.library.takes() == []
    assert not list(session.folder.rglob("*"))  # no half-written video or folder left behind
    # The next render starts afresh.
    take = c.render(session, style, lambda stage, frac: None)
    assert take.video.exists() and len(c.library.takes()) == 1


def test_an_edited_scene_steers_the_next_render(tmp_path, speech_script):
    c, session, style = _analysed_session(tmp_path, speech_script)
    project = c.set_scene_text(session, "She keeps her head completely still.")
    assert [q.kind for q in project.scene.cues] == ["keep_still"]
    take = c.render(session, style, lambda stage, frac: None)
    from pipelines.project import Project

    saved = Project.load(take.project_path)
    assert saved.scene.text == "She keeps her head completely still."
    assert float(np.std(saved.motion.head_pose[:, 1])) < 0.5


def test_a_template_scene_follows_emotion_edits_and_is_not_taken_for_user_text(tmp_path,
                                                                              speech_script):
    c, session, style = _analysed_session(tmp_path, speech_script)
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
    import time
    import urllib.request

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
