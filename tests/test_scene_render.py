"""Scene text steers the rendered face: end to end on the sample portrait and speech."""
import json
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from conftest import ROOT
from llm_server import FakeLLM, Reply
from pipelines.face import mesh as L

SIZE = 192


def read_frames(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]).astype(np.float32)


@pytest.fixture(scope="module")
def analysed(closed_mouth_portrait_path, speech_path, speech_script):
    """The sample analysed once (face, transcript, emotion); each test varies only the scene."""
    from pipelines.pipeline import SynchroRaMaPipeline
    from pipelines.project import Project
    from pipelines.settings import PipelineSettings

    settings = PipelineSettings().with_overrides({"render": {"size": SIZE}, "face": {"framing": "crop"}})
    project = Project.new(closed_mouth_portrait_path, speech_path, script=speech_script, seed=5,
                          settings=settings)
    pipe = SynchroRaMaPipeline.from_settings(settings)
    return pipe, pipe(project).project


def render(analysed, tmp_path, scene_text, name):
    pipe, project = analysed
    edited = project.replace(scene_text=scene_text, scene=None, motion=None)
    out = pipe(edited, tmp_path / f"{name}.mp4")
    return out.project, read_frames(out.video_path)


def head_motion(frames, face):
    """Mean frame-to-frame change over the upper face (eyes, brows, forehead): head motion,
    not the mouth."""
    lm = face.landmarks[:, :2]
    top = int(lm[:, 1].min())
    eyes_y = int(lm[list(L.EYE["Left"]["lower"]), 1].max()) + 4
    x0, x1 = int(lm[:, 0].min()), int(lm[:, 0].max())
    region = frames[:, top:eyes_y, x0:x1]
    return float(np.abs(np.diff(region, axis=0)).mean())


def test_nodding_and_keeping_still_differ_visibly_and_measurably(analysed, tmp_path):
    nod_project, nod_frames = render(analysed, tmp_path, "She nods repeatedly as she speaks.", "nod")
    still_project, still_frames = render(analysed, tmp_path,
                                         "She keeps her head completely still.", "still")
    assert [c.kind for c in nod_project.scene.cues] == ["nod"]
    assert [c.kind for c in still_project.scene.cues] == ["keep_still"]
    pitch_nod = nod_project.motion.head_pose[:, 1]
    pitch_still = still_project.motion.head_pose[:, 1]
    # Motion: repeated nods are large pitch swings; "still" damps the audio-driven motion.
    assert np.ptp(pitch_nod) > 8.0 and np.std(pitch_nod) > 4 * np.std(pitch_still)
    yaw_still = still_project.motion.head_pose[:, 0]
    assert np.std(yaw_still) < 0.2 * np.std(analysed[1].motion.head_pose[:, 0]) + 0.05
    # Pixels: the upper face changes far more from frame to frame while nodding.
    moving = head_motion(nod_frames, nod_project.face)
    still = head_motion(still_frames, still_project.face)
    assert moving > 3 * still, (moving, still)


def test_a_smile_cue_shows_a_smile_at_its_time(analysed, tmp_path):
    project, frames = render(analysed, tmp_path, "She smiles broadly from 3 to 5 s.", "smile")
    (cue,) = project.scene.cues
    assert (cue.kind, cue.start, cue.end) == ("smile", 3.0, 5.0)
    fps = project.motion.fps
    t = np.arange(project.motion.num_frames) / fps
    smile = project.motion.column("mouthSmileLeft")
    rest = float(np.median(smile[t < 2.5]))  # the photo's own slight smile
    assert smile[(t > 3.4) & (t < 4.6)].min() > rest + 0.4
    assert np.abs(smile[(t < 2.5) | (t > 5.5)] - rest).max() < 0.05
    # In the picture: the rendered mouth corners rise against the lip centre (head motion
    # cancels out) while she smiles, and come back down afterwards.
    from pipelines.face import frame_image, load_portrait

    pipe, _ = analysed
    image, _ = load_portrait(project.portrait.path)
    prepared = pipe.renderer.prepare(frame_image(image, project.face.framing), project.face)
    rig = prepared.rig

    def corner_lift(i):
        p = rig.frame(project.motion.blendshapes[i], project.motion.head_pose[i]).points
        centre = (p[13] + p[14]) / 2
        return float(np.mean([(centre - p[c]) @ rig.ey for c in L.MOUTH_CORNERS_OUTER]))

    lift = np.array([corner_lift(i) for i in range(len(t))])
    during, before, after = lift[(t > 3.5) & (t < 4.5)], lift[t < 2.5], lift[t > 5.5]
    assert np.median(during) > np.median(before) + 0.04 * rig.iod
    assert abs(np.median(after) - np.median(before)) < 0.02 * rig.iod
    # Pixels: the frame at 4 s against the same frame with the cue's smile channels at rest.
    from pipelines.types import BLENDSHAPE_INDEX

    channels = [BLENDSHAPE_INDEX[f"{n}{side}"] for n in ("mouthSmile", "cheekSquint", "eyeSquint")
                for side in ("Left", "Right")]

    def smile_pixels(i):
        w = project.motion.blendshapes[i].copy()
        pose = project.motion.head_pose[i]
        plain = w.copy()
        plain[channels] = rig.rest_expression[channels]
        a = pipe.renderer.render_frame(prepared, w, pose).astype(float)
        b = pipe.renderer.render_frame(prepared, plain, pose).astype(float)
        corners = rig.frame(plain, pose).points[list(L.MOUTH_CORNERS_OUTER)]
        x0, y0 = (corners.min(0) - 0.15 * rig.iod).astype(int)
        x1, y1 = (corners.max(0) + 0.15 * rig.iod).astype(int)
        return np.abs(a - b)[y0:y1, x0:x1].mean()

    assert smile_pixels(int(4.0 * fps)) > 6.0
    assert smile_pixels(int(1.5 * fps)) < 1.0
    assert frames.shape[0] == len(t)


