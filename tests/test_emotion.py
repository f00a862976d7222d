"""Fusion, segments and overrides of the multimodal emotion embedding."""
import json

import numpy as np
import pytest

from pipelines.emotion import (CATEGORY_VA, VECTOR_FIELDS, apply_overrides, fuse,
                               load_emotion_track_file, merge_segments, segment_speech,
                               split_segment)
from pipelines.errors import InputError
from pipelines.project import EmotionOverride, Project
from pipelines.types import (EMOTIONS, EmotionTrack, Prosody, Segment, SegmentEmotion,
                             SignalEstimate, Transcript, Word)


def sig(signal, label=None, valence=None, arousal=None, confidence=0.8):
    probs = {e: (0.9 if e == label else 0.1 / 7) for e in EMOTIONS} if label else {}
    return SignalEstimate(signal, "test", probs, valence, arousal, confidence)


def test_agreeing_signals_give_a_clear_emotion():
    f = fuse([sig("text_sentiment", "happy", 0.8, 0.3), sig("speech_emotion", "happy", 0.5, 0.6),
              sig("valence_arousal", None, 0.4, 0.5)])
    assert f.label == "happy" and f.valence > 0.5 and f.intensity > 0.6
    assert abs(sum(f.probs.values()) - 1) < 1e-9
    assert len(f.vector) == len(VECTOR_FIELDS) == 20


def test_no_evidence_stays_neutral():
    f = fuse([sig("text_sentiment", "happy", 0.9, 0.5, confidence=0.0),
              sig("speech_emotion", "angry", -0.7, 0.8, confidence=0.0)])
    assert f.label == "neutral" and f.intensity < 0.05 and abs(f.valence) < 1e-6


def test_one_signal_missing_still_fuses():
    f = fuse([sig("text_sentiment", "sad", -0.7, -0.2)])
    assert f.label == "sad" and f.valence < -0.5
    assert set(f.contributions) == {"text_sentiment"}
    assert f.vector[VECTOR_FIELDS.index("speech_emotion_confidence")] == 0.0


def test_text_alone_cannot_override_a_clearly_contrary_voice():
    text = sig("text_sentiment", "happy", 0.9, 0.3, confidence=0.8)
    angry_voice = [sig("speech_emotion", "angry", -0.6, 0.8, confidence=0.7),
                   sig("valence_arousal", None, -0.5, 0.7, confidence=0.6)]
    neutral_voice = [sig("speech_emotion", "neutral", 0.0, 0.0, confidence=0.7),
                     sig("valence_arousal", None, 0.0, 0.0, confidence=0.6)]
    contrary = fuse([text, *angry_voice])
    assert contrary.valence < 0 and contrary.label == "angry"
    with_calm_voice = fuse([text, *neutral_voice])
    assert with_calm_voice.valence > 0.3 and with_calm_voice.label == "happy"


def _track(n=3):
    segs = [Segment(float(i), float(i + 1), f"s{i}") for i in range(n)]
    out = []
    for s in segs:
        f = fuse([sig("text_sentiment", "happy", 0.6, 0.2)])
        out.append(SegmentEmotion(segment=s, label=f.label, intensity=f.intensity,
                                  valence=f.valence, arousal=f.arousal, fused=f))
    return EmotionTrack(out)


def test_override_one_segment_and_back_to_auto():
    track = _track()
    edited = apply_overrides(track, [EmotionOverride(segment=1, label="sad", intensity=0.9)])
    assert [s.label for s in edited.segments] == ["happy", "sad", "happy"]
    assert edited.segments[1].source == "override"
    assert (edited.segments[1].valence, edited.segments[1].arousal) == CATEGORY_VA["sad"]
    # Applying again, or from the edited track, gives the same; no overrides = detected.
    assert apply_overrides(edited, [EmotionOverride(segment=1, label="sad", intensity=0.9)]) == edited
    assert apply_overrides(edited, []) == track


def test_override_sliders_and_bad_values():
    track = _track()
    e = apply_overrides(track, [EmotionOverride(segment=-1, valence=-0.2, arousal=0.9)])
    assert all(s.valence == -0.2 and s.arousal == 0.9 and s.label == "happy" for s in e.segments)
    with pytest.raises(InputError, match="only 3 segments"):
        apply_overrides(track, [EmotionOverride(segment=5, label="sad")])
    with pytest.raises(InputError, match="valence"):
        apply_overrides(track, [EmotionOverride(segment=0, valence=2.0)])


def test_emotion_track_file(tmp_path):
    p = tmp_path / "track.json"
    p.write_text(json.dumps({"segments": [{"segment": 0, "label": "angry", "intensity": 0.5},
                                          {"segment": 2, "label": "auto", "arousal": -0.4}]}))
    ovs = load_emotion_track_file(p)
    assert ovs[0] == EmotionOverride(segment=0, label="angry", intensity=0.5)
    assert ovs[1].label is None and ovs[1].arousal == -0.4
    p.write_text('[{"segment": 0, "label": "joyful"}]')
    with pytest.raises(InputError, match="joyful"):
        load_emotion_track_file(p)
    with pytest.raises(InputError, match="not found"):
        load_emotion_track_file(tmp_path / "missing.json")


