"""Script text → the spoken words to align.

gruut's English text processing expands numbers, ordinals, currency and abbreviations
("1999" → "nineteen ninety nine", "Mr." → "Mister", "$3.50" → "three dollars fifty cents") and
gives each word an IPA pronunciation (lexicon first, then its g2p model), all offline.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_KEY_STRIP = re.compile(r"[^a-z0-9']+")
_FALLBACK_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


@dataclass
class ScriptWord:
    text: str  # as the user wrote it, numbers spelled out ("Dashwood", "nineteen")
    key: str  # pocketsphinx dictionary key: lower case, letters/digits/apostrophes
    ipa: list[str] = field(default_factory=list)  # gruut phonemes; empty if it has none


class ScriptNormaliser:
    """Wraps gruut; its lexicon and g2p model load on first use and are reused."""

    def __init__(self, lang: str = "en-us") -> None:
        self.lang = lang

    def words(self, script: str) -> list[ScriptWord]:
        """All spoken words, including ones with no usable key (e.g. non-Latin script)."""
        try:
            words = self._gruut_words(script)
        except Exception:  # gruut chokes on some inputs: plain splitting is still useful
            words = _fallback_words(script)
        return words

    def _gruut_words(self, script: str) -> list[ScriptWord]:
        from gruut import sentences

        words: list[ScriptWord] = []
        for sentence in sentences(script, lang=self.lang, pos=False):
            for word in sentence:
                if word.is_spoken:
                    words.extend(_split_word(word.text, list(word.phonemes or [])))
        return words


def dictionary_key(text: str) -> str:
    """"Café" → "cafe"; "O’Brien's" → "o'brien's"; non-Latin text → "" (not pronounceable)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    key = _KEY_STRIP.sub("", ascii_text.lower().replace("\u2019", "'"))
    return key.strip("'")


def _split_word(text: str, ipa: list[str]) -> list[ScriptWord]:
    # gruut keeps some hyphenated/joined tokens whole; one key per token keeps the IPA attached.
    return [ScriptWord(text=text, key=dictionary_key(text), ipa=ipa)]


def _fallback_words(script: str) -> list[ScriptWord]:
    from num2words import num2words

    words: list[ScriptWord] = []
    for token in _FALLBACK_WORD.findall(script):
        if token.isdigit():
            words.extend(ScriptWord(text=w, key=dictionary_key(w))
                         for w in re.split(r"[\s-]+", num2words(int(token))) if w)
        else:
            words.append(ScriptWord(text=token, key=dictionary_key(token)))
    return words
