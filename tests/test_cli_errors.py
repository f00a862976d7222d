"""Every bad input: exit non-zero, one clear line on stderr, no traceback, no output file."""
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from conftest import ROOT


def run_cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "launch.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)


def assert_clean_failure(r, out, *words):
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines and lines[-1].startswith("error: "), r.stderr
    for w in words:
        assert w.lower() in lines[-1].lower(), lines[-1]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if ".partial" in p.name]


@pytest.fixture
def out(tmp_path):
    return tmp_path / "clip.mp4"


def test_photo_without_a_face(tmp_path, out, speech_path):
    img = tmp_path / "wall.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (300, 1))).convert("RGB").save(img)
    r = run_cli("render", "--portrait", img, "--audio", speech_path, "--out", out)
    assert_clean_failure(r, out, "face")


def test_tiny_face(tmp_path, out, portrait_path, speech_path):
    canvas = Image.new("RGB", (1600, 1600), (200, 200, 200))
    canvas.paste(Image.open(portrait_path).resize((120, 120)), (700, 700))  # face ≈ 22 px
    canvas.save(tmp_path / "far.png")
    r = run_cli("render", "--portrait", tmp_path / "far.png", "--audio", speech_path, "--out", out)
    assert_clean_failure(r, out, "22 pixels wide", "at least 24 pixels", "closer")


def test_text_file_as_photo(tmp_path, out, speech_path):
    (tmp_path / "me.jpg").write_text("not a picture")
    r = run_cli("render", "--portrait", tmp_path / "me.jpg", "--audio", speech_path, "--out", out)
    assert_clean_failure(r, out, "me.jpg")


def test_corrupt_audio(tmp_path, out, portrait_path):
    (tmp_path / "take.mp3").write_bytes(b"\x00\x01garbage" * 100)
    r = run_cli("render", "--portrait", portrait_path, "--audio", tmp_path / "take.mp3", "--out", out)
    assert_clean_failure(r, out, "take.mp3")


def test_silent_audio(tmp_path, out, portrait_path):
    sf.write(tmp_path / "silence.wav", np.zeros(16000 * 3, np.float32), 16000)
    r = run_cli("render", "--portrait", portrait_path, "--audio", tmp_path / "silence.wav", "--out", out)
    assert_clean_failure(r, out, "silent")


def test_audio_longer_than_the_limit(out, portrait_path, speech_path):
    r = run_cli("render", "--portrait", portrait_path, "--audio", speech_path, "--max-duration", 3,
                "--out", out)
    assert_clean_failure(r, out, "long")


def test_missing_files(tmp_path, out, speech_path):
    r = run_cli("render", "--portrait", tmp_path / "nope.jpg", "--audio", speech_path, "--out", out)
    assert_clean_failure(r, out, "not found")


def test_output_must_be_mp4(tmp_path, portrait_path, speech_path):
    out = tmp_path / "clip.avi"
    r = run_cli("render", "--portrait", portrait_path, "--audio", speech_path, "--out", out)
    assert_clean_failure(r, out, ".mp4")


def test_unknown_emotion_and_preset(out, portrait_path, speech_path):
    r = run_cli("render", "--portrait", portrait_path, "--audio", speech_path, "--emotion", "joyful",
                "--out", out)
    assert_clean_failure(r, out, "joyful")
    r = run_cli("render", "--portrait", portrait_path, "--audio", speech_path, "--preset", "loud",
                "--out", out)
    assert_clean_failure(r, out, "preset")


def test_mismatched_script_still_renders_with_a_warning(tmp_path, out, portrait_path, speech_path):
    r = run_cli("render", "--portrait", portrait_path, "--audio", speech_path, "--size", 256,
                "--transcript", "the quick brown fox jumps over the lazy dog every single morning",
                "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "script" in r.stderr.lower()
    assert out.exists()