def test_overrides_and_segments_survive_a_saved_project(tmp_path, portrait_path, speech_path):
    project = Project.new(portrait_path, speech_path)
    project.segments = [Segment(0.0, 3.0, "a"), Segment(3.0, 7.1, "b")]
    project.emotion_overrides = [EmotionOverride(segment=1, label="surprised", intensity=0.4,
                                                 valence=0.1, arousal=0.6)]
    project.save(tmp_path / "p.json")
    back = Project.load(tmp_path / "p.json")
    assert back.segments == project.segments
    assert back.emotion_overrides == project.emotion_overrides


def _prosody(speech_mask, hop=0.01):
    n = len(speech_mask)
    z = np.zeros(n)
    return Prosody(hop, z, np.asarray(speech_mask, float), z, np.zeros(n, bool),
                   np.asarray(speech_mask, bool))


def test_segments_split_at_pauses_and_sentence_ends():
    # 0-2 s speech, 0.6 s pause, 2.6-5 s speech.
    mask = np.r_[np.ones(200), np.zeros(60), np.ones(240)]
    words = [Word("hello", 0.1, 0.6), Word("there.", 0.7, 1.9), Word("how", 2.7, 3.0),
             Word("are", 3.1, 3.4), Word("you", 3.5, 4.9)]
    segs = segment_speech(Transcript("hello there. how are you", words), _prosody(mask), 5.0)
    assert len(segs) == 2 and abs(segs[0].end - 2.3) < 0.1
    assert segs[0].text == "hello there." and segs[1].text == "how are you"
    assert segs[0].start == 0.0 and segs[-1].end == 5.0
    # Without words, voice activity alone finds the pause.
    assert len(segment_speech(Transcript(""), _prosody(mask), 5.0)) == 2


def test_merge_and_split():
    segs = [Segment(0, 2, "a b"), Segment(2, 5, "c")]
    merged = merge_segments(segs, 0)
    assert merged == [Segment(0, 5, "a b c")]
    t = Transcript("a b c", [Word("a", 0.1, 0.5), Word("b", 1.0, 1.5), Word("c", 3, 4)])
    split = split_segment(merged, 0, 2.5, t)
    assert [(s.start, s.end, s.text) for s in split] == [(0, 2.5, "a b"), (2.5, 5, "c")]
    with pytest.raises(InputError):
        split_segment(merged, 0, 7.0, t)
    with pytest.raises(InputError):
        merge_segments(merged, 0)


@pytest.fixture(scope="module")
def pipeline():
    from pipelines.pipeline import SynchroRaMaPipeline

    return SynchroRaMaPipeline.from_settings()


def test_positive_and_negative_scripts_give_opposite_valence(pipeline, speech_path):
    happy = pipeline.analyze(speech_path, "I am so happy today, this is wonderful and I love it!")
    sad = pipeline.analyze(speech_path, "This is terrible. I am so sad and I hate everything.")
    v_happy = np.mean([s.fused.valence for s in happy.emotion.segments])
    v_sad = np.mean([s.fused.valence for s in sad.emotion.segments])
    assert v_happy > 0.4 and v_sad < -0.4
    assert happy.emotion.segments[0].label == "happy"
    assert sad.emotion.segments[0].label in ("sad", "angry", "disgusted", "fearful")
    # Every segment carries all three signals and the 20-number embedding.
    for seg in happy.emotion.segments:
        assert {s.signal for s in seg.signals} == {"text_sentiment", "speech_emotion", "valence_arousal"}
        assert len(seg.fused.vector) == 20


def test_analyze_command_writes_the_documented_json(tmp_path, speech_path, speech_script):
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "analysis.json"
    r = subprocess.run([sys.executable, str(ROOT / "launch.py"), "analyze", "--audio", str(speech_path),
                        "--transcript", speech_script, "--json", str(out)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    seg = json.loads(out.read_text())["segments"][0]
    assert {"start", "end", "text", "text_sentiment", "speech_emotion", "valence_arousal", "fused"} <= set(seg)
    assert set(seg["fused"]["probs"]) == set(EMOTIONS) and len(seg["fused"]["vector"]) == 20
    assert "fused" in r.stdout and "dashwood" in r.stdout.lower()


def test_heavy_text_model_through_the_cli(tmp_path, speech_path):
    """A transformers text classifier (tiny, random, built here) goes through the same CLI and
    loading path a user's real model takes; a missing model is one clear error line."""
    import subprocess
    import sys

    from conftest import ROOT
    from tiny_emotion import build_tiny_classifier

    model = tmp_path / "tiny-sentiment"
    build_tiny_classifier(model, ["negative", "neutral", "positive"], dominant=2)
    out = tmp_path / "a.json"
    cmd = [sys.executable, str(ROOT / "launch.py"), "analyze", "--audio", str(speech_path),
           "--transcript", "a plain sentence", "--json", str(out)]
    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run(cmd + ["--text-model", str(model), "--emotion-device", "auto"],
                       capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stderr
    text = json.loads(out.read_text())["segments"][0]["text_sentiment"]
    assert text["backend"] == f"transformers:{model}" and text["valence"] > 0
    import torch

    if not torch.cuda.is_available():  # asking for the GPU where there is none: how to go on
        r = subprocess.run(cmd + ["--text-model", str(model), "--emotion-device", "cuda"],
                           capture_output=True, text=True, timeout=180, cwd=ROOT, env=env)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "--emotion-device cpu" in r.stderr.strip().splitlines()[-1]
    r = subprocess.run(cmd + ["--text-model", str(tmp_path / "nope")], capture_output=True,
                       text=True, timeout=180, cwd=ROOT, env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: ") and "nope" in r.stderr
