"""Text sentiment signal: VADER heuristics and the transformers backend on tiny local models."""
from __future__ import annotations

import math
import socket

import pytest

from pipelines.emotion.text_sentiment import (
    TransformersTextSentiment,
    VaderTextSentiment,
    label_to_emotions,
    make_text_sentiment,
)
from pipelines.errors import InputError, MissingWeightsError
from pipelines.types import EMOTIONS
from tiny_emotion import build_tiny_classifier

def top(est) -> str:
    return max(est.probs, key=est.probs.get)


def check_estimate(est) -> None:
    assert est.signal == "text_sentiment"
    assert set(est.probs) == set(EMOTIONS)
    assert math.isclose(sum(est.probs.values()), 1.0, abs_tol=1e-6)
    assert all(0.0 <= p <= 1.0 for p in est.probs.values())
    assert -1.0 <= est.valence <= 1.0
    assert -1.0 <= est.arousal <= 1.0
    assert 0.0 <= est.confidence <= 1.0


# --------------------------------------------------------------------------------------------
# VADER
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vader():
    return VaderTextSentiment()


def test_vader_positive(vader):
    est = vader("I love this, it is absolutely wonderful and I am so happy!")
    check_estimate(est)
    assert est.backend == "vader"
    assert est.valence > 0.4
    assert top(est) == "happy"
    assert est.arousal > 0
    assert {"compound", "pos", "neg", "neu", "n_words"} <= set(est.details)


def test_vader_negative(vader):
    est = vader("This is a terrible, awful, miserable day and everything went wrong.")
    check_estimate(est)
    assert est.valence < -0.4
    assert top(est) != "happy"
    assert est.probs["happy"] < 0.1


def test_vader_angry_keywords(vader):
    est = vader("I am so angry, I hate this")
    check_estimate(est)
    assert top(est) == "angry"


def test_vader_keyword_bias_and_default(vader):
    assert top(vader("I am so scared and afraid of what will happen")) == "fearful"
    assert top(vader("That food was disgusting and gross")) == "disgusted"
    # Negative without a keyword defaults to sad.
    assert top(vader("This is terrible and awful")) == "sad"
    # A negated keyword does not bias ("not angry" is not anger).
    est = vader("I am not angry, just terribly sad")
    assert est.probs["sad"] > est.probs["angry"]


def test_vader_negation_lowers_valence(vader):
    assert vader("not good").valence < vader("good").valence


def test_vader_empty_and_wordless(vader):
    for text in ("", "   ", "...", None):
        est = vader(text)
        check_estimate(est)
        assert est.confidence == 0.0
        assert top(est) == "neutral"


def test_vader_confidence_grows_with_evidence(vader):
    short = vader("good")
    long = vader("I am so incredibly happy and grateful today, this is the best and most "
                 "wonderful news I have ever had!")
    assert 0.0 < short.confidence < long.confidence <= 0.8
    neutral = vader("The meeting is at three in the afternoon in room four.")
    assert top(neutral) == "neutral"
    assert neutral.confidence < long.confidence


def test_vader_exclamations_raise_arousal(vader):
    calm = vader("This is great.")
    excited = vader("This is GREAT!!!")
    assert excited.arousal > calm.arousal
    assert excited.probs["surprised"] > calm.probs["surprised"]


def test_vader_rejects_non_text(vader):
    with pytest.raises(InputError):
        vader(42)


# --------------------------------------------------------------------------------------------
# Transformers, on tiny models built here (nothing from the hub)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("text_models")
    return {
        "emotion": build_tiny_classifier(root / "emotion", ["joy", "sadness", "anger", "neutral"]),
        "sentiment": build_tiny_classifier(root / "sentiment",
                                           ["negative", "neutral", "positive"], dominant=2),
        "generic_neg": build_tiny_classifier(root / "generic",
                                             ["LABEL_0", "LABEL_1", "LABEL_2"], dominant=0),
    }


