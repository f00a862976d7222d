"""Thin, stateful wrapper around one pocketsphinx 5 `Decoder` (en-us model from the wheel).

One decoder serves three searches: the default N-gram LM (ASR), "allphone" phone recognition
(phone loop with the phone bigram that ships with the model) and forced alignment. It is created
on first use and reused, because loading the 134k-word dictionary and the LM takes ~0.3 s.
All times are seconds relative to the start of the PCM passed in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..types import Phone
from .g2p import ARPABET_PHONES

FRAME_RATE = 100  # pocketsphinx's default: 10 ms frames
_PHONE_SEARCH = "phones"
_PREFIX_SEARCH = "prefix"
_ALT_PRONUNCIATION = re.compile(r"\(\d+\)$")
_FILLERS = {"<s>", "</s>", "<sil>"}


@dataclass
class TimedWord:
    text: str  # dictionary word without the "(2)" alternative-pronunciation suffix
    start: float
    end: float
    phones: list[Phone] = field(default_factory=list)
    # Acoustic score of the alignment, summed over the word's frames. pocketsphinx scores each
    # frame relative to the best-scoring model state of that frame, so 0 is a perfect fit and
    # the per-frame deficit says how well the word explains the sound (a "goodness of
    # pronunciation" that needs no second recogniser).
    score: float = 0.0


class SphinxDecoder:
    def __init__(self, **config: object) -> None:
        self._config = {"loglevel": "FATAL", **config}
        self._decoder = None
        self._added_words: set[str] = set()

    @property
    def decoder(self):
        if self._decoder is None:
            from pocketsphinx import Decoder, get_model_path

            decoder = Decoder(**self._config)
            decoder.add_allphone_file(_PHONE_SEARCH, get_model_path("en-us/en-us-phone.lm.bin"))
            self._decoder = decoder
        return self._decoder

    # -- dictionary ------------------------------------------------------------------------

    def has_word(self, key: str) -> bool:
        return key in self._added_words or self.decoder.lookup_word(key) is not None

    def add_words(self, pronunciations: dict[str, list[str]]) -> None:
        """Adds words (ARPAbet phones) to the dictionary; one update at the end (it is slow)."""
        items = [(k, p) for k, p in pronunciations.items() if p and not self.has_word(k)]
        for index, (key, phones) in enumerate(items):
            self.decoder.add_word(key, " ".join(phones), update=index == len(items) - 1)
            self._added_words.add(key)

    # -- searches --------------------------------------------------------------------------

    def recognise_words(self, pcm: np.ndarray) -> list[TimedWord]:
        """N-gram ASR, then a phone-level alignment of the hypothesis."""
        self.decoder.activate_search()
        if not self._decode(pcm):
            return []
        return self._phone_alignment(pcm)

    def align_words(self, pcm: np.ndarray, keys: list[str]) -> list[TimedWord]:
        """Forced alignment: every key must be spoken in `pcm`. Empty list if it fails."""
        try:
            self.decoder.set_align_text(" ".join(keys))
        except RuntimeError:
            return []
        if not self._decode(pcm):
            return []
        return self._phone_alignment(pcm)

    def align_prefix(self, pcm: np.ndarray, keys: list[str]) -> list[TimedWord]:
        """Aligns the longest prefix of `keys` that `pcm` contains (for long recordings cut
        into pieces: the words that run into the next piece are left for it)."""
        count = len(keys)
        transitions = [(i, i + 1, 1.0, key) for i, key in enumerate(keys)]
        transitions += [(i, count + 1, 1.0) for i in range(1, count + 1)]  # may stop anywhere
        fsg = self.decoder.create_fsg(_PREFIX_SEARCH, 0, count + 1, transitions)
        self.decoder.add_fsg(_PREFIX_SEARCH, fsg)
        self.decoder.activate_search(_PREFIX_SEARCH)
        if not self._decode(pcm):
            return []
        return self._phone_alignment(pcm)

    def recognise_phones(self, pcm: np.ndarray) -> list[Phone]:
        """Acoustic phone recognition (no words). Non-speech comes back as "SIL"."""
        self.decoder.activate_search(_PHONE_SEARCH)
        if not self._decode(pcm):
            return []
        return [Phone(label=_phone_label(seg.word), start=seg.start_frame / FRAME_RATE,
                      end=(seg.end_frame + 1) / FRAME_RATE) for seg in self.decoder.seg()]

    # -- internals -------------------------------------------------------------------------

    def _decode(self, pcm: np.ndarray) -> bool:
        """Runs the active search; True if it produced a hypothesis."""
        try:
            self._process(pcm)
        except RuntimeError:
            return False
        return self.decoder.hyp() is not None

    def _process(self, pcm: np.ndarray) -> None:
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), full_utt=True)
        decoder.end_utt()

    def _phone_alignment(self, pcm: np.ndarray) -> list[TimedWord]:
        """Second pass over the same audio for phone times (the first pass tracks words only)."""
        try:
            self.decoder.set_alignment()
        except RuntimeError:
            return []
        try:
            self._process(pcm)  # not hyp(): pocketsphinx 5.1.1 segfaults on hyp() in this mode
        except RuntimeError:  # "Failed to stop utterance processing": no path through the text
            return []
        alignment = self.decoder.get_alignment()
        if alignment is None:
            return []
        return [_timed_word(entry) for entry in alignment.words()]


def _timed_word(entry) -> TimedWord:
    name = _ALT_PRONUNCIATION.sub("", entry.name)
    phones = [Phone(label=_phone_label(phone.name), start=phone.start / FRAME_RATE,
                    end=(phone.start + phone.duration) / FRAME_RATE) for phone in entry]
    start = entry.start / FRAME_RATE
    return TimedWord(text=name, start=start, end=start + entry.duration / FRAME_RATE,
                     phones=phones, score=float(sum(phone.score for phone in entry)))


def is_filler(word: str) -> bool:
    return word in _FILLERS or word.startswith("+") or word.startswith("[")


def _phone_label(name: str) -> str:
    label = name.rstrip("012")
    return label if label in ARPABET_PHONES else "SIL"


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
