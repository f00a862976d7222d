"""Text sentiment signal: what the words of one segment say about its emotion.

Two backends produce the same `SignalEstimate(signal="text_sentiment")`:

* `VaderTextSentiment` ("vader", the embedded default): the VADER lexicon that ships inside the
  `vaderSentiment` package, so it works offline with nothing to download. VADER only measures
  polarity (how positive/negative), so the mapping onto emotion categories and arousal is a
  documented *heuristic* (see the class docstring); its confidence is kept modest (<= 0.8).
* `TransformersTextSentiment` ("transformers:<model>", optional and heavy): any Hugging Face
  sequence-classification model with emotion or sentiment labels, loaded from a local folder or
  from the user's Hugging Face cache only. It never downloads anything at run time.

`make_text_sentiment(backend, model)` builds either from a settings-style description.

Tables common to both backends (documented where defined):
  EMOTION_VALENCE / EMOTION_AROUSAL: a point in valence-arousal space per category (a coarse
  reading of Russell's circumplex), so valence/arousal can be derived from a distribution.
  LABEL_TABLE: classifier label name -> emotion category (or a spread over categories).
"""
from __future__ import annotations

import math
import re
import string
import threading
from typing import Optional

from ..errors import InputError, MissingWeightsError
from ..models import load_failure, resolve_model_source, short_reason
from ..types import EMOTIONS, SignalEstimate
from .categories import CATEGORY_VA

SIGNAL = "text_sentiment"

# --------------------------------------------------------------------------------------------
# Tables common to both backends
# --------------------------------------------------------------------------------------------

# Valence and arousal of each category, in [-1, 1] (approximate circumplex positions). Neutral is
# the origin, so "no evidence" (all mass on neutral) gives valence = arousal = 0.
EMOTION_VALENCE: dict[str, float] = {e: va[0] for e, va in CATEGORY_VA.items()}
EMOTION_AROUSAL: dict[str, float] = {e: va[1] for e, va in CATEGORY_VA.items()}

# How an undifferentiated "negative" label (a sentiment head) is spread over the negative
# categories: mostly sad (the same default as VADER's), some mass on the others.
NEGATIVE_SPREAD: dict[str, float] = {"sad": 0.5, "angry": 0.2, "fearful": 0.15, "disgusted": 0.15}


def _half(spread: dict[str, float]) -> dict[str, float]:
    out = {k: v * 0.5 for k, v in spread.items()}
    out["neutral"] = out.get("neutral", 0.0) + 0.5
    return out


# Label name (normalised: lower case, "_"/"-" -> " ") -> emotion category or spread.
# Emotion heads: the Ekman grouping published with GoEmotions (Demszky et al. 2020), extended with
# the names used by other common heads (dair-ai/emotion, ISEAR, tweet_eval, CARER, j-hartmann).
# Sentiment heads: positive/negative/neutral and their abbreviations, and "1 star".."5 stars".
# Generic "LABEL_<n>" names are handled by `_generic_labels`. Anything else maps to neutral.
LABEL_TABLE: dict[str, "str | dict[str, float]"] = {
    # happy
    **{k: "happy" for k in (
        "joy", "happy", "happiness", "love", "optimism", "amusement", "admiration", "approval",
        "caring", "desire", "excitement", "gratitude", "pride", "relief", "enthusiasm", "fun",
        "trust", "anticipation", "contentment", "elation")},
    # sad
    **{k: "sad" for k in (
        "sadness", "sad", "grief", "disappointment", "remorse", "embarrassment", "shame",
        "guilt", "empty", "sorrow", "loneliness")},
    # angry
    **{k: "angry" for k in (
        "anger", "angry", "annoyance", "disapproval", "rage", "hate", "irritation", "frustration")},
    # fearful
    **{k: "fearful" for k in (
        "fear", "fearful", "nervousness", "anxiety", "worry", "scared", "afraid", "terror")},
    # surprised
    **{k: "surprised" for k in ("surprise", "surprised", "realization", "confusion", "curiosity")},
    # disgusted
    **{k: "disgusted" for k in ("disgust", "disgusted")},
    # contempt
    **{k: "contempt" for k in ("contempt", "scorn")},
    # neutral
    **{k: "neutral" for k in ("neutral", "neu", "boredom", "none", "no emotion", "others", "other")},
    # sentiment heads
    **{k: "happy" for k in ("positive", "pos")},
    **{k: dict(NEGATIVE_SPREAD) for k in ("negative", "neg")},
    "1 star": dict(NEGATIVE_SPREAD),
    "2 stars": _half(NEGATIVE_SPREAD),
    "3 stars": "neutral",
    "4 stars": {"happy": 0.5, "neutral": 0.5},
    "5 stars": "happy",
}

