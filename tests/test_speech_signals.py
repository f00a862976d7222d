"""Speech emotion and valence/arousal signals (pipelines/emotion/speech_signals.py).

The embedded prosody backends are checked on a clip whose second half is the same speech
pitched up 3 semitones and twice as loud; the heavy backends on tiny random models built and
saved here (nothing is downloaded: HF_HUB_OFFLINE=1)."""
import math
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from pipelines.errors import InputError, MissingWeightsError
from pipelines.types import EMOTIONS, Segment, SignalEstimate
from tiny_emotion import tiny_wav2vec2_config

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HIGH_AROUSAL = ("happy", "angry", "surprised", "fearful")


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def original(speech_path):
    from pipelines.audio import compute_prosody, load_speech

    speech = load_speech(speech_path)
    return speech, compute_prosody(speech)


@pytest.fixture(scope="module")
def calm_then_aroused(original):
    """[original speech][same speech +3 semitones, x2 gain]: one speaker, two halves."""
    import librosa
    from pipelines.audio import compute_prosody
    from pipelines.audio.decode import normalise_for_analysis

    speech, _ = original
    calm = speech.samples * 0.45  # headroom so the loud half does not clip
    aroused = 2.0 * librosa.effects.pitch_shift(calm, sr=speech.sample_rate, n_steps=3)
    samples = np.clip(np.concatenate([calm, aroused]), -1, 1).astype(np.float32)
    clip = replace(speech, samples=samples, duration=len(samples) / speech.sample_rate,
                   analysis=normalise_for_analysis(samples, speech.sample_rate))
    half = speech.duration
    return clip, compute_prosody(clip), Segment(0.0, half), Segment(half, 2 * half)


def _check_estimate(est: SignalEstimate, signal: str):
    assert est.signal == signal
    assert 0.0 <= est.confidence <= 1.0
    for value in (est.valence, est.arousal):
        assert value is None or (-1.0 <= value <= 1.0 and math.isfinite(value))
    if est.probs:
        assert set(est.probs) == set(EMOTIONS)
        assert all(0.0 <= p <= 1.0 for p in est.probs.values())
        assert sum(est.probs.values()) == pytest.approx(1.0, abs=1e-6)
    assert all(math.isfinite(v) for v in est.details.values())


# --------------------------------------------------------------------------------------------
# Embedded prosody backends
# --------------------------------------------------------------------------------------------

def test_aroused_half_has_higher_arousal_than_calm_half(calm_then_aroused):
    from pipelines.emotion.speech_signals import ProsodySpeechEmotion, ProsodyValenceArousal

    clip, prosody, calm, aroused = calm_then_aroused
    va, ser = ProsodyValenceArousal(), ProsodySpeechEmotion()
    va_calm, va_aroused = va(clip, prosody, calm), va(clip, prosody, aroused)
    assert va_aroused.arousal > va_calm.arousal + 0.3
    assert va_aroused.arousal > 0 > va_calm.arousal  # relative to the speaker's baseline
    # The louder, higher half sits above the baseline, the original below it.
    for name in ("z_energy_level", "z_pitch_level"):
        assert va_aroused.details[name] > 0 > va_calm.details[name]

    ser_calm, ser_aroused = ser(clip, prosody, calm), ser(clip, prosody, aroused)
    assert ser_aroused.arousal > ser_calm.arousal
    mass = lambda est: sum(est.probs[e] for e in HIGH_AROUSAL)  # noqa: E731
    assert mass(ser_aroused) > mass(ser_calm) + 0.2
    assert ser_calm.probs["sad"] + ser_calm.probs["neutral"] > 0.5


