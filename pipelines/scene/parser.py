"""Scene text → timed cues.

The scene description is one editable text (the LLM's, the template's or the user's); this
module reads the cues out of it with a small, documented grammar, so that whatever the user
types steers the motion the same way:

1. The text is read line by line. A line may start with a time span, `[1.2–3.4 s]` or
   `1.2-3.4s:`; its cues happen inside that span. A line starting with `Portrait:` describes
   the photo ("smiling, glasses") and is not read for cues.
2. Each line is split into sentences, and each sentence into clauses: a clause ends where a
   comma, "and", "but", "while", "whereas", "as well as" or "then" stands between its cue phrase
   and the next one. A clause's cues are anchored to, in this order:
   - a word written in the clause: `when she says "never"`, `on the word "now"`, or a word in
     asterisks `*never*` (first occurrence in the transcript, after the line's span start when
     there is one);
   - a time written in the clause: `from 2 to 3.5 s`, `between 2 and 3 seconds`, `at 4 s`,
     `after 5 s`, `until 2 s`, `for the first 3 seconds`, `in the last 2 seconds`;
   - a word or time that opens the sentence, before its first cue phrase ("After 5 s she leans
     back and laughs."): it covers every clause without an anchor of its own (a word only up
     to the first "then");
   - the line's span;
   - a segment whose text the sentence quotes (`"how much there might be"`);
   - `at the start` / `at the end` of the clip;
   - otherwise the whole clip ("She keeps her head completely still.").
   So `She raises her brows when she says "leisure" and tilts her head left from 5 to 6.5 s`
   raises the brows on "leisure" and tilts the head from 5 to 6.5 s.
3. Cue phrases (see `vocabulary.py`) are found in the sentence; a phrase preceded by a negation
   ("does not nod", "without smiling") is skipped. Clauses joined by "then" are steps that
   share, in order, the span the sentence gives them (an opening time, the line's span, …),
   unless they have an anchor of their own. Gestures (nod, shake, laugh, …) happen once at
   the start of their span (or on their word) unless the sentence says "repeatedly"/"keeps
   nodding"/"throughout", in which case they fill it; states (smile, look down, keep still, …)
   fill their span.
4. "slightly/gently/a little" halve a cue's strength; "firmly/broadly/completely" raise it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..types import SceneCue, Segment, Word
from .vocabulary import (KINDS_BY_NAME, NEGATION, REPEAT_WORDS, STRONG_WORDS, WEAK_WORDS,
                         CueKind, compiled_patterns)

_NUM = r"(\d+(?:\.\d+)?)"
_DASH = r"\s*(?:–|—|-|to|until)\s*"
_UNIT = r"\s*(?:s|sec|secs|seconds?)\b"
LINE_SPAN = re.compile(r"^\s*[\[(]?\s*" + _NUM + r"\s*(?:s|sec|seconds?)?" + _DASH + _NUM + r"\s*(?:s|sec|seconds?)?\s*[\])]?\s*:?\s*")
SPAN_PATTERNS = (
    (re.compile(r"\bfrom\s+" + _NUM + r"(?:" + _UNIT + r")?\s+(?:to|until|till)\s+" + _NUM + _UNIT, re.I), "range"),
    (re.compile(r"\bbetween\s+" + _NUM + r"(?:" + _UNIT + r")?\s+and\s+" + _NUM + _UNIT, re.I), "range"),
    (re.compile(r"[\[(]?\b" + _NUM + r"(?:" + _UNIT + r")?" + r"\s*(?:–|—|-)\s*" + _NUM + _UNIT + r"[\])]?", re.I), "range"),
    (re.compile(r"\bfor\s+the\s+first\s+" + _NUM + _UNIT, re.I), "first"),
    (re.compile(r"\b(?:in|for|during)\s+the\s+last\s+" + _NUM + _UNIT, re.I), "last"),
    (re.compile(r"\b(?:until|till|before)\s+" + _NUM + _UNIT, re.I), "until"),
    (re.compile(r"\b(?:after|from)\s+" + _NUM + _UNIT, re.I), "after"),
    (re.compile(r"\b(?:at|around|about)\s+" + _NUM + _UNIT, re.I), "at"),
)
WORD_ANCHOR = re.compile(
    r"\b(?:says?|saying|said|say|on|at|with|hits?|reaches?)\s+(?:the\s+words?\s+)?"
    r"[\"“'‘*]([^\"”’*]{1,60}?)[\"”’'*]", re.I)
STARRED = re.compile(r"\*([^*\n]{1,60})\*")
QUOTED = re.compile(r"[\"“]([^\"”]{3,400})[\"”]")
SENTENCE_END = re.compile(r"(?<!\d)(?<!\bs)[.!?;]+(?!\d)\s+|(?<!\d)[.!?;]+$|\n")
PORTRAIT_LINE = re.compile(r"^\s*portrait\s*:", re.I)
THEN = re.compile(r"\s*(?:,\s*)?\b(?:and\s+)?then\b\s*|\s*,\s*(?:and\s+)?(?:finally|afterwards|later)\b\s*", re.I)
CLAUSE_BREAK = re.compile(r",|\b(?:and|but|while|whereas|as\s+well\s+as|then)\b", re.I)


@dataclass(frozen=True)
class SceneContext:
    """What cue anchoring needs to know about the clip."""

    duration: float
    words: tuple[Word, ...] = ()
    segments: tuple[Segment, ...] = ()


def parse_scene_text(text: str, context: SceneContext) -> list[SceneCue]:
    patterns = compiled_patterns()
    cues: list[SceneCue] = []
    for raw_line in (text or "").splitlines():
        if PORTRAIT_LINE.match(raw_line):
            continue
        line_span, body = _line_span(raw_line, context.duration)
        for sentence in _sentences(body):
            cues += _sentence_cues(sentence, line_span, context, patterns)
    return cues


def cue_line(cue: SceneCue) -> str:
    """A cue as one canonical line of scene text (parses back to the same cue)."""
    kind = KINDS_BY_NAME.get(cue.kind)
    phrase = kind.phrase if kind else cue.kind.replace("_", " ")
    if cue.strength < 0.75:
        phrase = f"{phrase} slightly" if kind and kind.name not in ("keep_still",) else phrase
    elif cue.strength > 1.25:
        phrase = f"{phrase} firmly"
    if kind and kind.gesture and (cue.end - cue.start) > 2.0 * kind.length_s:
        phrase += " repeatedly"
    return f"[{cue.start:.2f}–{cue.end:.2f} s] The speaker {phrase}."


# ------------------------------------------------------------------------------ internals

def _line_span(line: str, duration: float) -> tuple[tuple[float, float] | None, str]:
    m = LINE_SPAN.match(line)
    if not m:
        return None, line
    a, b = float(m.group(1)), float(m.group(2))
    if b <= a:
        return None, line
    return (max(0.0, a), min(duration, b)), line[m.end():]


def _sentences(body: str) -> list[str]:
    # A sentence end inside quoted speech does not end the description's sentence: split where
    # the quotes are blanked out, so each quote stays whole (and masked from cue reading).
    masked = QUOTED.sub(lambda m: m.group(0)[0] + "x" * (len(m.group(0)) - 2) + m.group(0)[-1], body)
    parts, start = [], 0
    for m in SENTENCE_END.finditer(masked):
        parts.append(body[start:m.start()])
        start = m.end()
    parts.append(body[start:])
    return [p.strip() for p in parts if p and p.strip()]


@dataclass(frozen=True)
class _Anchor:
    """A spoken word or a time expression the text names, and where it is written."""

    start: int  # characters in the sentence
    end: int
    span: tuple[float, float]  # seconds
    spoken: bool  # a spoken word (a gesture leads it a little), not a time


def _sentence_cues(sentence: str, line_span, ctx: SceneContext, patterns) -> list[SceneCue]:
    """The cues of one sentence, each placed by the anchor of its clause (rule 2 above)."""
    found = _cues_in(sentence, patterns)
    if not found:
        return []
    anchors = (_word_anchors(sentence, ctx, after=line_span[0] if line_span else 0.0)
               + _explicit_spans(sentence, ctx.duration))
    opening = [a for a in anchors if a.start < found[0][0]]
    opening_word = next((a for a in opening if a.spoken), None)
    opening_time = next((a for a in opening if not a.spoken), None)
    common = opening_time.span if opening_time else _sentence_span(sentence, line_span, ctx)
    prose = _blank(_plain(sentence), [(a.start, a.end) for a in anchors])
    clauses = _clause_starts(prose, found)
    steps = _steps(prose, found)
    repeat = bool(re.search(REPEAT_WORDS, sentence, re.I))
    out = []
    for (_, _, kind, strength), clause, step in zip(found, clauses, steps):
        anchor = _own_anchor(clause, clauses, anchors, opening)
        if anchor is None and step == steps[0]:
            anchor = opening_word
        if anchor is not None:
            cue = _place(kind, strength, anchor.span, anchor.spoken, repeat, ctx.duration)
        else:
            cue = _place(kind, strength, _step_part(common, step, steps), False, repeat, ctx.duration)
        if cue is not None:
            out.append(cue)
    return out


def _clause_starts(prose: str, found) -> list[int]:
    """Where the clause of each cue phrase begins: at the first clause break between it and the
    previous cue phrase; with none, it shares the previous one's clause. `prose` has quotes and
    anchors blanked, so the "and" of "between 2 and 3 s" breaks nothing."""
    starts = [0]
    for (_, prev_end, *_), (start, *_) in zip(found, found[1:]):
        m = CLAUSE_BREAK.search(prose, prev_end, start)
        starts.append(m.start() if m else starts[-1])
    return starts


def _own_anchor(clause: int, clauses: list[int], anchors: list[_Anchor],
                opening: list[_Anchor]) -> _Anchor | None:
    """The clause's first spoken word, else its time (the sentence's opening anchors belong to
    every clause, not to the first one alone)."""
    for anchor in anchors:
        if anchor not in opening and max(c for c in clauses if c <= anchor.start) == clause:
            return anchor
    return None


def _steps(prose: str, found) -> list[int]:
    """For each cue phrase, how many "then"s come before it (outside quotes and anchors)."""
    breaks = [m.start() for m in THEN.finditer(prose)]
    return [sum(b <= pos for b in breaks) for pos, *_ in found]


def _step_part(span: tuple[float, float], step: int, steps: list[int]) -> tuple[float, float]:
    """The share of `span` that a step of a "then" sequence gets, in order."""
    order = sorted(set(steps))
    width = (span[1] - span[0]) / len(order)
    i = order.index(step)
    return span[0] + i * width, span[0] + (i + 1) * width


def _sentence_span(sentence: str, line_span, ctx: SceneContext) -> tuple[float, float]:
    """The span a sentence gives the clauses that no word or time anchors."""
    if line_span is not None:
        return line_span
    for m in QUOTED.finditer(sentence):
        seg = _find_segment(m.group(1), ctx.segments)
        if seg is not None:
            return seg
    low = sentence.lower()
    if re.search(r"\bat\s+the\s+(?:start|beginning|outset)\b", low):
        return 0.0, min(ctx.duration, 2.0)
    if re.search(r"\bat\s+the\s+(?:end|close)\b", low):
        return max(0.0, ctx.duration - 2.0), ctx.duration
    return 0.0, ctx.duration


def _word_anchors(sentence: str, ctx: SceneContext, after: float) -> list[_Anchor]:
    """Each spoken word the sentence names and the transcript has."""
    out: list[_Anchor] = []
    for m in list(WORD_ANCHOR.finditer(sentence)) + list(STARRED.finditer(sentence)):
        hit = find_words(m.group(1), ctx.words, after)
        if hit is not None and all(not (m.start() < a.end and m.end() > a.start) for a in out):
            out.append(_Anchor(m.start(), m.end(), hit, spoken=True))
    return out


def _explicit_spans(sentence: str, duration: float) -> list[_Anchor]:
    """Each time expression in the sentence, in the order of SPAN_PATTERNS."""
    out: list[_Anchor] = []
    for pattern, form in SPAN_PATTERNS:
        for m in pattern.finditer(sentence):
            if any(m.start() < a.end and m.end() > a.start for a in out):
                continue
            span = _span_of(m, form, duration)
            if span is not None:
                out.append(_Anchor(m.start(), m.end(), span, spoken=False))
    return out


def _span_of(m: re.Match, form: str, duration: float) -> tuple[float, float] | None:
    a = float(m.group(1))
    if form == "range":
        b = float(m.group(2))
    elif form == "first":
        a, b = 0.0, a
    elif form == "last":
        a, b = duration - a, duration
    elif form == "until":
        a, b = 0.0, a
    elif form == "after":
        b = duration
    else:  # "at": a point; the cue's own length is applied when it is placed
        b = a
    a, b = max(0.0, a), min(duration, b)
    return (a, b) if b >= a and a < duration else None


def _norm(token: str) -> str:
    return re.sub(r"[^a-z0-9']", "", token.lower())


def find_words(phrase: str, words: tuple[Word, ...], after: float = 0.0) -> tuple[float, float] | None:
    """Start and end of the first time `phrase` is spoken (at or after `after` if it is spoken
    again later), matching words without case or punctuation."""
    target = [_norm(t) for t in phrase.split() if _norm(t)]
    if not target or not words:
        return None
    spoken = [_norm(w.text) for w in words]
    starts = [i for i in range(len(words) - len(target) + 1)
              if spoken[i:i + len(target)] == target]
    if not starts:
        return None
    i = next((j for j in starts if words[j].start >= after - 0.05), starts[0])
    return words[i].start, words[i + len(target) - 1].end


def _find_segment(quote: str, segments: tuple[Segment, ...]) -> tuple[float, float] | None:
    q = [_norm(t) for t in quote.split() if _norm(t)]
    if len(q) < 2:
        return None
    best, best_score = None, 0.0
    for seg in segments:
        s = {_norm(t) for t in seg.text.split()}
        score = sum(t in s for t in q) / len(q)
        if score > best_score:
            best, best_score = seg, score
    return (best.start, best.end) if best is not None and best_score >= 0.6 else None


def _plain(sentence: str) -> str:
    """The sentence with quoted speech blanked out, at the same character positions: what is
    said is not what is done ("when she says 'I never smile'")."""
    plain = QUOTED.sub(lambda m: " " * len(m.group(0)), sentence)
    plain = STARRED.sub(lambda m: " " * len(m.group(0)), plain)
    return WORD_ANCHOR.sub(lambda m: " " * len(m.group(0)), plain)


def _blank(text: str, ranges) -> str:
    for start, end in ranges:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def _cues_in(sentence: str, patterns) -> list[tuple[int, int, CueKind, float]]:
    """(start, end, kind, strength) of each cue phrase, in sentence order."""
    plain = _plain(sentence)
    matches = []
    for kind, pattern in patterns:
        for m in pattern.finditer(plain):
            matches.append((m.start(), m.end(), kind))
    # Longest match wins where matches overlap ("tilts her head to the right" is not also a
    # plain head tilt).
    taken: list[tuple[int, int, CueKind]] = []
    for start, end, kind in sorted(matches, key=lambda x: -(x[1] - x[0])):
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, kind))
    out = []
    seen = set()
    taken.sort(key=lambda x: x[0])
    for i, (start, end, kind) in enumerate(taken):
        # Modifiers belong to the nearest cue phrase: look only up to the neighbours.
        prev_end = taken[i - 1][1] if i else 0
        next_start = taken[i + 1][0] if i + 1 < len(taken) else len(plain)
        before_words = " ".join(plain[max(prev_end, start - 40):start].split()[-4:])
        if re.search(NEGATION, before_words, re.I) and kind.name != "keep_still":
            continue
        if kind.name in seen:
            continue
        seen.add(kind.name)
        around = before_words + " " + plain[start:min(next_start, end + 30)]
        strength = 1.0
        if re.search(r"\b(?:" + WEAK_WORDS + r")\b", around, re.I):
            strength = 0.5
        elif re.search(r"\b(?:" + STRONG_WORDS + r")\b", around, re.I):
            strength = 1.4
        out.append((start, end, kind, strength))
    return out


def _place(kind: CueKind, strength: float, span: tuple[float, float], on_word: bool,
           repeat: bool, duration: float) -> SceneCue | None:
    start, end = span
    if kind.gesture and not repeat:
        length = kind.length_s
        if on_word:
            start = max(0.0, start - 0.1)  # the gesture leads the stressed word a little
            end = max(end, start + length)
        elif end - start > 2.0 * length or end - start < 0.2:
            end = start + length
    elif end - start < 0.3:  # a state at a point in time: hold it for a moment
        end = start + max(kind.length_s, 1.0)
    start, end = max(0.0, start), min(duration, end)
    if end - start < 0.1:
        return None
    return SceneCue(kind=kind.name, start=round(start, 3), end=round(end, 3), strength=strength)
