"""Read-only views of a Project for the studio: table rows and the emotion timeline figure."""
from __future__ import annotations

import time

from pipelines.project import Project

# One colour per MEAD category (colour-blind-friendly Okabe–Ito where possible).
CATEGORY_COLOURS = {
    "neutral": "#bbbbbb", "happy": "#e69f00", "sad": "#0072b2", "angry": "#d55e00",
    "surprised": "#f0e442", "fearful": "#cc79a7", "disgusted": "#009e73", "contempt": "#56b4e9",
}


TRANSCRIPT_SOURCES = {
    "aligned": "aligned to your script",
    "asr": "recognised from the speech; add the script for sharper lip sync",
    "phones": "no words placed: the lips follow the sounds heard",
    "energy": "no words placed: the mouth follows the loudness",
}


def analysis_note(project: Project) -> str:
    """One line on what the analysis found, in the creator's words."""
    if project.emotion is None or project.transcript is None:
        return ""
    tr = project.transcript
    how = TRANSCRIPT_SOURCES.get(tr.source, "")
    return (f"**Analyzed:** {counted(len(project.emotion.segments), 'segment')}, "
            f"{counted(len(tr.words), 'word')}" + (f" ({how})." if how else "."))


def counted(n: int, thing: str) -> str:
    """"1 take", "3 takes"."""
    return f"{n} {thing}{'' if n == 1 else 's'}"


def library_choices(library, project_id: str | None):
    """The Library tab's project menu ((label, id) pairs), the chosen project (None when
    `project_id` is gone) and the takes it lists: its own, or every project's."""
    projects = [(f"{p.name} · {_when(p.updated)} ({counted(p.takes, 'take')})", p.id)
                for p in library.projects()]
    chosen = project_id if any(v == project_id for _, v in projects) else None
    return projects, chosen, library.takes(chosen)


def _when(timestamp: float) -> str:
    return time.strftime("%d %b %H:%M", time.localtime(timestamp))


def segment_rows(project: Project) -> list[dict]:
    """One dict per segment for the per-segment editor: effective values, and the detected ones."""
    if project.emotion is None:
        return []
    edited = {o.segment: o for o in project.emotion_overrides}
    everyone = edited.get(-1)
    rows = []
    for i, seg in enumerate(project.emotion.segments):
        o = edited.get(i) or everyone
        fused = seg.fused
        detected = (f"{fused.label} {fused.intensity:.2f}, valence {fused.valence:+.2f}, "
                    f"arousal {fused.arousal:+.2f}") if fused else seg.label
        rows.append({"index": i, "start": seg.segment.start, "end": seg.segment.end,
                     "text": seg.segment.text, "detected": detected,
                     "label": o.label if (o and o.label) else "auto",
                     "intensity": round(float(seg.intensity), 2),
                     "valence": round(float(seg.valence), 2),
                     "arousal": round(float(seg.arousal), 2)})
    return rows


def signal_rows(project: Project) -> list[list]:
    """Per segment: each signal's top reading with its confidence, and the fused result."""
    if project.emotion is None:
        return []
    rows = []
    for i, seg in enumerate(project.emotion.segments):
        by = {s.signal: s for s in seg.signals}

        def top(name):
            s = by.get(name)
            if s is None:
                return "–"
            if s.probs:
                label = max(s.probs, key=s.probs.get)
                return f"{label} {s.probs[label]:.2f} (conf. {s.confidence:.1f})"
            return f"V {s.valence or 0:+.2f} A {s.arousal or 0:+.2f} (conf. {s.confidence:.1f})"

        va = by.get("valence_arousal")
        va_text = "–" if va is None else f"V {va.valence or 0:+.2f} A {va.arousal or 0:+.2f}"
        effective = f"{seg.label} {seg.intensity:.2f}" + (" (edited)" if seg.source == "override" else "")
        rows.append([f"{i + 1}: {seg.segment.start:.1f}–{seg.segment.end:.1f} s",
                     top("text_sentiment"), top("speech_emotion"), va_text, effective])
    return rows


def transcript_rows(project: Project) -> list[list]:
    if project.transcript is None:
        return []
    return [[w.text, round(w.start, 2), round(w.end, 2)] for w in project.transcript.words]


def scene_box_text(project: Project) -> str:
    return project.scene.text if project.scene is not None else ""


def cue_rows(project: Project) -> list[list]:
    if project.scene is None:
        return []
    return [[c.kind.replace("_", " "), round(c.start, 2), round(c.end, 2), round(c.strength, 2)]
            for c in project.scene.cues]


def timeline_figure(project: Project):
    """Segments as coloured bands labelled with their category; valence and arousal as lines
    (dashed: detected, where the user changed them)."""
    # A bare Figure (no pyplot): no global backend state, safe from Gradio's worker threads.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 2.8), dpi=100)
    ax = fig.add_subplot(111)
    if project.emotion is None or not project.emotion.segments:
        ax.text(0.5, 0.5, "Analyze the speech to see its emotion over time", ha="center",
                va="center", transform=ax.transAxes, color="#666")
        ax.set_axis_off()
        return fig
    xs, val, aro, dval, daro = [], [], [], [], []
    for seg in project.emotion.segments:
        a, b = seg.segment.start, seg.segment.end
        ax.axvspan(a, b, color=CATEGORY_COLOURS.get(seg.label, "#ddd"), alpha=0.25 + 0.35 * seg.intensity,
                   lw=0)
        # Category names along the bottom (Gradio's plot label covers the top-left corner).
        ax.text((a + b) / 2, -0.97, seg.label + (" (edited)" if seg.source == "override" else ""),
                ha="center", va="bottom", fontsize=8)
        xs += [a, b]
        val += [seg.valence] * 2
        aro += [seg.arousal] * 2
        f = seg.fused
        dval += [f.valence if f else seg.valence] * 2
        daro += [f.arousal if f else seg.arousal] * 2
    ax.plot(xs, val, color="#7b3294", lw=2, label="valence")
    ax.plot(xs, aro, color="#008837", lw=2, label="arousal")
    if dval != val or daro != aro:
        ax.plot(xs, dval, color="#7b3294", lw=1, ls="--", label="valence (detected)")
        ax.plot(xs, daro, color="#008837", lw=1, ls="--", label="arousal (detected)")
    ax.axhline(0, color="#999", lw=0.5)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlim(xs[0], xs[-1])
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=7, ncol=2, frameon=False)
    fig.tight_layout()
    return fig
