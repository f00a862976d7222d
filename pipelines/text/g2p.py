"""Pronunciations for words missing from pocketsphinx's dictionary.

gruut (with gruut-lang-en) gives offline US-English pronunciations in IPA, one phoneme per token
("ˈaɪ", "ɹ", "t͡ʃ"...); pocketsphinx's en-us model uses CMU ARPAbet without stress digits.
"""
from __future__ import annotations

import unicodedata
from typing import Iterable

ARPABET_PHONES: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW "
    "V W Y Z ZH".split())

# IPA (after removing stress, length and tie marks) → ARPAbet; several IPA spellings per phone
# because gruut's lexicon and its g2p model are not perfectly consistent.
_IPA_TO_ARPABET: dict[str, tuple[str, ...]] = {
    "i": ("IY",), "iː": ("IY",), "ɪ": ("IH",), "ᵻ": ("IH",), "ɨ": ("IH",), "e": ("EY",),
    "eɪ": ("EY",), "ɛ": ("EH",), "æ": ("AE",), "a": ("AA",), "ɑ": ("AA",), "ɒ": ("AA",),
    "ɔ": ("AO",), "o": ("OW",), "oʊ": ("OW",), "əʊ": ("OW",), "ʊ": ("UH",), "u": ("UW",),
    "ʉ": ("UW",), "ʌ": ("AH",), "ə": ("AH",), "ɐ": ("AH",), "ɚ": ("ER",), "ɝ": ("ER",),
    "ɜ": ("ER",), "aɪ": ("AY",), "aʊ": ("AW",), "ɔɪ": ("OY",), "ɪɹ": ("IH", "R"),
    "ɛɹ": ("EH", "R"), "ʊɹ": ("UH", "R"), "ɑɹ": ("AA", "R"), "ɔɹ": ("AO", "R"),
    "p": ("P",), "b": ("B",), "t": ("T",), "d": ("D",), "k": ("K",), "g": ("G",), "ɡ": ("G",),
    "f": ("F",), "v": ("V",), "θ": ("TH",), "ð": ("DH",), "s": ("S",), "z": ("Z",),
    "ʃ": ("SH",), "ʒ": ("ZH",), "h": ("HH",), "x": ("HH",), "tʃ": ("CH",), "dʒ": ("JH",),
    "m": ("M",), "n": ("N",), "ŋ": ("NG",), "l": ("L",), "ɫ": ("L",), "ɹ": ("R",), "r": ("R",),
    "ɾ": ("D",), "ʔ": ("T",), "w": ("W",), "ʍ": ("W",), "j": ("Y",), "ç": ("HH",),
}
_DROP_MARKS = {"ˈ", "ˌ", "ː", "ˑ", "͡", "‿", "|", "‖", "."}


def ipa_to_arpabet(phonemes: Iterable[str]) -> list[str]:
    """Maps gruut's IPA phoneme tokens to ARPAbet; unknown symbols are skipped."""
    phones: list[str] = []
    for token in phonemes:
        phones.extend(_token_to_arpabet(_clean(token)))
    return phones


def _clean(token: str) -> str:
    # Decompose so that combining marks (syllabic ̩, nasal ̃, ...) can be dropped.
    decomposed = unicodedata.normalize("NFD", token)
    return "".join(ch for ch in decomposed
                   if ch not in _DROP_MARKS and not unicodedata.combining(ch))


def _token_to_arpabet(token: str) -> list[str]:
    if not token:
        return []
    if token in _IPA_TO_ARPABET:
        return list(_IPA_TO_ARPABET[token])
    # Longest-prefix split for a cluster gruut kept as one token (e.g. "aɪə").
    for size in range(min(3, len(token)), 0, -1):
        head = token[:size]
        if head in _IPA_TO_ARPABET:
            return list(_IPA_TO_ARPABET[head]) + _token_to_arpabet(token[size:])
    return _token_to_arpabet(token[1:])
