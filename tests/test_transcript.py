"""Transcript: forced alignment against pocketsphinx's reference, ASR, OOV words, fallbacks."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from pipelines.audio import load_speech
from pipelines.audio.decode import normalise_for_analysis
from pipelines.settings import TranscriptSettings
from pipelines.text import PocketsphinxAligner, transcribe
from pipelines.text.align import (WARN_NOT_ENGLISH, WARN_SCRIPT_MISMATCH,
                                  WARN_SCRIPT_NOT_ENGLISH)
from pipelines.text.g2p import ARPABET_PHONES, ipa_to_arpabet
from pipelines.text.normalize import ScriptNormaliser
from pipelines.types import Speech

from conftest import FEELS_LIKE, GO_FORWARD, LIBRIVOX, ReadClip


@pytest.fixture(scope="module")
def aligner() -> PocketsphinxAligner:
    return PocketsphinxAligner()


@pytest.fixture(scope="module")
def clip():
    first = LIBRIVOX[0]
    return load_speech(first.wav), first.script.read_text().strip()


def _reference_words(clip: ReadClip) -> list[tuple[str, float, float]]:
    data = json.loads(clip.reference.read_text())
    return [(re.sub(r"\(\d+\)$", "", w["t"]), w["b"], w["b"] + w["d"])
            for w in data["w"] if not w["t"].startswith("<")]


def _assert_phones_cover(transcript, duration: float) -> None:
    phones = transcript.phones
    assert phones[0].start == 0.0 and phones[-1].end == pytest.approx(duration, abs=0.011)
    for before, after in zip(phones, phones[1:]):
        assert after.start == pytest.approx(before.end, abs=1e-6) and after.end > after.start
    assert {p.label for p in phones} <= ARPABET_PHONES | {"SIL"}


@pytest.mark.parametrize("read", LIBRIVOX, ids=lambda c: c.reference.name.split(".")[0][-4:])
def test_alignment_matches_reference_word_times(aligner, read):
    speech = load_speech(read.wav)
    transcript = aligner.transcribe(speech, read.script.read_text(), TranscriptSettings())
    reference = _reference_words(read)
    assert transcript.source == "aligned" and transcript.warnings == []
    assert [w.text for w in transcript.words] == [r[0] for r in reference]
    for word, (_, start, end) in zip(transcript.words, reference):
        assert abs(word.start - start) <= 0.1 and abs(word.end - end) <= 0.1
    _assert_phones_cover(transcript, speech.duration)


def test_phones_sit_inside_their_words(aligner, clip):
    speech, script = clip
    transcript = aligner.transcribe(speech, script)
    john = next(w for w in transcript.words if w.text == "john")
    inside = [p.label for p in transcript.phones
              if p.start >= john.start - 1e-6 and p.end <= john.end + 1e-6]
    assert inside == ["JH", "AA", "N"]


def test_script_keeps_users_spelling_and_expands_numbers(aligner):
    speech = load_speech(GO_FORWARD)
    transcript = aligner.transcribe(speech, "Go forward, 10 meters!")
    assert transcript.source == "aligned"
    assert [w.text for w in transcript.words] == ["Go", "forward", "ten", "meters"]


def test_out_of_vocabulary_word_still_aligns(aligner, clip):
    speech, script = clip
    # "Dashwudd" is in no dictionary: its pronunciation must come from g2p.
    oov_script = script.replace("dashwood", "Dashwudd")
    assert aligner.sphinx.decoder.lookup_word("dashwudd") is None
    transcript = aligner.transcribe(speech, oov_script)
    assert transcript.source == "aligned"
    name = next(w for w in transcript.words if w.text == "Dashwudd")
    assert abs(name.start - 0.98) <= 0.1 and abs(name.end - 1.58) <= 0.1


def test_asr_returns_words_and_phones(aligner):
    speech = load_speech(GO_FORWARD)
    transcript = aligner.transcribe(speech, None)
    assert transcript.source == "asr" and transcript.warnings == []
    assert transcript.text == "go forward ten meters"
    assert [w.text for w in transcript.words] == ["go", "forward", "ten", "meters"]
    assert all(a.end <= b.start + 1e-6 for a, b in zip(transcript.words, transcript.words[1:]))
    assert "F" in {p.label for p in transcript.phones}
    _assert_phones_cover(transcript, speech.duration)


def test_mismatched_script_falls_back_to_recognised_phones(aligner, clip):
    speech, _ = clip
    other_script = LIBRIVOX[1].script.read_text()
    transcript = aligner.transcribe(speech, other_script)
    assert transcript.source == "phones"
    assert transcript.warnings == [WARN_SCRIPT_MISMATCH]
    assert transcript.words == [] and transcript.text == other_script.strip()
    assert sum(p.label != "SIL" for p in transcript.phones) > 20
    _assert_phones_cover(transcript, speech.duration)


def test_short_wrong_script_is_also_caught(aligner):
    speech = load_speech(FEELS_LIKE)  # "feels like these days go on forever"
    transcript = aligner.transcribe(speech, "go forward ten meters")
    assert transcript.source == "phones" and transcript.warnings == [WARN_SCRIPT_MISMATCH]


def test_script_with_extra_trailing_words_aligns_what_was_said(aligner):
    speech = load_speech(GO_FORWARD)
    transcript = aligner.transcribe(speech, "go forward ten meters and turn left")
    assert transcript.source == "aligned"
    assert [w.text for w in transcript.words][:4] == ["go", "forward", "ten", "meters"]


def test_non_english_script_falls_back(aligner, clip):
    speech, _ = clip
    transcript = aligner.transcribe(speech, "Привет, как дела? Всё хорошо, спасибо.")
    assert transcript.source == "phones" and transcript.warnings == [WARN_SCRIPT_NOT_ENGLISH]


def test_unintelligible_speech_without_script_falls_back(aligner, clip):
    # Time-reversed speech: speech-like sound that is no English (a stand-in for other
    # languages, which the samples do not include).
    speech, _ = clip
    transcript = aligner.transcribe(_speech_from(speech.samples[::-1].copy()), None)
    assert transcript.source == "phones" and transcript.warnings == [WARN_NOT_ENGLISH]
    assert transcript.words == [] and len(transcript.phones) > 20


def test_noise_gives_energy_fallback_with_a_warning(aligner):
    rng = np.random.default_rng(0)
    hum = (0.3 * np.sin(2 * np.pi * 50 * np.arange(32000) / 16000)
           + rng.standard_normal(32000) * 1e-3).astype(np.float32)
    speech = _speech_from(hum)
    transcript = aligner.transcribe(speech, None)
    assert transcript.source in ("energy", "phones")
    assert transcript.warnings and transcript.words == []


def test_energy_mode_skips_recognition(aligner, clip):
    speech, script = clip
    transcript = transcribe(speech, script, TranscriptSettings(mode="energy"), aligner=aligner)
    assert transcript.source == "energy" and transcript.phones == [] and transcript.warnings == []


def test_long_recording_is_aligned_in_pieces(aligner, clip):
    speech, script = clip
    gap = np.zeros(8000, np.float32)
    samples = np.concatenate([np.concatenate([speech.samples, gap])] * 7)  # ~53 s > 40 s
    long_speech = _speech_from(samples)
    transcript = aligner.transcribe(long_speech, " ".join([script] * 7))
    assert transcript.source == "aligned"
    assert len(transcript.words) == 7 * 22
    period = speech.duration + 0.5
    starts = [w.start for w in transcript.words if w.text == "mister"]
    assert np.allclose(np.diff(starts), period, atol=0.1)
    _assert_phones_cover(transcript, long_speech.duration)


def test_ipa_to_arpabet():
    assert ipa_to_arpabet(["d", "ˈæ", "ʃ", "w", "ˌʊ", "d"]) == ["D", "AE", "SH", "W", "UH", "D"]
    assert ipa_to_arpabet(["t͡ʃ", "ˈaɪ", "l", "d"]) == ["CH", "AY", "L", "D"]
    assert ipa_to_arpabet(["ð", "ɚ", "ŋ", "oʊ"]) == ["DH", "ER", "NG", "OW"]


def test_normaliser_spells_out_numbers_and_drops_punctuation():
    words = ScriptNormaliser().words("In 1999, Mr. O'Brien paid $3!")
    keys = [w.key for w in words]
    assert keys[:4] == ["in", "nineteen", "ninety", "nine"]
    assert "mister" in keys and "o'brien" in keys and "three" in keys
    assert all(w.ipa for w in words)


def _speech_from(samples: np.ndarray) -> Speech:
    from pipelines.types import MediaRef

    return Speech(source=MediaRef("memory", "0" * 64), sample_rate=16000,
                  duration=len(samples) / 16000, source_sample_rate=16000, source_channels=1,
                  samples=samples, analysis=normalise_for_analysis(samples, 16000))
