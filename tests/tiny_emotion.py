"""Tiny randomly initialised emotion models, built and saved by the tests themselves (nothing comes
from a model hub): a BERT text classifier with its own vocabulary, a wav2vec2 audio classifier and
the product's wav2vec2 valence/arousal regressor. Each is saved with `save_pretrained`, so the
product loads it through the same code path as a user's real model."""
from __future__ import annotations

WORDS = ("i am so happy glad joy love great good wonderful sad cry lost miss bad terrible awful "
         "angry hate furious mad the a is was it this that day news today very not and you we "
         "they he she of to in on for with my your feel felt really").split()

SPEECH_EMOTION_LABELS = ["neu", "hap", "sad", "ang"]


def build_tiny_classifier(path, labels: list[str], dominant: int | None = None):
    """A 2-layer BERT sequence classifier with its own vocabulary. With `dominant`, the
    classifier's weights are zeroed and its bias makes that label win for any input."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    path.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(dict.fromkeys(WORDS))
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(vocab_file=str(path / "vocab.txt"), do_lower_case=True,
                              model_max_length=32)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=37, max_position_embeddings=64,
                        num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={n: i for i, n in enumerate(labels)})
    model = BertForSequenceClassification(config).eval()
    if dominant is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.fill_(-4.0)
            model.classifier.bias[dominant] = 4.0
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


def tiny_wav2vec2_config(**extra):
    from transformers import Wav2Vec2Config

    return Wav2Vec2Config(
        vocab_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=20, conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, classifier_proj_size=8,
        mask_time_prob=0.0, **extra)


def build_tiny_speech_emotion(folder):
    """A wav2vec2 audio classifier with IEMOCAP-style labels (SPEECH_EMOTION_LABELS)."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    labels = SPEECH_EMOTION_LABELS
    model = Wav2Vec2ForSequenceClassification(tiny_wav2vec2_config(
        num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={k: i for i, k in enumerate(labels)}))
    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor().save_pretrained(folder)
    return folder


def build_tiny_valence_arousal(folder, bare=None):
    """The product's Wav2Vec2ForValenceArousal, saved with a feature extractor in `folder` and,
    when `bare` is given, without one there too (the loader then uses the defaults)."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor
    from pipelines.emotion.speech_signals import Wav2Vec2ForValenceArousal

    torch.manual_seed(0)
    model = Wav2Vec2ForValenceArousal(tiny_wav2vec2_config())
    model.save_pretrained(folder)
    Wav2Vec2FeatureExtractor().save_pretrained(folder)
    if bare is not None:
        model.save_pretrained(bare)
    return folder
