"""The heavy emotion backends on a CUDA GPU (issue 3): the tiny text classifier, audio emotion
classifier and valence/arousal regressor of tiny_emotion.py, loaded through the product's backends
with device="cuda" (and "auto", which picks the GPU), give what the same models give on the CPU.
Every test here is skipped, saying why, where torch sees no CUDA device (`-m gpu` selects only the
GPU tests). Nothing here needs the CPU stack (MediaPipe, pocketsphinx, librosa): the speech is
synthesised at the backends' own 16 kHz."""
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from pipelines.types import EMOTIONS, MediaRef, Prosody, Segment, Speech  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA GPU: torch.cuda.is_available() is False here"),
]

SR = 16000


@pytest.fixture(scope="module")
def speech():
    """4 s of a voiced-sounding signal: a gliding 120-220 Hz pulse train with formant-like
    harmonics and syllable-rate loudness, so the two halves differ."""
    t = np.arange(4 * SR) / SR
    f0 = 120 + 100 * (t / t[-1])
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.2 + 0.8 * np.clip(np.sin(2 * np.pi * 4 * t), 0, 1)
    samples = (0.3 * voice * envelope / np.abs(voice).max()).astype(np.float32)
    return Speech(source=MediaRef("synthetic.wav", "0"), sample_rate=SR, duration=4.0,
                  source_sample_rate=SR, source_channels=1, samples=samples, analysis=samples)


@pytest.fixture(scope="module")
def prosody():
    n = 400
    return Prosody(hop=0.01, rms=np.full(n, 0.1), loudness=np.full(n, 0.5),
                   f0=np.full(n, 150.0), voiced=np.ones(n, bool), speech=np.ones(n, bool))


def _on_cuda(backend) -> bool:
    return all(p.device.type == "cuda" for p in backend._model.parameters())


def test_text_emotion_model_runs_on_the_gpu_and_agrees_with_the_cpu(tmp_path):
    from pipelines.emotion.text_sentiment import TransformersTextSentiment
    from tiny_emotion import build_tiny_classifier

    model = build_tiny_classifier(tmp_path / "emotion", ["joy", "sadness", "anger", "neutral"])
    text = "I am so happy today, this is wonderful news"
    on_gpu = TransformersTextSentiment(str(model), device="cuda")
    gpu, cpu = on_gpu(text), TransformersTextSentiment(str(model), device="cpu")(text)
    assert _on_cuda(on_gpu)
    assert set(gpu.probs) == set(EMOTIONS)
    assert gpu.probs == pytest.approx(cpu.probs, abs=1e-4)
    assert gpu.valence == pytest.approx(cpu.valence, abs=1e-4)
    assert gpu.confidence == pytest.approx(cpu.confidence, abs=1e-4)
    auto = TransformersTextSentiment(str(model), device="auto")
    auto(text)
    assert _on_cuda(auto)


def test_speech_emotion_model_runs_on_the_gpu_and_agrees_with_the_cpu(tmp_path, speech, prosody):
    from pipelines.emotion.speech_signals import TransformersSpeechEmotion
    from tiny_emotion import SPEECH_EMOTION_LABELS, build_tiny_speech_emotion

    model = build_tiny_speech_emotion(tmp_path / "ser")
    on_gpu = TransformersSpeechEmotion(str(model), device="cuda")
    on_cpu = TransformersSpeechEmotion(str(model), device="cpu")
    for segment in (Segment(0.0, 2.0), Segment(2.0, 4.0), Segment(1.0, 1.1)):
        gpu, cpu = on_gpu(speech, prosody, segment), on_cpu(speech, prosody, segment)
        assert gpu.probs == pytest.approx(cpu.probs, abs=1e-4)
        assert gpu.arousal == pytest.approx(cpu.arousal, abs=1e-4)
        assert set(f"model:{k}" for k in SPEECH_EMOTION_LABELS) <= set(gpu.details)
    assert _on_cuda(on_gpu) and on_gpu.device.startswith("cuda")
    halves = [on_gpu(speech, prosody, Segment(a, a + 2.0)).details for a in (0.0, 2.0)]
    assert halves[0] != halves[1]  # the model hears the audio, not a constant


def test_valence_arousal_regressor_runs_on_the_gpu_and_agrees_with_the_cpu(tmp_path, speech,
                                                                            prosody):
    from pipelines.emotion.speech_signals import Wav2Vec2ValenceArousal
    from tiny_emotion import build_tiny_valence_arousal

    model = build_tiny_valence_arousal(tmp_path / "va")
    on_gpu = Wav2Vec2ValenceArousal(str(model), device="cuda")
    on_cpu = Wav2Vec2ValenceArousal(str(model), device="cpu")
    segment = Segment(0.5, 3.5)
    gpu, cpu = on_gpu(speech, prosody, segment), on_cpu(speech, prosody, segment)
    assert _on_cuda(on_gpu)
    assert gpu.details == pytest.approx(cpu.details, abs=1e-4)
    assert (gpu.valence, gpu.arousal) == pytest.approx((cpu.valence, cpu.arousal), abs=1e-4)


def test_the_emotion_device_setting_puts_every_heavy_backend_on_the_gpu(tmp_path, speech,
                                                                         prosody):
    """emotion.device (the CLI's --emotion-device) reaches all three backends the analyzer
    builds, and the fused track matches the same analysis on the CPU."""
    from pipelines.emotion import EmotionAnalyzer
    from pipelines.settings import EmotionSettings
    from pipelines.types import Transcript
    from tiny_emotion import (build_tiny_classifier, build_tiny_speech_emotion,
                              build_tiny_valence_arousal)

    models = dict(
        text_backend="transformers", speech_backend="transformers",
        valence_arousal_backend="wav2vec2",
        text_model=str(build_tiny_classifier(tmp_path / "t", ["joy", "sadness", "anger"])),
        speech_model=str(build_tiny_speech_emotion(tmp_path / "s")),
        valence_arousal_model=str(build_tiny_valence_arousal(tmp_path / "va")))
    segments = [Segment(0.0, 2.0, "i am so happy"), Segment(2.0, 4.0, "this is terrible news")]
    tracks = {}
    for device in ("cuda", "cpu"):
        analyzer = EmotionAnalyzer(EmotionSettings(device=device, **models))
        tracks[device] = analyzer(speech, prosody, Transcript(text=""), segments)
        on_gpu = [_on_cuda(b) for b in analyzer._backends()]
        assert on_gpu == [device == "cuda"] * 3
    for gpu, cpu in zip(tracks["cuda"].segments, tracks["cpu"].segments):
        assert gpu.fused.probs == pytest.approx(cpu.fused.probs, abs=1e-4)
        assert (gpu.valence, gpu.arousal) == pytest.approx((cpu.valence, cpu.arousal), abs=1e-4)
