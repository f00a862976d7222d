"""The scene-cue vocabulary: what a scene description can ask the face to do.

Each kind has a canonical phrase (what the template writes and what the LLM is shown), the
phrases the parser recognises in free text, whether it is a *gesture* (a short action that
happens once unless the text says "repeatedly") or a *state* (held for the whole span it is
anchored to), and its default length as a gesture. Directions (left/right) are the speaker's own.
The motion side (`pipelines/motion/cues.py`) registers one handler per kind.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class CueKind:
    name: str
    phrase: str  # canonical English, as the template writes it
    patterns: tuple[str, ...]  # regular expressions, matched case-insensitively on word boundaries
    gesture: bool  # True: happens once (about `length_s`); False: held over its span
    length_s: float = 1.0


_HEAD = r"(?:(?:her|his|their|the)\s+)?head"

CUE_KINDS: tuple[CueKind, ...] = (
    CueKind("nod", "nods", (r"nod(?:s|ding|ded)?", r"bob(?:s|bing)?\s+" + _HEAD), True, 0.9),
    CueKind("shake", "shakes the head",
            (r"shak(?:es|ing|e)\s+" + _HEAD, r"head\s+shakes?", r"shakes? (?:no|it off)"), True, 1.2),
    CueKind("tilt_left", "tilts the head to the left",
            (r"tilt(?:s|ing|ed)?\s+(?:" + _HEAD + r"\s+)?(?:\w+ly\s+)?(?:to\s+(?:the|her|his|their)\s+)?left",
             r"cocks?\s+(?:" + _HEAD + r"\s+)?(?:to\s+the\s+)?left",
             # An undirected tilt goes to the speaker's left; a longer, directed match wins.
             r"tilt(?:s|ing|ed)?\s+" + _HEAD, r"head\s+tilt(?:ed)?"), False),
    CueKind("tilt_right", "tilts the head to the right",
            (r"tilt(?:s|ing|ed)?\s+(?:" + _HEAD + r"\s+)?(?:\w+ly\s+)?(?:to\s+(?:the|her|his|their)\s+)?right",
             r"cocks?\s+(?:" + _HEAD + r"\s+)?(?:to\s+the\s+)?right"), False),
    CueKind("look_away", "glances away",
            (r"glanc(?:es|ing|e)\s+(?:away|aside|off)", r"look(?:s|ing)?\s+(?:away|aside|off)",
             r"averts?\s+(?:her|his|their|the)?\s*(?:eyes|gaze)"), True, 1.2),
    CueKind("look_down", "looks down",
            (r"look(?:s|ing)?\s+down", r"glanc(?:es|ing|e)\s+down", r"lowers?\s+(?:her|his|their|the)\s+(?:eyes|gaze)",
             r"eyes\s+down(?:cast)?", r"downcast"), False),
    CueKind("look_at_camera", "looks at the camera",
            (r"look(?:s|ing)?\s+(?:straight\s+|directly\s+)?(?:at|into)\s+(?:the\s+)?(?:camera|lens|viewer)",
             r"eye\s+contact", r"meets?\s+the\s+(?:viewer'?s?|camera'?s?)\s*(?:eyes|gaze)?"), False),
    CueKind("lean_in", "leans in",
            (r"lean(?:s|ing)?\s+(?:in|forward|closer|towards?)", r"moves?\s+closer"), False),
    CueKind("lean_back", "leans back",
            (r"lean(?:s|ing)?\s+back(?:ward)?", r"draws?\s+back", r"pulls?\s+back"), False),
    CueKind("smile", "smiles",
            (r"smil(?:es|ing|e)", r"grin(?:s|ning)?", r"beam(?:s|ing)"), False),
    CueKind("laugh", "laughs",
            (r"laugh(?:s|ing)?", r"chuckl(?:es|ing|e)", r"giggl(?:es|ing|e)"), True, 1.6),
    CueKind("frown", "frowns",
            (r"frown(?:s|ing)?", r"scowl(?:s|ing)?", r"furrows?\s+(?:her|his|their|the)\s+brows?"), False),
    CueKind("raise_brows", "raises the eyebrows",
            (r"rais(?:es|ing|e)\s+(?:her|his|their|the)\s+(?:eye)?brows?",
             r"(?:eye)?brows?\s+(?:go\s+up|rise|raised|lift)", r"lifts?\s+(?:her|his|their|the)\s+(?:eye)?brows?"),
            True, 1.0),
    CueKind("blink_slowly", "blinks slowly",
            (r"blink(?:s|ing)?\s+slowly", r"slow(?:ly)?\s+blinks?", r"closes?\s+(?:her|his|their|the)\s+eyes"),
            True, 0.9),
    CueKind("keep_still", "keeps the head still",
            (r"keep(?:s|ing)?\s+(?:" + _HEAD + r"|(?:her|his|their)self|the\s+body)\s+(?:\w+\s+)?still",
             r"(?:stays?|remains?|holds?|sits?|stands?)\s+(?:\w+\s+)?(?:still|motionless|steady)",
             r"motionless", r"without\s+moving"), False),
    CueKind("emphasis", "stresses the word",
            (r"stress(?:es|ing)?", r"emphasi[sz](?:es|ing|e)", r"accent(?:s|uates)?", r"punctuat(?:es|ing)"),
            True, 0.6),
)

KINDS_BY_NAME = {k.name: k for k in CUE_KINDS}

# Words that change how strong a cue is (looked for in the few words before the cue).
WEAK_WORDS = r"fairly|rather|somewhat|slight(?:ly)?|gently|gentle|a\s+little|subtly|subtle|softly|barely|faint(?:ly)?|small"
STRONG_WORDS = r"strongly|firmly|vigorously|broadly|deeply|emphatically|big|wide(?:ly)?|clearly|completely|totally|entirely|really"
REPEAT_WORDS = r"repeatedly|again\s+and\s+again|several\s+times|over\s+and\s+over|keeps?\s+\w+ing|throughout|continually|constantly|all\s+the\s+time"
NEGATION = r"(?:\b(?:not|never|no|without|stops?|avoids?)\b|n't\b)"  # "doesn't" has no \b before n


def compiled_patterns() -> list[tuple[CueKind, re.Pattern]]:
    """(kind, pattern) pairs, longer phrases first so 'tilts the head to the left' is not also
    read as a plain head tilt."""
    out = []
    for kind in CUE_KINDS:
        for p in kind.patterns:
            out.append((kind, re.compile(r"\b" + p + r"\b", re.IGNORECASE)))
    return out


def vocabulary_help() -> str:
    """One line per kind, for the LLM prompt and the UI."""
    return "\n".join(f"- {k.name}: {k.phrase}{' (a short gesture)' if k.gesture else ' (held)'}"
                     for k in CUE_KINDS)