_GENERIC_LABEL = re.compile(r"^label[ _]?(\d+)$")


def _normalise_label(label: str) -> str:
    text = str(label).strip().lower().replace("_", " ").replace("-", " ")
    text = re.sub(r"\s+", " ", text)
    stars = re.match(r"^([1-5]) ?stars?$", text)
    if stars:
        n = int(stars.group(1))
        return f"{n} star" if n == 1 else f"{n} stars"
    return text


def _generic_labels(id2label: dict[int, str]) -> Optional[dict[int, str]]:
    """Heads saved without label names ("LABEL_0", ...): with 3 labels they are read as
    negative/neutral/positive and with 2 as negative/positive (the cardiffnlp twitter-roberta and
    SST-2 conventions). Other counts stay unnamed (neutral). Returns None when names exist."""
    if not id2label or not all(_GENERIC_LABEL.match(str(v).strip().lower()) for v in id2label.values()):
        return None
    names = {3: ("negative", "neutral", "positive"), 2: ("negative", "positive")}.get(len(id2label))
    if names is None:
        return {}
    return {i: names[rank] for rank, i in enumerate(sorted(id2label))}


def label_to_emotions(label: str) -> dict[str, float]:
    """The emotion distribution one classifier label stands for (sums to 1)."""
    target = LABEL_TABLE.get(_normalise_label(label), "neutral")
    if isinstance(target, str):
        return {target: 1.0}
    return dict(target)


def _full_probs(probs: dict[str, float]) -> dict[str, float]:
    """All EMOTIONS as keys, normalised to sum to 1 (neutral when there is no mass)."""
    total = sum(max(0.0, probs.get(e, 0.0)) for e in EMOTIONS)
    if total <= 0:
        return {e: float(e == "neutral") for e in EMOTIONS}
    return {e: max(0.0, probs.get(e, 0.0)) / total for e in EMOTIONS}


def _expected(probs: dict[str, float], table: dict[str, float]) -> float:
    return float(sum(p * table[e] for e, p in probs.items()))


def _clip(x: float, lo: float = -1.0, hi: float = 1.0) -> float:
    return float(min(hi, max(lo, x)))


def _empty_estimate(backend: str, **details: float) -> SignalEstimate:
    return SignalEstimate(signal=SIGNAL, backend=backend, probs=_full_probs({}), valence=0.0,
                          arousal=0.0, confidence=0.0, details=dict(details))


def _check_text(text) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise InputError(f"Text sentiment needs a string, got {type(text).__name__}.")
    return text


# --------------------------------------------------------------------------------------------
# VADER (embedded default)
# --------------------------------------------------------------------------------------------

# Small keyword sets that bias the split of *negative* mass between the negative categories.
# Deliberately short: only words whose category is obvious. A keyword preceded (within 3 words)
# by a negation ("not angry") is ignored.
NEGATIVE_KEYWORDS: dict[str, frozenset[str]] = {
    "angry": frozenset({"angry", "anger", "hate", "hated", "furious", "mad", "rage", "annoyed",
                        "outraged", "livid"}),
    "fearful": frozenset({"afraid", "scared", "fear", "frightened", "terrified", "worried",
                          "nervous", "anxious", "panic"}),
    "disgusted": frozenset({"disgusting", "disgusted", "gross", "revolting", "sickening",
                            "nasty", "yuck", "eww"}),
    "sad": frozenset({"sad", "miss", "missed", "lost", "cry", "cried", "crying", "tears",
                      "lonely", "grief", "heartbroken", "sorry"}),
    "contempt": frozenset({"pathetic", "despise", "contempt", "scorn", "worthless"}),
}
# Baseline split of negative mass with no keyword: sad first (the default negative emotion), the
# same split as an undifferentiated "negative" classifier label.
NEGATIVE_BASE: dict[str, float] = {**NEGATIVE_SPREAD, "contempt": 0.0}
KEYWORD_BONUS = 0.5  # added to a category's weight per keyword hit (at most 2 hits count)
# Words that move some positive mass to "surprised".
SURPRISE_KEYWORDS = frozenset({"wow", "whoa", "surprised", "surprise", "unexpected", "shocked",
                               "amazed", "astonished", "omg"})


