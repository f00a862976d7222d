"""Does a timing actually explain the sound?

Forced alignment always places the words somewhere, even when the script is wrong or the speech
is not English. pocketsphinx scores each 10 ms frame relative to the best-scoring model state of
that frame, so an aligned word's score per frame is a "goodness of pronunciation": near 0 when
the word is what was said, far below when the aligner forced it onto other sounds. Two symptoms
of a wrong script follow: few words fit, and the pauses the aligner inserted soak up speech
(they fit badly). The thresholds were measured on read, conversational and telephone English:
matching words score about -5..-40 per frame, forced-on words -30..-170, true pauses -1..-15,
pauses that swallow speech -45..-85.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .sphinx import FRAME_RATE, TimedWord, is_filler

WORD_FIT_MIN = -30.0  # per frame: a word at least this good "matches" the sound
PAUSE_FIT_MIN = -35.0  # per frame: a pause worse than this is really unexplained speech
_MIN_PAUSE_S = 0.15  # shorter pauses are too noisy to judge
# ASR output is always the best-fitting English; on non-English (or very unclear) speech it still
# fits clearly worse than on English: -8..-22 on English vs about -26..-35 otherwise.
ASR_FIT_MIN = -26.0


@dataclass
class AlignmentFit:
    word_fraction: float  # fraction of words whose sound fits (0..1)
    unexplained_fraction: float  # fraction of the recording in pauses that swallow speech
    mean_word_fit: float  # frame-weighted mean score per frame of the words


def alignment_fit(timed: Sequence[TimedWord], duration: float,
                  script_words: int = 0) -> AlignmentFit:
    """`script_words`: how many words the script had (words left unaligned count as misses)."""
    words = [w for w in timed if not is_filler(w.text) and _frames(w) > 0]
    pauses = [w for w in timed if is_filler(w.text) and w.end - w.start >= _MIN_PAUSE_S]
    if not words:
        return AlignmentFit(0.0, 1.0, float("-inf"))
    fitting = sum(1 for w in words if w.score / _frames(w) >= WORD_FIT_MIN)
    unexplained = sum(w.end - w.start for w in pauses if w.score / _frames(w) < PAUSE_FIT_MIN)
    mean_fit = sum(w.score for w in words) / sum(_frames(w) for w in words)
    return AlignmentFit(word_fraction=fitting / max(len(words), script_words),
                        unexplained_fraction=unexplained / max(duration, 1e-3),
                        mean_word_fit=mean_fit)


def _frames(word: TimedWord) -> int:
    return max(0, round((word.end - word.start) * FRAME_RATE))