def test_transformers_emotion_head(tiny_models):
    clf = TransformersTextSentiment(str(tiny_models["emotion"]))
    assert clf.name == f"transformers:{tiny_models['emotion']}"
    est = clf("I am so happy today, this is wonderful news")
    check_estimate(est)
    assert est.backend == clf.name
    # Only the categories the labels map to receive mass: joy->happy, sadness->sad, anger->angry.
    for emotion in ("surprised", "fearful", "disgusted", "contempt"):
        assert est.probs[emotion] == 0.0
    raw = {k.split(":", 1)[1]: v for k, v in est.details.items() if k.startswith("label:")}
    assert set(raw) == {"joy", "sadness", "anger", "neutral"}
    assert math.isclose(est.probs["happy"], raw["joy"], abs_tol=1e-6)
    assert math.isclose(est.probs["sad"], raw["sadness"], abs_tol=1e-6)
    assert math.isclose(est.probs["angry"], raw["anger"], abs_tol=1e-6)
    # Deterministic.
    again = clf("I am so happy today, this is wonderful news")
    assert again.probs == est.probs and again.valence == est.valence


def test_transformers_truncates_long_text(tiny_models):
    clf = TransformersTextSentiment(str(tiny_models["emotion"]))
    est = clf(" ".join(["happy joy love great"] * 100))
    check_estimate(est)
    assert est.details["n_tokens"] <= 32
    assert est.details["truncated"] == 1.0


def test_transformers_sentiment_head(tiny_models):
    est = make_text_sentiment("transformers", str(tiny_models["sentiment"]))("it was a day")
    check_estimate(est)
    assert top(est) == "happy"
    assert est.valence > 0
    assert est.confidence > 0.9


def test_transformers_generic_labels(tiny_models):
    # LABEL_0/1/2 without names are negative/neutral/positive; LABEL_0 dominates here.
    est = make_text_sentiment(f"transformers:{tiny_models['generic_neg']}")("it was a day")
    check_estimate(est)
    assert est.valence < 0
    assert top(est) == "sad"
    assert est.probs["happy"] < 0.01


def test_transformers_empty_text(tiny_models):
    est = TransformersTextSentiment(str(tiny_models["emotion"]))("  ")
    check_estimate(est)
    assert est.confidence == 0.0 and top(est) == "neutral"


def test_transformers_missing_folder(tmp_path):
    missing = tmp_path / "no_such_model"
    clf = TransformersTextSentiment(str(missing))
    with pytest.raises(MissingWeightsError) as err:
        clf("hello")
    assert str(missing) in str(err.value)
    assert "\n" not in str(err.value)


def test_a_gpu_device_without_a_gpu_says_how_to_run_on_the_cpu(tiny_models):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(InputError) as err:
        TransformersTextSentiment(str(tiny_models["emotion"]), device="cuda")("hello")
    assert "needs an NVIDIA graphics card" in str(err.value)
    assert "emotion.device" in str(err.value) and "CPU renderer" not in str(err.value)


def test_transformers_invalid_folder(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(MissingWeightsError) as err:
        TransformersTextSentiment(str(tmp_path)).load()
    assert str(tmp_path) in str(err.value)


def test_transformers_uncached_hub_id_never_touches_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model_id = "synchrorama-tests/definitely-not-cached-emotion-model"
    with pytest.raises(MissingWeightsError) as err:
        TransformersTextSentiment(model_id)("hello there")
    message = str(err.value)
    assert model_id in message
    assert "hf download" in message
    assert attempts == []


# --------------------------------------------------------------------------------------------
# Label table and factory
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("label,emotion", [
    ("joy", "happy"), ("Love", "happy"), ("optimism", "happy"), ("sadness", "sad"),
    ("grief", "sad"), ("anger", "angry"), ("annoyance", "angry"), ("fear", "fearful"),
    ("nervousness", "fearful"), ("surprise", "surprised"), ("disgust", "disgusted"),
    ("neutral", "neutral"), ("POSITIVE", "happy"), ("POS", "happy"), ("NEU", "neutral"),
    ("5 stars", "happy"), ("1 star", "sad"), ("something_else", "neutral"),
])
def test_label_table(label, emotion):
    dist = label_to_emotions(label)
    assert math.isclose(sum(dist.values()), 1.0)
    assert max(dist, key=dist.get) == emotion


def test_factory():
    assert isinstance(make_text_sentiment(), VaderTextSentiment)
    clf = make_text_sentiment("transformers", "some/model")
    assert isinstance(clf, TransformersTextSentiment) and clf.name == "transformers:some/model"
    with pytest.raises(InputError):
        make_text_sentiment("transformers")
    with pytest.raises(InputError):
        make_text_sentiment("nope")
