"""The offline scene writer: a deterministic description from transcript, emotions and portrait.

It writes the same kind of text a user or an LLM would (one line per segment, with its time
span), so its cues come out of the same parser. The rules, per segment:

- mood words from the segment's emotion (label, intensity, arousal);
- happy → smiles (broadly from intensity 0.7); sad → looks down, and keeps the head still when
  strong; angry → frowns, and shakes the head on its stressed word when aroused; surprised →
  raises the eyebrows; fearful → leans back; disgusted → frowns and leans back; contempt →
  tilts the head; a question → tilts the head to the left;
- the first segment looks at the camera; a calm neutral segment longer than 2 s nods gently on
  its stressed word (the longest content word);
- a pause of 0.8 s or more after a segment → a glance away inside the pause.
"""
from __future__ import annotations

from .request import SceneRequest, SegmentBrief

_STOP = {"about", "after", "again", "because", "before", "being", "could", "there", "their",
         "these", "those", "which", "while", "would", "should", "might", "other", "where",
         "whose", "through", "then", "than", "them", "they", "have", "from", "with", "that",
         "this", "what", "when", "were", "will", "your", "yours", "much", "very"}

_MOOD = {
    "neutral": ("calm", "composed"),
    "happy": ("warm", "happy"),
    "sad": ("quiet", "sad"),
    "angry": ("tense", "angry"),
    "surprised": ("animated", "surprised"),
    "fearful": ("hesitant", "afraid"),
    "disgusted": ("put off", "disgusted"),
    "contempt": ("cool", "dismissive"),
}


class TemplateSceneWriter:
    name = "template"

    def write(self, request: SceneRequest) -> str:
        lines = [self._overview(request)]
        segments = list(request.segments)
        for i, seg in enumerate(segments):
            lines.append(self._segment_line(seg, first=(i == 0), request=request))
            gap_end = segments[i + 1].start if i + 1 < len(segments) else None
            if gap_end is not None and gap_end - seg.end >= 0.8:
                lines.append(f"[{seg.end:.2f}–{gap_end:.2f} s] In the pause the speaker glances "
                             f"away, then looks at the camera again.")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------
    def _overview(self, request: SceneRequest) -> str:
        portrait = request.portrait.get("summary", "").strip()
        labels = [s.label for s in request.segments if s.intensity >= 0.3] or ["neutral"]
        main = max(set(labels), key=labels.count)
        arousal = sum(s.arousal * (s.end - s.start) for s in request.segments) / max(request.duration, 1e-6)
        pace = "animated" if arousal > 0.3 else "measured" if arousal < -0.3 else "natural"
        mood = _MOOD.get(main, _MOOD["neutral"])[1]
        article = "an" if pace[0] in "aeiou" else "a"
        text = f"The speaker talks to the camera in {article} {pace}, {mood} way."
        # The photo's description goes on its own "Portrait:" line, which the parser does not
        # read for cues (a smiling photo is not a request to smile all along).
        return f"Portrait: {portrait}\n{text}" if portrait else text

    def _segment_line(self, seg: SegmentBrief, first: bool, request: SceneRequest) -> str:
        mild, strong = _MOOD.get(seg.label, _MOOD["neutral"])
        mood = strong if seg.intensity >= 0.5 else mild
        actions: list[str] = []
        if first:
            actions.append("looks at the camera")
        stressed = self._stressed_word(seg)
        if seg.label == "happy" and seg.intensity >= 0.3:
            actions.append("smiles broadly" if seg.intensity >= 0.7 else "smiles")
        elif seg.label == "sad":
            actions.append("looks down")
            if seg.intensity >= 0.5:
                actions.append("keeps the head still")
        elif seg.label == "angry":
            actions.append("frowns")
            if seg.arousal > 0.3 and stressed:
                actions.append(f"shakes the head when saying \"{stressed}\"")
        elif seg.label == "surprised":
            actions.append("raises the eyebrows")
        elif seg.label == "fearful":
            actions.append("leans back")
        elif seg.label == "disgusted":
            actions += ["frowns", "leans back"]
        elif seg.label == "contempt":
            actions.append("tilts the head to the right")
        if seg.text.strip().endswith("?"):
            actions.append("tilts the head to the left")
        calm = seg.label == "neutral" or seg.intensity < 0.3
        if calm and stressed and seg.end - seg.start >= 2.0 and seg.arousal > -0.4:
            actions.append(f"nods gently when saying \"{stressed}\"")
        quote = seg.text.strip()
        if len(quote) > 70:
            quote = quote[:67].rsplit(" ", 1)[0] + "…"
        said = f" \u201c{quote}\u201d" if quote else ""
        doing = (", ".join(actions[:-1]) + " and " + actions[-1]) if len(actions) > 1 else \
            (actions[0] if actions else "speaks naturally")
        return f"[{seg.start:.2f}–{seg.end:.2f} s]{said} — {mood}; the speaker {doing}."

    @staticmethod
    def _stressed_word(seg: SegmentBrief) -> str:
        words = [w.strip(".,;:!?\"'()").lower() for w in seg.text.split()]
        content = [w for w in words if len(w) >= 5 and w.isalpha() and w not in _STOP]
        return max(content, key=len) if content else ""
