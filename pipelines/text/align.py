"""Speech (+ optional script) → Transcript: words and ARPAbet phones with times.

Order of preference, each step falling back to the next with a warning a person understands:
  1. "aligned": the user's script, force-aligned (pocketsphinx; OOV words get gruut g2p);
  2. "asr":     no script: pocketsphinx recognition, then phone alignment of its hypothesis;
  3. "phones":  script does not match / not English: acoustic phone recognition only;
  4. "energy":  nothing usable: no phones, the mouth follows loudness.
Recordings longer than `max_utterance_s` are cut at pauses and processed piece by piece (one
pocketsphinx utterance of several minutes takes tens of seconds and gigabytes).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..settings import TranscriptSettings
from ..types import Phone, Speech, Transcript, Word
from .g2p import ipa_to_arpabet
from .matching import ASR_FIT_MIN, AlignmentFit, alignment_fit
from .normalize import ScriptNormaliser, ScriptWord
from .sphinx import SphinxDecoder, TimedWord, is_filler, to_pcm16

WARN_SCRIPT_MISMATCH = ("The script does not seem to match the speech; lips follow recognised "
                        "sounds instead of the script.")
WARN_SCRIPT_NOT_ENGLISH = ("The script does not look like English text; lips follow recognised "
                           "sounds instead of the script.")
WARN_EMPTY_SCRIPT = "The script has no words to align; the speech was recognised instead."
WARN_NOT_ENGLISH = ("The speech does not sound like clear English; lips follow recognised sounds "
                    "instead of words.")
WARN_NO_WORDS = "No words were recognised; lips follow recognised sounds instead of words."
WARN_NO_PHONES = ("No speech sounds could be recognised; the mouth follows loudness only "
                  "(add a script or use a clearer recording for lip shapes).")
WARN_UNALIGNED_WORDS = "{count} script word(s) could not be placed in time and were left out."
WARN_UNSCRIPTED_SPEECH = ("About {seconds:.0f} s of the speech does not seem to be in the script; "
                          "the mouth may not move there.")
_MIN_UNSCRIPTED_WARNING_S = 1.0
WARN_NO_RECOGNISER = ("Speech recognition is unavailable ({reason}); the mouth follows loudness "
                      "only. Reinstall the requirements (pocketsphinx, gruut) to get lip shapes.")
_MIN_PRONOUNCEABLE = 0.5  # below this fraction of pronounceable words the script is not English
_MIN_PHONE_SPEECH_S = 0.15  # less recognised (non-silence) phone time than this is "nothing"
_WORDS_PER_SECOND_MAX = 6.0  # generous speaking-rate bound for a piece's word window


@dataclass
class _Piece:
    start: int  # sample offsets in the 16 kHz signal
    end: int


class PocketsphinxAligner:
    """Forced alignment, ASR and phone recognition with pocketsphinx. The decoder and gruut load
    on first use and stay cached in this instance (keep one per process / pipeline)."""

    def __init__(self, max_utterance_s: float = 40.0, piece_s: float = 20.0,
                 recognition_piece_s: float = 10.0) -> None:
        self.max_utterance_s = max_utterance_s  # alignment: one utterance up to this long
        self.piece_s = piece_s  # alignment: longer recordings are cut into pieces this long
        self.recognition_piece_s = recognition_piece_s  # ASR is faster on short utterances
        # maxhmmpf: same accuracy on our samples as the default 30000, ~10% faster ASR.
        self.sphinx = SphinxDecoder(maxhmmpf=10000)
        self.normaliser = ScriptNormaliser()

    def transcribe(self, speech: Speech, script: str | None,
                   settings: TranscriptSettings | None = None) -> Transcript:
        settings = settings or TranscriptSettings()
        text = (script or "").strip()
        if settings.mode == "energy":
            return Transcript(text=text, source="energy")
        audio = speech.analysis if speech.analysis.size else speech.samples
        pcm = to_pcm16(audio)
        sr = speech.sample_rate
        run = _Run(self, pcm, sr, speech.duration, settings,
                   align_pieces=split_at_pauses(audio, sr, self.max_utterance_s, self.piece_s),
                   recognition_pieces=split_at_pauses(audio, sr, 1.5 * self.recognition_piece_s,
                                                      self.recognition_piece_s))
        try:
            return run.with_script(text) if text else run.recognise()
        except (ImportError, OSError) as err:  # broken install: still animate from loudness
            return Transcript(text=text, source="energy",
                              warnings=[WARN_NO_RECOGNISER.format(reason=err)])


class _Run:
    """One transcription: holds the audio and the phone-recognition result (computed once)."""

    def __init__(self, aligner: PocketsphinxAligner, pcm: np.ndarray, sample_rate: int,
                 duration: float, settings: TranscriptSettings, align_pieces: list[_Piece],
                 recognition_pieces: list[_Piece]) -> None:
        self.sphinx = aligner.sphinx
        self.normaliser = aligner.normaliser
        self.pcm = pcm
        self.sample_rate = sample_rate
        self.align_pieces = align_pieces
        self.recognition_pieces = recognition_pieces
        self.duration = duration
        self.settings = settings
        self._heard: list[Phone] | None = None

    # -- paths -----------------------------------------------------------------------------

    def with_script(self, script: str) -> Transcript:
        words = self.normaliser.words(script)
        if not words:
            return self.recognise(warnings=[WARN_EMPTY_SCRIPT])
        usable = self._pronounceable(words)
        if len(usable) < _MIN_PRONOUNCEABLE * len(words):
            return self.phones_only(script, [WARN_SCRIPT_NOT_ENGLISH])
        timed = self._align_script([w.key for w in usable])
        fit = alignment_fit(timed, self.duration, len(usable)) if timed else None
        if fit is None or not self._script_fits(fit):
            return self.phones_only(script, [WARN_SCRIPT_MISMATCH])
        out_words = _display_words(timed, usable)
        warnings = []
        if len(out_words) < len(usable):
            warnings.append(WARN_UNALIGNED_WORDS.format(count=len(usable) - len(out_words)))
        unscripted_s = fit.unexplained_fraction * self.duration
        if unscripted_s >= _MIN_UNSCRIPTED_WARNING_S:
            warnings.append(WARN_UNSCRIPTED_SPEECH.format(seconds=unscripted_s))
        return Transcript(text=script, words=out_words, phones=self._phones(timed),
                          source="aligned", warnings=warnings)

    def recognise(self, warnings: list[str] | None = None) -> Transcript:
        warnings = list(warnings or [])
        timed = self._over_pieces(self.sphinx.recognise_words)
        words = [w for w in timed if not is_filler(w.text)]
        if not words:
            return self.phones_only("", warnings + [WARN_NO_WORDS])
        if alignment_fit(timed, self.duration).mean_word_fit < ASR_FIT_MIN:
            return self.phones_only("", warnings + [WARN_NOT_ENGLISH])
        return Transcript(text=" ".join(w.text for w in words),
                          words=[Word(w.text, w.start, w.end) for w in words],
                          phones=self._phones(timed), source="asr", warnings=warnings)

    def phones_only(self, text: str, warnings: list[str]) -> Transcript:
        heard = self.heard()
        speech_time = sum(p.end - p.start for p in heard if p.label != "SIL")
        if speech_time < _MIN_PHONE_SPEECH_S:
            return Transcript(text=text, source="energy", warnings=warnings + [WARN_NO_PHONES])
        return Transcript(text=text, phones=_fill_silence(heard, self.duration),
                          source="phones", warnings=warnings)

    # -- steps -----------------------------------------------------------------------------

    def _script_fits(self, fit: AlignmentFit) -> bool:
        """Enough script words fit the sound, and the aligner did not have to hide much speech
        in "pauses" (what happens when the script is wrong or covers only part of the speech)."""
        return (fit.word_fraction >= self.settings.min_script_match
                and fit.unexplained_fraction <= self.settings.max_unexplained_speech)

    def heard(self) -> list[Phone]:
        """Free phone recognition over the whole recording (cached for this run)."""
        if self._heard is None:
            self._heard = []
            for piece in self.recognition_pieces:
                offset = piece.start / self.sample_rate
                self._heard += [Phone(p.label, p.start + offset, p.end + offset) for p in
                                self.sphinx.recognise_phones(self.pcm[piece.start:piece.end])]
        return self._heard

    def _pronounceable(self, words: list[ScriptWord]) -> list[ScriptWord]:
        """Words pocketsphinx can align: in its dictionary, or given a g2p pronunciation."""
        missing = {w.key: ipa_to_arpabet(w.ipa) for w in words
                   if w.key and not self.sphinx.has_word(w.key)}
        self.sphinx.add_words({key: phones for key, phones in missing.items() if phones})
        return [w for w in words if w.key and self.sphinx.has_word(w.key)]

    def _align_script(self, keys: list[str]) -> list[TimedWord]:
        if len(self.align_pieces) == 1:
            # Prefix alignment as a second try: a script with a few extra words at the end
            # makes strict alignment fail outright.
            return self.sphinx.align_words(self.pcm, keys) or \
                self.sphinx.align_prefix(self.pcm, keys)
        timed: list[TimedWord] = []
        cursor = 0
        for index, piece in enumerate(self.align_pieces):
            remaining = keys[cursor:]
            if not remaining:
                break
            audio = self.pcm[piece.start:piece.end]
            if index == len(self.align_pieces) - 1:  # the last piece must take every remaining word
                found = self.sphinx.align_words(audio, remaining) or \
                    self.sphinx.align_prefix(audio, remaining)
            else:
                seconds = (piece.end - piece.start) / self.sample_rate
                window = remaining[:int(seconds * _WORDS_PER_SECOND_MAX) + 10]
                found = self.sphinx.align_prefix(audio, window)
            cursor += sum(1 for w in found if not is_filler(w.text))
            timed.extend(_shifted(found, piece.start / self.sample_rate))
        return timed

    def _over_pieces(self, step) -> list[TimedWord]:
        timed: list[TimedWord] = []
        for piece in self.recognition_pieces:
            found = step(self.pcm[piece.start:piece.end])
            timed.extend(_shifted(found, piece.start / self.sample_rate))
        return timed

    def _phones(self, timed: list[TimedWord]) -> list[Phone]:
        return _fill_silence([p for w in timed for p in w.phones], self.duration)


def transcribe(speech: Speech, script: str | None, settings: TranscriptSettings | None = None,
               aligner: PocketsphinxAligner | None = None) -> Transcript:
    """Words and phones of `speech`. Pass a long-lived `aligner` to reuse loaded models."""
    return (aligner or PocketsphinxAligner()).transcribe(speech, script, settings)


# -- helpers ---------------------------------------------------------------------------------

def split_at_pauses(audio: np.ndarray, sample_rate: int, max_utterance_s: float,
                    piece_s: float) -> list[_Piece]:
    """One piece if short enough; else pieces of at most `piece_s`, each cut in the quietest
    300 ms of its second half (pauses between phrases), so no word is cut in two."""
    total = len(audio)
    if total <= max_utterance_s * sample_rate:
        return [_Piece(0, total)]
    hop = sample_rate // 100
    usable = total // hop * hop
    energy = np.mean(np.square(audio[:usable].reshape(-1, hop), dtype=np.float64), axis=1)
    smooth = np.convolve(energy, np.ones(30) / 30, mode="same")
    pieces: list[_Piece] = []
    start_frame, piece_frames = 0, int(piece_s * 100)
    while (len(smooth) - start_frame) > piece_frames:
        low, high = start_frame + piece_frames // 2, start_frame + piece_frames
        cut = low + int(np.argmin(smooth[low:high]))
        pieces.append(_Piece(start_frame * hop, cut * hop))
        start_frame = cut
    pieces.append(_Piece(start_frame * hop, total))
    return pieces


def _shifted(words: list[TimedWord], offset: float) -> list[TimedWord]:
    return [dataclasses.replace(
        w, start=w.start + offset, end=w.end + offset,
        phones=[Phone(p.label, p.start + offset, p.end + offset) for p in w.phones])
        for w in words]


def _display_words(timed: list[TimedWord], script_words: list[ScriptWord]) -> list[Word]:
    """Aligned dictionary words → Words with the script's spelling ("Dashwood", not
    "dashwood"), pairing in order."""
    out: list[Word] = []
    cursor = 0
    for word in timed:
        if is_filler(word.text):
            continue
        while cursor < len(script_words) and script_words[cursor].key != word.text:
            cursor += 1
        text = script_words[cursor].text if cursor < len(script_words) else word.text
        out.append(Word(text=text, start=word.start, end=word.end))
        cursor += 1
    return out


def _fill_silence(phones: list[Phone], duration: float) -> list[Phone]:
    """Sorted, non-overlapping phones covering 0..duration; gaps become "SIL"; neighbouring
    "SIL"s merge."""
    out: list[Phone] = []
    time = 0.0
    for phone in sorted(phones, key=lambda p: p.start):
        start, end = max(phone.start, time), min(phone.end, duration)
        if end <= start:
            continue
        if start > time + 1e-6:
            _append(out, Phone("SIL", time, start))
        _append(out, Phone(phone.label, start, end))
        time = end
    if duration > time + 1e-6:
        _append(out, Phone("SIL", time, duration))
    return out


def _append(phones: list[Phone], phone: Phone) -> None:
    if phones and phone.label == "SIL" and phones[-1].label == "SIL":
        phones[-1] = Phone("SIL", phones[-1].start, phone.end)
    else:
        phones.append(phone)