class VaderTextSentiment:
    """Text sentiment from VADER (offline; the lexicon ships in the `vaderSentiment` package).

    This is a HEURISTIC: VADER scores polarity only, and the rules below spread that polarity over
    the emotion categories. Rules (all documented constants are module-level):

    * valence = VADER compound score (negation, "but", boosters and caps handled by VADER).
    * Emotional mass m = sqrt((|compound| - 0.05) / 0.95), 0 below VADER's own 0.05 neutral
      threshold; neutral gets 1 - m. The mass is split between the positive and negative side in
      proportion to VADER's `pos` and `neg` shares (so mixed text is mixed, negated praise is
      negative).
    * Positive mass -> happy, except a share moved to surprised: 0.08 per "!" beyond the first and
      0.15 per surprise keyword (SURPRISE_KEYWORDS), at most 35 %.
    * Negative mass -> sad/angry/fearful/disgusted/contempt by NEGATIVE_BASE (sad first), with
      KEYWORD_BONUS per non-negated keyword of NEGATIVE_KEYWORDS (at most 2 per category).
    * arousal (modest, text says little about arousal) =
      0.5 * arousal of the category distribution (EMOTION_AROUSAL)
      + 0.4 * cue, cue = min(1, 0.12 per "!" (max 4) + 0.1 per ALL-CAPS word (max 3)
      + 0.06 per VADER booster word (max 3)); clipped to [-0.7, 0.7].
    * confidence = 0.8 * (0.15 * (1 - exp(-n_words / 6))
      + 0.85 * (1 - exp(-n_sentiment_words / 3)) * (0.4 + 0.6 * |compound|)):
      0 without words, low for short text, rising with sentiment-bearing words and |compound|,
      never above 0.8.
    """

    name = "vader"

    def __init__(self) -> None:
        self._analyzer = None
        self._lock = threading.Lock()

    @property
    def analyzer(self):
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    try:
                        from vaderSentiment.vaderSentiment import (
                            SentimentIntensityAnalyzer,
                        )
                    except ImportError:  # pragma: no cover - it is a hard requirement
                        raise MissingWeightsError(
                            "The VADER text sentiment lexicon is not installed.",
                            "Install the `vaderSentiment` package (pip install vaderSentiment).",
                        ) from None
                    self._analyzer = SentimentIntensityAnalyzer()
        return self._analyzer

    # ---- tokens and cues ----------------------------------------------------------------------

    def _tokens(self, text: str) -> tuple[list[str], list[str]]:
        """(words, raw tokens) of the text after VADER's emoji-to-description step. Words are
        lower case with surrounding punctuation removed; emoticons in the lexicon count as words."""
        emojis = self.analyzer.emojis
        translated = "".join(f" {emojis[ch]} " if ch in emojis else ch for ch in text)
        words, raw = [], []
        lexicon = self.analyzer.lexicon
        for tok in translated.split():
            stripped = tok.strip(string.punctuation)
            if any(c.isalnum() for c in stripped):
                words.append(stripped.lower())
                raw.append(stripped)
            elif tok.lower() in lexicon:  # emoticon such as ":)"
                words.append(tok.lower())
                raw.append(tok)
        return words, raw

    def __call__(self, text: str) -> SignalEstimate:
        text = _check_text(text)
        words, raw = self._tokens(text)  # loads the analyzer (and vaderSentiment) on first use
        from vaderSentiment.vaderSentiment import BOOSTER_DICT, negated

        if not words:
            return _empty_estimate(self.name, compound=0.0, pos=0.0, neg=0.0, neu=0.0,
                                   n_words=0.0)
        scores = self.analyzer.polarity_scores(text)
        compound = float(scores["compound"])
        pos, neg, neu = float(scores["pos"]), float(scores["neg"]), float(scores["neu"])

        lexicon = self.analyzer.lexicon
        n_sent = sum(1 for w in words if lexicon.get(w, 0.0) != 0.0)
        exclaims = text.count("!")
        caps = sum(1 for w in raw if len(w) >= 2 and w.isalpha() and w.isupper())
        boosters = sum(1 for w in words if w in BOOSTER_DICT)

        # Category distribution.
        strength = abs(compound)
        mass = math.sqrt(max(0.0, (strength - 0.05) / 0.95)) if strength >= 0.05 else 0.0
        side_total = pos + neg
        if side_total > 0:
            pos_share, neg_share = pos / side_total, neg / side_total
        else:
            pos_share, neg_share = float(compound > 0), float(compound < 0)
        probs = {e: 0.0 for e in EMOTIONS}
        probs["neutral"] = 1.0 - mass

        surprise_hits = sum(1 for w in words if w in SURPRISE_KEYWORDS)
        surprise_frac = min(0.35, 0.08 * max(0, exclaims - 1) + 0.15 * surprise_hits)
        positive = mass * pos_share
        probs["happy"] += positive * (1.0 - surprise_frac)
        probs["surprised"] += positive * surprise_frac

        weights = dict(NEGATIVE_BASE)
        hits = {cat: 0 for cat in NEGATIVE_KEYWORDS}
        for i, w in enumerate(words):
            for cat, keys in NEGATIVE_KEYWORDS.items():
                if w in keys and not negated(words[max(0, i - 3):i]):
                    hits[cat] += 1
        for cat, n in hits.items():
            weights[cat] += KEYWORD_BONUS * min(n, 2)
        wsum = sum(weights.values())
        negative = mass * neg_share
        for cat, wgt in weights.items():
            probs[cat] += negative * wgt / wsum
        probs = _full_probs(probs)

        cue = min(1.0, 0.12 * min(exclaims, 4) + 0.1 * min(caps, 3) + 0.06 * min(boosters, 3))
        arousal = _clip(0.5 * _expected(probs, EMOTION_AROUSAL) + 0.4 * cue, -0.7, 0.7)

        n_words = len(words)
        confidence = 0.8 * (0.15 * (1.0 - math.exp(-n_words / 6.0))
                            + 0.85 * (1.0 - math.exp(-n_sent / 3.0)) * (0.4 + 0.6 * strength))

        return SignalEstimate(
            signal=SIGNAL, backend=self.name, probs=probs, valence=_clip(compound),
            arousal=arousal, confidence=_clip(confidence, 0.0, 0.8),
            details={"compound": compound, "pos": pos, "neg": neg, "neu": neu,
                     "n_words": float(n_words), "n_sentiment_words": float(n_sent),
                     "exclamations": float(exclaims), "caps_words": float(caps),
                     "boosters": float(boosters)},
        )


