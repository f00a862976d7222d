"""The whole embedded pipeline on the sample assets, as a user runs it."""
import csv
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pytest

from conftest import ROOT
from pipelines.export.video import probe_durations
from pipelines.face import mesh as L


def read_frames(path):
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return meta, np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen])


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "launch.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, portrait_path, speech_path, speech_script):
    out = tmp_path_factory.mktemp("render")
    r = run_cli("render", "--portrait", portrait_path, "--audio", speech_path,
                "--transcript", speech_script, "--size", 320, "--fps", 25, "--seed", 3,
                "--out", out / "clip.mp4", "--project-out", out / "clip.json",
                "--motion-out", out / "clip.csv", "--quiet")
    assert r.returncode == 0, r.stderr
    return out


def test_video_has_h264_aac_and_matches_the_audio_duration(rendered):
    info = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i",
                           str(rendered / "clip.mp4")], capture_output=True, text=True).stderr
    assert "Video: h264" in info and "Audio: aac" in info
    d = probe_durations(rendered / "clip.mp4")
    assert abs(d["video"] - 7.1) <= 1 / 25 + 0.02
    assert abs(d["audio"] - 7.1) <= 0.05


def test_mouth_moves_with_speech_and_background_holds(rendered):
    from pipelines.project import Project

    project = Project.load(rendered / "clip.json")
    _, frames = read_frames(rendered / "clip.mp4")
    assert len(frames) == project.motion.num_frames
    lips = project.face.landmarks[list(L.INNER_LIP_RING), :2]
    x0, y0 = (lips.min(0) - 6).astype(int)
    x1, y1 = (lips.max(0) + 6).astype(int)
    mouth = frames[:, y0:y1, x0:x1].astype(float)
    jaw = project.motion.column("jawOpen")
    open_frames, shut_frames = jaw > np.percentile(jaw, 85), jaw < 0.02
    assert open_frames.sum() > 5 and shut_frames.sum() > 5
    # Frames with an open jaw look different from shut ones in the mouth region.
    spread = np.abs(mouth[open_frames].mean(0) - mouth[shut_frames].mean(0)).mean()
    assert spread > 8
    # The top corners are background in the sample: no change beyond encoder noise.
    corners = frames[:, :24, :24].astype(float)
    assert np.abs(corners - corners[0]).max() <= 6


def test_motion_csv_has_a_row_per_frame_with_arkit_columns(rendered):
    with open(rendered / "clip.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    _, frames = read_frames(rendered / "clip.mp4")
    assert len(rows) == len(frames)
    assert {"jawOpen", "eyeBlinkLeft", "mouthClose", "yaw", "pitch", "roll"} <= set(rows[0])


def test_saved_project_re_renders_identical_frames(rendered):
    r = run_cli("render", "--project", rendered / "clip.json", "--out", rendered / "again.mp4", "--quiet")
    assert r.returncode == 0, r.stderr
    _, a = read_frames(rendered / "clip.mp4")
    _, b = read_frames(rendered / "again.mp4")
    assert a.shape == b.shape and np.array_equal(a, b)


def test_project_json_round_trips_exactly(rendered):
    from pipelines.project import Project

    p = Project.load(rendered / "clip.json")
    q = Project.load(rendered / "clip.json")
    assert p.to_json() == q.to_json()
    assert np.array_equal(p.motion.blendshapes, q.motion.blendshapes)
    assert p.transcript.source == "aligned" and len(p.transcript.words) >= 20
    assert p.motion.blendshapes.dtype == np.float32


def test_emotion_override_changes_the_expression(tmp_path, portrait_path, speech_path, speech_script):
    from pipelines.emotion import parse_emotion
    from pipelines.pipeline import SynchroRaMaPipeline
    from pipelines.project import EmotionOverride, Project

    base = Project.new(portrait_path, speech_path, script=speech_script)
    pipe = SynchroRaMaPipeline.from_settings(base.settings)
    neutral = pipe(base).project
    label, intensity = parse_emotion("sad:1")
    sad = pipe(neutral.replace(emotion_overrides=[EmotionOverride(label=label, intensity=intensity)],
                               emotion=None, motion=None)).project
    assert all(s.label == "sad" and s.source == "override" for s in sad.emotion.segments)
    assert sad.motion.column("browInnerUp").mean() > neutral.motion.column("browInnerUp").mean() + 0.2
    # Lip sync keeps working: the jaw still follows the same speech.
    assert np.corrcoef(sad.motion.column("jawOpen"), neutral.motion.column("jawOpen"))[0, 1] > 0.8


def test_check_reports_every_part_and_the_optional_gpu_renderer():
    r = run_cli("check", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines if not line.startswith("info")] == ["ok"] * 5
    assert any(line.startswith("info  diffusion renderer (GPU):") for line in lines)


def test_restyle_forgets_only_what_the_new_settings_change():
    """New settings and seed keep every stage they leave valid (a seed only redoes the motion,
    a size redoes the face and all after it); the studio and the CLI both go through this."""
    import dataclasses

    from pipelines.project import STAGE_FIELDS, Project
    from pipelines.settings import PipelineSettings

    def analysed(seed=0):
        p = Project(portrait=None, audio=None, seed=seed)
        for name in STAGE_FIELDS:
            setattr(p, name, object())
        return p

    base = PipelineSettings()
    same = analysed(); same.restyle(base, 0)
    assert all(getattr(same, n) is not None for n in STAGE_FIELDS)
    reseeded = analysed(); reseeded.restyle(base, 5)
    assert reseeded.motion is None and reseeded.scene is not None and reseeded.seed == 5
    calmer = analysed(); calmer.restyle(base.with_overrides({"motion": {"head_motion": 0.2}}), 0)
    assert calmer.motion is None and calmer.emotion is not None
    bigger = analysed(); bigger.restyle(base.with_overrides({"render": {"size": 768}}), 0)
    assert all(getattr(bigger, n) is None for n in STAGE_FIELDS)
    assert bigger.settings.render.size == 768
    other_model = analysed()
    other_model.restyle(dataclasses.replace(base, emotion=dataclasses.replace(base.emotion, text_backend="transformers")), 0)
    assert other_model.emotion is None and other_model.transcript is not None