def test_ordinary_reading_stays_mostly_neutral(original):
    """The same neutral reading three times: segment-to-segment variation is not emotion."""
    from pipelines.audio import compute_prosody
    from pipelines.audio.decode import normalise_for_analysis
    from pipelines.emotion.speech_signals import ProsodySpeechEmotion

    speech, _ = original
    samples = np.tile(speech.samples, 3)
    clip = replace(speech, samples=samples, duration=len(samples) / speech.sample_rate,
                   analysis=normalise_for_analysis(samples, speech.sample_rate))
    prosody = compute_prosody(clip)
    ser = ProsodySpeechEmotion()
    step = 2.5
    ests = [ser(clip, prosody, Segment(i * step, (i + 1) * step))
            for i in range(int(clip.duration // step))]
    assert np.mean([e.probs["neutral"] for e in ests]) > 0.45
    assert all(max(p for k, p in e.probs.items() if k != "neutral") < 0.6 for e in ests)


def test_both_backends_share_one_feature_extraction(calm_then_aroused):
    from pipelines.emotion.speech_signals import (FEATURES, ProsodySpeechEmotion,
                                                  ProsodyValenceArousal)

    clip, prosody, _, aroused = calm_then_aroused
    a = ProsodySpeechEmotion()(clip, prosody, aroused).details
    b = ProsodyValenceArousal()(clip, prosody, aroused).details
    assert {f"z_{k}" for k in FEATURES} <= set(a)
    assert all(a[f"z_{k}"] == b[f"z_{k}"] for k in FEATURES)


def test_single_segment_clip_is_its_own_baseline_low_confidence_near_neutral(
        original, calm_then_aroused):
    from pipelines.emotion.speech_signals import ProsodySpeechEmotion, ProsodyValenceArousal

    speech, prosody = original
    whole = Segment(0.0, speech.duration)
    ser = ProsodySpeechEmotion()(speech, prosody, whole)
    va = ProsodyValenceArousal()(speech, prosody, whole)
    assert ser.confidence < 0.1 and va.confidence < 0.1
    assert ser.probs["neutral"] > 0.8
    assert ser.details["baseline_speech_seconds"] == pytest.approx(0.0)
    # The same speech as one of two segments is trusted far more.
    clip, clip_prosody, calm, _ = calm_then_aroused
    assert ProsodySpeechEmotion()(clip, clip_prosody, calm).confidence > 3 * ser.confidence


def test_short_segment_gets_lower_confidence_than_long(calm_then_aroused):
    from pipelines.emotion.speech_signals import ProsodySpeechEmotion, ProsodyValenceArousal

    clip, prosody, calm, _ = calm_then_aroused
    long_seg, short_seg = Segment(calm.start + 1.0, calm.start + 4.0), \
        Segment(calm.start + 2.0, calm.start + 2.5)
    for backend in (ProsodySpeechEmotion(), ProsodyValenceArousal()):
        long_est, short_est = backend(clip, prosody, long_seg), backend(clip, prosody, short_seg)
        assert short_est.confidence < 0.5 * long_est.confidence
        assert long_est.confidence > 0.2


def test_outputs_in_range_for_any_segment(calm_then_aroused):
    from pipelines.emotion.speech_signals import ProsodySpeechEmotion, ProsodyValenceArousal

    clip, prosody, calm, aroused = calm_then_aroused
    segments = [calm, aroused, Segment(0.0, clip.duration), Segment(3.0, 3.05),
                Segment(5.0, 5.0), Segment(clip.duration - 0.3, clip.duration + 5.0),
                Segment(clip.duration + 1, clip.duration + 2)]
    ser, va = ProsodySpeechEmotion(), ProsodyValenceArousal()
    assert (ser.name, va.name) == ("prosody", "prosody-regression")
    for seg in segments:
        e = ser(clip, prosody, seg)
        _check_estimate(e, "speech_emotion")
        assert e.backend == "prosody"
        v = va(clip, prosody, seg)
        _check_estimate(v, "valence_arousal")
        assert v.backend == "prosody-regression" and not v.probs
        assert v.valence is not None and abs(v.valence) <= 0.5  # prosodic valence is weak
    empty = ser(clip, prosody, Segment(5.0, 5.0))
    assert empty.confidence == 0.0 and empty.probs["neutral"] == 1.0
    assert va(clip, prosody, Segment(5.0, 5.0)).confidence == 0.0


def test_clip_features_are_cached_per_instance_and_deterministic(calm_then_aroused):
    from pipelines.emotion.speech_signals import ProsodySpeechEmotion

    clip, prosody, calm, aroused = calm_then_aroused
    a, b = ProsodySpeechEmotion(), ProsodySpeechEmotion()
    first = a(clip, prosody, aroused)
    frames = a._cache[2]
    assert a(clip, prosody, calm) and a._cache[2] is frames  # same clip: one STFT
    assert a(clip, prosody, aroused) == first == b(clip, prosody, aroused)


def test_importing_the_module_does_not_import_transformers():
    code = ("import sys, pipelines.emotion.speech_signals as m; "
            "m.make_speech_emotion(); m.make_valence_arousal(); "
            "assert 'transformers' not in sys.modules and 'torch' not in sys.modules")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)


# --------------------------------------------------------------------------------------------
# Heavy backends with tiny models
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_ser_model(tmp_path_factory):
    from tiny_emotion import build_tiny_speech_emotion

    return build_tiny_speech_emotion(tmp_path_factory.mktemp("tiny_ser"))


@pytest.fixture(scope="module")
def tiny_va_model(tmp_path_factory):
    from tiny_emotion import build_tiny_valence_arousal

    folder, bare = tmp_path_factory.mktemp("tiny_va"), tmp_path_factory.mktemp("tiny_va_no_extractor")
    build_tiny_valence_arousal(folder, bare)  # bare: no preprocessor_config.json, defaults used
    return folder, bare


def test_transformers_speech_emotion_maps_labels_and_is_deterministic(tiny_ser_model,
                                                                      calm_then_aroused):
    from pipelines.emotion.speech_signals import TransformersSpeechEmotion

    clip, prosody, calm, _ = calm_then_aroused
    backend = TransformersSpeechEmotion(str(tiny_ser_model))
    assert backend.name == f"transformers:{tiny_ser_model}"
    seg = Segment(calm.start + 1.0, calm.start + 3.0)
    est = backend(clip, prosody, seg)
    _check_estimate(est, "speech_emotion")
    assert set(est.probs) == set(EMOTIONS)
    assert all(est.probs[e] == 0.0 for e in ("surprised", "fearful", "disgusted", "contempt"))
    assert all(f"model:{k}" in est.details for k in ("neu", "hap", "sad", "ang"))
    assert est.valence is not None and est.arousal is not None
    again = backend(clip, prosody, seg)
    assert again.probs == est.probs and again.confidence == est.confidence
    fresh = TransformersSpeechEmotion(str(tiny_ser_model))(clip, prosody, seg)
    assert fresh.probs == pytest.approx(est.probs, abs=1e-6)
    tiny = backend(clip, prosody, Segment(2.0, 2.05))  # padded to 0.5 s
    _check_estimate(tiny, "speech_emotion")


def test_wav2vec2_valence_arousal_roundtrip_and_range(tiny_va_model, calm_then_aroused):
    from pipelines.emotion.speech_signals import (VA_OUTPUTS, Wav2Vec2ForValenceArousal,
                                                  Wav2Vec2ValenceArousal)

    folder, bare = tiny_va_model
    loaded = Wav2Vec2ForValenceArousal.from_pretrained(folder, local_files_only=True)
    assert [loaded.config.id2label[i] for i in range(3)] == list(VA_OUTPUTS)
    clip, prosody, _, aroused = calm_then_aroused
    seg = Segment(aroused.start + 0.5, aroused.start + 2.5)
    backend = Wav2Vec2ValenceArousal(str(folder))
    est = backend(clip, prosody, seg)
    _check_estimate(est, "valence_arousal")
    assert est.valence is not None and est.arousal is not None and not est.probs
    assert {"raw_arousal", "raw_valence", "raw_dominance", "dominance"} <= set(est.details)
    assert backend(clip, prosody, seg) == est
    assert Wav2Vec2ValenceArousal(str(bare))(clip, prosody, seg).details == \
        pytest.approx(est.details, abs=1e-5)
    short = backend(clip, prosody, Segment(3.0, 3.1))
    _check_estimate(short, "valence_arousal")
    assert short.confidence < est.confidence


def _assert_missing(make, needle: str):
    with pytest.raises(MissingWeightsError) as info:
        make()
    message = str(info.value)
    assert needle in message and "\n" not in message
    assert "Traceback" not in message
    return message


def test_missing_or_invalid_models_raise_one_clear_error(tmp_path, calm_then_aroused,
                                                         monkeypatch):
    from transformers import Wav2Vec2Model
    from pipelines.emotion.speech_signals import (TransformersSpeechEmotion,
                                                  Wav2Vec2ValenceArousal)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clip, prosody, calm, _ = calm_then_aroused
    missing = tmp_path / "no_such_model"
    for cls in (TransformersSpeechEmotion, Wav2Vec2ValenceArousal):
        backend = cls(str(missing))  # construction is cheap; loading reports
        msg = _assert_missing(lambda: backend(clip, prosody, calm), str(missing))
        assert "folder" in msg
        hub_id = "synchrorama-tests/definitely-not-cached-model"
        msg = _assert_missing(lambda: cls(hub_id).load(), hub_id)
        assert f"hf download {hub_id}" in msg
    # A speech model without an emotion head is refused, not silently randomised.
    base = tmp_path / "base"
    Wav2Vec2Model(tiny_wav2vec2_config()).save_pretrained(base)
    _assert_missing(lambda: Wav2Vec2ValenceArousal(str(base)).load(), "head")
    _assert_missing(lambda: TransformersSpeechEmotion(str(base)).load(), "head")


def test_classifier_without_emotion_labels_is_refused(tmp_path):
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification
    from pipelines.emotion.speech_signals import TransformersSpeechEmotion

    folder = tmp_path / "generic"
    Wav2Vec2ForSequenceClassification(tiny_wav2vec2_config(num_labels=3)).save_pretrained(folder)
    Wav2Vec2FeatureExtractor().save_pretrained(folder)
    _assert_missing(lambda: TransformersSpeechEmotion(str(folder)).load(), "labels")


def test_label_table_covers_common_sets():
    from pipelines.emotion.speech_signals import map_label

    assert [map_label(x) for x in ("neu", "hap", "sad", "ang")] == \
        ["neutral", "happy", "sad", "angry"]
    ravdess = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
    assert [map_label(x) for x in ravdess] == \
        ["neutral", "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
    assert [map_label(x) for x in ("Fear", "SURPRISE", "Happiness", "anger", "ps")] == \
        ["fearful", "surprised", "happy", "angry", "surprised"]
    assert map_label("LABEL_0") is None and map_label("other") is None


def test_factories(tiny_va_model):
    from pipelines.emotion.speech_signals import (ProsodySpeechEmotion, ProsodyValenceArousal,
                                                  TransformersSpeechEmotion,
                                                  Wav2Vec2ValenceArousal, make_speech_emotion,
                                                  make_valence_arousal)

    assert isinstance(make_speech_emotion(), ProsodySpeechEmotion)
    assert isinstance(make_valence_arousal(), ProsodyValenceArousal)
    folder = str(tiny_va_model[0])
    assert isinstance(make_speech_emotion("transformers", folder), TransformersSpeechEmotion)
    va = make_valence_arousal("wav2vec2", folder)
    assert isinstance(va, Wav2Vec2ValenceArousal) and va.model_id == folder
    assert make_valence_arousal(f"transformers:{folder}").model_id == folder
    _assert_missing(lambda: make_speech_emotion("transformers"), "needs a model")
    with pytest.raises(InputError):
        make_speech_emotion("nonsense")
    with pytest.raises(InputError):
        make_valence_arousal("nonsense")