# --------------------------------------------------------------------------------------------
# Transformers (optional, heavy)
# --------------------------------------------------------------------------------------------

class TransformersTextSentiment:
    """Text emotion/sentiment from a Hugging Face sequence-classification model.

    `model` is a local folder (saved with `save_pretrained`) or a hub id that is already in the
    user's Hugging Face cache: loading always uses `local_files_only=True`, so nothing is
    downloaded. The model is loaded once, lazily (or explicitly with `load()`).

    The softmax over the model's labels (`config.id2label`) is mapped to EMOTIONS with
    LABEL_TABLE (unknown labels -> neutral; unnamed LABEL_<n> heads as in `_generic_labels`).
    valence / arousal = expectation of EMOTION_VALENCE / EMOTION_AROUSAL under that distribution.
    confidence = (max prob - 1/K) / (1 - 1/K) over the model's K labels, so a flat output gives 0.
    Text longer than the model's maximum length is truncated (the beginning is kept).
    """

    def __init__(self, model: str, device: str = "cpu") -> None:
        if not model or not str(model).strip():
            raise InputError("No text emotion model given.",
                             "Pass a local model folder or a Hugging Face model id.")
        self.model_id = str(model).strip()
        self.device = device
        self.name = f"transformers:{self.model_id}"
        self._model = None
        self._tokenizer = None
        self._label_map: dict[int, dict[str, float]] = {}
        self._label_names: dict[int, str] = {}
        self._max_length = 512
        self._lock = threading.Lock()

    # ---- loading --------------------------------------------------------------------------------

    def _missing(self, reason: str) -> MissingWeightsError:
        return load_failure(self.model_id, "Text emotion model", reason,
                            "config.json, the weights and the tokenizer files of a "
                            "text-classification model")

    def load(self) -> "TransformersTextSentiment":
        """Loads tokenizer and model (once). Raises MissingWeightsError with one clear message."""
        if self._model is not None:
            return self
        with self._lock:
            if self._model is None:
                self._load()
        return self

    def _load(self) -> None:
        source = resolve_model_source(self.model_id, "Text emotion model")
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - transformers is a requirement
            raise MissingWeightsError("The transformers text emotion backend needs torch and "
                                      f"transformers ({exc}).",
                                      "Install them, or use the 'vader' backend.") from None
        device = self._resolve_device(torch)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            model, info = AutoModelForSequenceClassification.from_pretrained(
                source, local_files_only=True, output_loading_info=True)
        except MissingWeightsError:
            raise
        except Exception as exc:  # noqa: BLE001 - every loading failure becomes one message
            raise self._missing(short_reason(exc)) from None
        missing_head = [k for k in (info or {}).get("missing_keys", [])
                        if "classifier" in k or "score" in k or "head" in k]
        if missing_head:
            raise self._missing("it has no trained classification head (it is not a "
                                "text-classification model).")
        model.eval()
        model.to(device)

        id2label = {int(k): str(v) for k, v in (model.config.id2label or {}).items()}
        generic = _generic_labels(id2label)
        names = id2label if generic is None else {i: generic.get(i, id2label[i]) for i in id2label}
        self._label_names = names
        self._label_map = {i: label_to_emotions(n) for i, n in names.items()}

        limit = getattr(tokenizer, "model_max_length", None)
        if not limit or limit > 100_000:  # tokenizer without a declared limit
            max_pos = getattr(model.config, "max_position_embeddings", None) or 512
            if "roberta" in str(getattr(model.config, "model_type", "")):
                max_pos -= 2  # RoBERTa positions start after the padding index
            limit = min(512, max_pos)
        self._max_length = int(limit)
        self._torch = torch
        self._device = device
        self._tokenizer = tokenizer
        self._model = model

    def _resolve_device(self, torch):
        from ..models import EMOTION_ON_CPU, resolve_device

        return resolve_device(self.device, "text emotion model", instead=EMOTION_ON_CPU)

    # ---- inference ------------------------------------------------------------------------------

    def __call__(self, text: str) -> SignalEstimate:
        text = _check_text(text)
        if not text.strip():
            return _empty_estimate(self.name, n_tokens=0.0)
        self.load()
        torch = self._torch
        enc = self._tokenizer(text, truncation=True, max_length=self._max_length,
                              return_tensors="pt")
        full_len = len(self._tokenizer(text, truncation=False, verbose=False)["input_ids"])
        enc = {k: v.to(self._device) for k, v in enc.items()}
        with torch.inference_mode():
            logits = self._model(**enc).logits[0].float()
        label_probs = torch.softmax(logits, dim=-1).cpu().tolist()

        probs = {e: 0.0 for e in EMOTIONS}
        for i, p in enumerate(label_probs):
            for emotion, share in self._label_map.get(i, {"neutral": 1.0}).items():
                probs[emotion] += p * share
        probs = _full_probs(probs)

        k = len(label_probs)
        top = max(label_probs)
        confidence = (top - 1.0 / k) / (1.0 - 1.0 / k) if k > 1 else 0.0
        details = {f"label:{self._label_names.get(i, str(i))}": float(p)
                   for i, p in enumerate(label_probs)}
        n_tokens = int(enc["input_ids"].shape[-1])
        details.update(n_tokens=float(n_tokens), truncated=float(full_len > n_tokens))
        return SignalEstimate(
            signal=SIGNAL, backend=self.name, probs=probs,
            valence=_clip(_expected(probs, EMOTION_VALENCE)),
            arousal=_clip(_expected(probs, EMOTION_AROUSAL)),
            confidence=_clip(confidence, 0.0, 1.0), details=details)


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------

BACKENDS = ("vader", "transformers")


def make_text_sentiment(backend: str = "vader", model: str | None = None, device: str = "cpu"):
    """A text sentiment backend: "vader" (default, offline) or "transformers" with `model`
    (a local folder or a cached hub id). "transformers:<model>" (a SignalEstimate's backend
    name) is accepted too. Nothing is loaded until first use."""
    spec = (backend or "vader").strip()
    kind, _, inline_model = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "vader":
        return VaderTextSentiment()
    if kind == "transformers":
        chosen = model or inline_model.strip() or None
        if not chosen:
            raise InputError("The 'transformers' text sentiment backend needs a model.",
                             "Pass a local model folder or a Hugging Face model id, or use 'vader'.")
        return TransformersTextSentiment(chosen, device=device)
    raise InputError(f"Unknown text sentiment backend '{backend}'.",
                     f"Use one of: {', '.join(BACKENDS)}.")