def run_cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "launch.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def test_cli_generates_the_scene_with_an_llm_and_never_stores_the_key(
        tmp_path, closed_mouth_portrait_path, speech_path, speech_script):
    import os

    server = FakeLLM(replies=[Reply(json.dumps({
        "description": "She speaks thoughtfully.",
        "cues": [{"kind": "shake", "word": "prudently"}, {"kind": "smile", "start": 0.5, "end": 2.5}]}))])
    try:
        env = {**os.environ, "OPENAI_API_KEY": "sk-never-store-me"}
        r = run_cli("render", "--portrait", closed_mouth_portrait_path, "--audio", speech_path,
                    "--transcript", speech_script, "--size", 160, "--scene", "auto",
                    "--llm-base-url", server.base_url, "--llm-model", "tiny", "--out",
                    tmp_path / "clip.mp4", "--project-out", tmp_path / "clip.json", env=env)
    finally:
        server.close()
    assert r.returncode == 0, r.stderr
    assert "scene (llm" in r.stderr
    saved = (tmp_path / "clip.json").read_text()
    assert "sk-never-store-me" not in saved and "sk-never-store-me" not in r.stderr + r.stdout
    scene = json.loads(saved)["scene"]
    assert scene["source"] == "llm" and scene["text"].startswith("She speaks thoughtfully.")
    assert sorted(c["kind"] for c in scene["cues"]) == ["shake", "smile"]
    assert "prudently" in json.dumps(server.requests[0].body)


def test_cli_falls_back_to_the_template_when_the_llm_is_down(tmp_path, closed_mouth_portrait_path,
                                                              speech_path, speech_script):
    r = run_cli("render", "--portrait", closed_mouth_portrait_path, "--audio", speech_path,
                "--transcript", speech_script, "--size", 160, "--llm-base-url",
                "http://127.0.0.1:9/v1", "--llm-timeout", 1, "--out", tmp_path / "clip.mp4",
                "--project-out", tmp_path / "clip.json")
    assert r.returncode == 0, r.stderr
    assert "warning: Scene description: Could not reach the LLM at http://127.0.0.1:9/v1" in r.stderr
    assert json.loads((tmp_path / "clip.json").read_text())["scene"]["source"] == "template"


def test_an_edited_scene_file_is_used_as_is_and_survives_a_project_reload(
        tmp_path, closed_mouth_portrait_path, speech_path, speech_script):
    from pipelines.project import Project

    scene_file = tmp_path / "scene.txt"
    scene_file.write_text("Portrait: an admiral in uniform, smiling.\n"
                          "[1.00–2.00 s] She nods firmly.\nShe looks down at the end.\n")
    r = run_cli("render", "--portrait", closed_mouth_portrait_path, "--audio", speech_path,
                "--transcript", speech_script, "--size", 160, "--scene-file", scene_file,
                "--out", tmp_path / "clip.mp4", "--project-out", tmp_path / "clip.json", "--quiet")
    assert r.returncode == 0, r.stderr
    project = Project.load(tmp_path / "clip.json")
    assert project.scene.source == "user" and project.scene.text == scene_file.read_text()
    assert [(c.kind, c.start, c.end) for c in project.scene.cues] == \
        [("nod", 1.0, 2.0), ("look_down", pytest.approx(5.1, abs=0.01), pytest.approx(7.1, abs=0.01))]
    assert project.scene.cues[0].strength > 1.0
