#!/usr/bin/env python3
"""SynchroRaMa Studio entry point.

    launch.py                 start the studio (same as `launch.py studio`)
    launch.py render ...      portrait + speech → MP4 (see `launch.py render --help`)
    launch.py analyze ...     transcript, segments and the emotion embedding of a recording
    launch.py preview ...     a portrait under every emotion and mouth shape, as one PNG grid
    launch.py demo            render the bundled sample portrait and speech
    launch.py bench           time a fixed sample, print one JSON line
    launch.py check           verify the installation (models ship in the packages)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Quiet the C++ logging of MediaPipe/TFLite before anything imports them.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"


class ProgressPrinter:
    """Stage-by-stage progress on stderr: a live bar on a terminal, plain lines otherwise."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.current = None
        self.t0 = time.perf_counter()

    def __call__(self, stage: str, fraction: float) -> None:
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        if stage != self.current:
            if self.tty and self.current is not None:
                sys.stderr.write("\n")
            self.current = stage
            if not self.tty:
                sys.stderr.write(f"[{elapsed:6.1f}s] {stage}\n")
        if self.tty:
            bar = "#" * int(30 * fraction)
            sys.stderr.write(f"\r[{elapsed:6.1f}s] {stage:<10} [{bar:<30}] {100 * fraction:5.1f}%")
            if stage == "done":
                sys.stderr.write("\n")
        sys.stderr.flush()


def _add_emotion_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("emotion models (optional; a local folder or a model id already in "
                             "your Hugging Face cache; nothing is downloaded)")
    g.add_argument("--text-model", help="transformers text-classification model for text sentiment")
    g.add_argument("--speech-emotion-model", help="transformers audio-classification model (SER)")
    g.add_argument("--valence-arousal-model", help="wav2vec2 valence/arousal regressor")
    g.add_argument("--emotion-device", metavar="DEVICE",
                   help="where these models run: cpu (default), cuda, cuda:N, or auto (the GPU "
                        "when PyTorch sees one)")


def _emotion_model_overrides(args) -> dict:
    e = {}
    for flag, backend_key, model_key, backend in (
            ("text_model", "text_backend", "text_model", "transformers"),
            ("speech_emotion_model", "speech_backend", "speech_model", "transformers"),
            ("valence_arousal_model", "valence_arousal_backend", "valence_arousal_model", "wav2vec2")):
        value = getattr(args, flag, None)
        if value:
            e[backend_key], e[model_key] = backend, value
    if getattr(args, "emotion_device", None):
        e["device"] = args.emotion_device
    return {"emotion": e} if e else {}


def _add_scene_args(p: argparse.ArgumentParser, with_text: bool = True) -> None:
    g = p.add_argument_group("scene description (what the speaker does: nods, smiles, glances)")
    if with_text:
        src = g.add_mutually_exclusive_group()
        src.add_argument("--scene", default=None,
                         help='"auto" (default: an LLM if --llm-base-url is set, else the offline '
                              'template), "off", or the scene text itself')
        src.add_argument("--scene-file", default=None, help="read the scene text from a file")
    g.add_argument("--llm-base-url", default=None,
                   help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1 (llama.cpp), "
                        "http://127.0.0.1:11434/v1 (Ollama), https://api.openai.com/v1; the key "
                        "is read from OPENAI_API_KEY")
    g.add_argument("--llm-model", default=None, help="model name on that endpoint")
    g.add_argument("--llm-timeout", type=float, default=None, help="seconds per request (default 30)")


def _scene_overrides(args) -> dict:
    scene = {}
    for flag, key in (("llm_base_url", "llm_base_url"), ("llm_model", "llm_model"),
                      ("llm_timeout", "timeout_s")):
        value = getattr(args, flag, None)
        if value is not None:
            scene[key] = value
    choice = getattr(args, "scene", None)
    if choice is not None and choice.strip().lower() in ("auto", "off"):
        scene["mode"] = choice.strip().lower()
    return {"scene": scene} if scene else {}


def _add_render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--portrait", help="portrait photo (jpg, png, webp, …)")
    p.add_argument("--audio", help="speech recording (wav, mp3, m4a, ogg, webm, flac)")
    script = p.add_mutually_exclusive_group()
    script.add_argument("--transcript", help="what is said (optional; improves lip sync)")
    script.add_argument("--transcript-file", help="text file with what is said")
    p.add_argument("--project", help="re-render a saved project JSON (inputs and edits as saved)")
    p.add_argument("--preset", default=None, help="style preset from presets/ (default: natural)")
    p.add_argument("--seed", type=int, default=None, help="random seed for head motion and blinks")
    p.add_argument("--size", type=int, default=None, help="output size in pixels (longer side)")
    p.add_argument("--fps", type=float, default=None, help="output frame rate")
    p.add_argument("--framing", choices=("crop", "full"), default=None,
                   help="crop: face-centred square; full: the whole photo")
    emotion = p.add_mutually_exclusive_group()
    emotion.add_argument("--emotion", default=None,
                         help="expression for the whole clip: LABEL[:INTENSITY], e.g. happy:0.6")
    emotion.add_argument("--emotion-track", default=None,
                         help='per-segment overrides (JSON): [{"segment": 0, "label": "sad", '
                              '"intensity": 0.8, "valence": -0.5, "arousal": -0.3}, …]')
    p.add_argument("--max-duration", type=float, default=None,
                   help="longest accepted recording in seconds (default 600)")
    p.add_argument("--out", required=True, help="output video (.mp4)")
    p.add_argument("--project-out", help="also save the project (JSON)")
    p.add_argument("--motion-out", help="also save the motion as CSV (ARKit-52 columns)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    _add_emotion_model_args(p)
    _add_scene_args(p)
    g = p.add_argument_group("renderer")
    g.add_argument("--renderer", choices=("cpu", "diffusion"), default=None,
                   help="cpu (default, fast, always works) or diffusion (GPU, Wan2.2-Animate)")
    g.add_argument("--diffusion-model", default=None,
                   help="WanAnimatePipeline folder or model id in your Hugging Face cache "
                        "(default Wan-AI/Wan2.2-Animate-14B-Diffusers)")
    g.add_argument("--diffusion-steps", type=int, default=None, help="denoising steps (default 20)")
    g.add_argument("--diffusion-device", default=None, help="cuda (default), cuda:N")
    g.add_argument("--diffusion-dtype", choices=("bf16", "fp16", "fp32"), default=None)
    g.add_argument("--diffusion-offload", choices=("none", "model", "sequential", "group"),
                   default=None, help="keep parts of the model in system RAM (less GPU memory)")


def _renderer_overrides(args) -> dict:
    out: dict = {}
    if getattr(args, "renderer", None):
        out["render"] = {"renderer": args.renderer}
    diffusion = {key: getattr(args, flag) for flag, key in (
        ("diffusion_model", "model"), ("diffusion_steps", "steps"), ("diffusion_device", "device"),
        ("diffusion_dtype", "dtype"), ("diffusion_offload", "offload"))
        if getattr(args, flag, None) is not None}
    if diffusion:
        out["diffusion"] = diffusion
    return out


def build_project(args):
    from pipelines.project import Project
    from pipelines.settings import load_preset

    if args.project:
        if args.portrait or args.audio:
            from pipelines.errors import InputError
            raise InputError("Give either --project or --portrait/--audio, not both.")
        project = Project.load(args.project)
        # Saved intermediates are kept; only explicit new choices invalidate them.
        if any(v is not None for v in (args.preset, args.size, args.fps, args.framing,
                                       args.seed, args.emotion, args.emotion_track, args.scene,
                                       args.scene_file)) \
                or _emotion_model_overrides(args) or _scene_overrides(args) \
                or _renderer_overrides(args):
            _apply_choices(project, args)
        return project
    if not args.portrait or not args.audio:
        from pipelines.errors import InputError
        raise InputError("Both --portrait and --audio are required (or --project).",
                         "Example: launch.py render --portrait me.jpg --audio take1.wav --out clip.mp4")
    script = args.transcript
    if args.transcript_file:
        script = _read_text(args.transcript_file)
    settings = load_preset(args.preset) if args.preset else load_preset("natural")
    project = Project.new(args.portrait, args.audio, script=script, seed=args.seed or 0,
                          settings=settings)
    _apply_choices(project, args)
    return project


def _apply_choices(project, args) -> None:
    from pipelines.emotion import parse_emotion
    from pipelines.project import EmotionOverride
    from pipelines.settings import load_preset

    s = project.settings
    if args.preset and args.preset != s.preset:
        s = load_preset(args.preset)
    render, face, audio = {}, {}, {}
    if args.size is not None:
        render["size"] = args.size
    if args.fps is not None:
        render["fps"] = args.fps
    if args.framing is not None:
        face["framing"] = args.framing
    if getattr(args, "max_duration", None) is not None:
        audio["max_duration_s"] = args.max_duration
    overrides = {k: v for k, v in (("render", render), ("face", face), ("audio", audio)) if v}
    overrides.update(_emotion_model_overrides(args))
    overrides.update(_scene_overrides(args))
    for key, value in _renderer_overrides(args).items():
        overrides.setdefault(key, {}).update(value)
    if overrides:
        s = s.with_overrides(overrides)
    project.restyle(s, project.seed if args.seed is None else args.seed)
    if args.emotion:
        label, intensity = parse_emotion(args.emotion)
        project.emotion_overrides = [EmotionOverride(segment=-1, label=label, intensity=intensity)]
    if getattr(args, "emotion_track", None):
        from pipelines.emotion import load_emotion_track_file

        project.emotion_overrides = load_emotion_track_file(args.emotion_track)
    scene_text = args.scene
    if getattr(args, "scene_file", None):
        scene_text = _read_text(args.scene_file)
    if scene_text is not None:
        # "auto"/"off" choose generation (see _scene_overrides); anything else is the text.
        project.scene_text = None if scene_text.strip().lower() in ("auto", "off") else scene_text
        project.invalidate("scene")


def cmd_render(args) -> int:
    from pipelines.motion import motion_to_csv
    from pipelines.pipeline import SynchroRaMaPipeline

    project = build_project(args)
    pipe = SynchroRaMaPipeline.from_settings(project.settings)
    progress = ProgressPrinter(args.quiet)
    out = pipe(project, args.out, callback=progress)
    for w in out.warnings:
        print(f"warning: {w}", file=sys.stderr)
    scene = out.project.scene
    if scene is not None and scene.text and not args.quiet:
        print(f"scene ({scene.source}, {len(scene.cues)} cues): "
              + "; ".join(f"{c.kind} {c.start:.1f}-{c.end:.1f}s" for c in scene.cues[:12])
              + (" …" if len(scene.cues) > 12 else ""), file=sys.stderr)
    if args.project_out:
        out.project.save(args.project_out)
    if args.motion_out:
        motion_to_csv(out.project.motion, args.motion_out)
    print(out.video_path)
    return 0


def cmd_demo(args) -> int:
    args.portrait = str(ASSETS / "portrait.png")
    args.audio = str(ASSETS / "speech.wav")
    args.transcript = (ASSETS / "speech.txt").read_text()
    for name in ("transcript_file", "project", "preset", "seed", "size", "fps", "framing",
                 "emotion", "emotion_track", "scene", "scene_file", "llm_base_url", "llm_model",
                 "llm_timeout", "renderer", "diffusion_model", "diffusion_steps",
                 "diffusion_device", "diffusion_dtype", "diffusion_offload",
                 "text_model", "speech_emotion_model", "valence_arousal_model", "emotion_device",
                 "max_duration", "project_out", "motion_out"):
        setattr(args, name, getattr(args, name, None))
    args.quiet = False
    return cmd_render(args)


def cmd_analyze(args) -> int:
    import json

    from pipelines.files import atomic_output
    from pipelines.pipeline import SynchroRaMaPipeline
    from pipelines.serialization import to_jsonable
    from pipelines.settings import load_preset

    script = args.transcript
    if args.transcript_file:
        script = _read_text(args.transcript_file)
    settings = load_preset(args.preset or "natural")
    if _emotion_model_overrides(args):
        settings = settings.with_overrides(_emotion_model_overrides(args))
    if _scene_overrides(args):
        settings = settings.with_overrides(_scene_overrides(args))
    pipe = SynchroRaMaPipeline.from_settings(settings)
    result = pipe.analyze(args.audio, script)
    scene, scene_warnings = _generate_scene(pipe, settings, result, args.portrait)
    for w in result.warnings + scene_warnings:
        print(f"warning: {w}", file=sys.stderr)
    segments = []
    for seg in result.emotion.segments:
        entry = {"start": seg.segment.start, "end": seg.segment.end, "text": seg.segment.text}
        for sig in seg.signals:
            entry[sig.signal] = to_jsonable(sig)
        entry["fused"] = to_jsonable(seg.fused)
        entry["fused"]["label"] = seg.fused.label
        segments.append(entry)
    if args.json:
        with atomic_output(args.json, ".json") as tmp:
            tmp.write_text(json.dumps({"transcript_source": result.transcript.source,
                                       "segments": segments, "scene": to_jsonable(scene)},
                                      indent=1))
    print(f"{'time':>13}  {'fused':<10} {'int':>4} {'val':>5} {'aro':>5}  "
          f"{'text':<16} {'voice':<16} {'v/a':<11}  words")
    for seg in result.emotion.segments:
        by = {s.signal: s for s in seg.signals}
        def top(name):
            s = by.get(name)
            if s is None or not s.probs:
                return "-"
            label = max(s.probs, key=s.probs.get)
            return f"{label} {s.probs[label]:.2f}/c{s.confidence:.1f}"
        va = by.get("valence_arousal")
        va_txt = "-" if va is None else f"{va.valence or 0:+.2f} {va.arousal or 0:+.2f}"
        f = seg.fused
        print(f"{seg.segment.start:5.2f}-{seg.segment.end:6.2f}s  {f.label:<10} {f.intensity:4.2f} "
              f"{f.valence:+5.2f} {f.arousal:+5.2f}  {top('text_sentiment'):<16} "
              f"{top('speech_emotion'):<16} {va_txt:<11}  {seg.segment.text[:60]}")
    print(f"\nscene ({scene.source}; edit it and pass it back with --scene-file):\n{scene.text}")
    print("cues: " + ("; ".join(f"{c.kind} {c.start:.2f}-{c.end:.2f}s" for c in scene.cues) or "none"))
    return 0


def _generate_scene(pipe, settings, result, portrait_path):
    from pipelines.scene import SceneRequest

    face = None
    if portrait_path:
        from pipelines.face import load_portrait

        image, ref = load_portrait(portrait_path)
        face = pipe.face_analyzer.analyze(image, ref, settings.render.size)
    request = SceneRequest.build(result.speech.duration, result.transcript, result.emotion, face)
    return pipe.scene_director_for(settings).generate(request)


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        from pipelines.errors import InputError
        raise InputError(f"Could not read the text file {path}: {e}") from None


def cmd_preview(args) -> int:
    from pipelines.preview import DEFAULT_CELL, check_output, preview_expressions
    from pipelines.settings import load_preset

    check_output(args.out)  # a wrong name is refused before the portrait is read
    preview = preview_expressions(args.portrait, load_preset(args.preset or "natural"),
                                  cell_size=args.size or DEFAULT_CELL,
                                  callback=ProgressPrinter(args.quiet))
    out = preview.save(args.out)
    for w in preview.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not args.quiet:
        print(f"{len(preview.cells)} pictures in {preview.seconds:.1f} s", file=sys.stderr)
    print(out)
    return 0


def cmd_bench(args) -> int:
    from pipelines.bench import run_bench

    run_bench(seconds=args.seconds, size=args.size, fps=args.fps, asr=args.asr)
    return 0


def cmd_check(args) -> int:
    from pipelines.check import run_check

    return run_check()


def cmd_studio(args) -> int:
    from studio.app import launch_studio

    launch_studio(host=args.host, port=args.port, share=args.share, data_dir=args.data_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="launch.py", description="SynchroRaMa Studio")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("render", help="portrait + speech → talking-face MP4")
    _add_render_args(p)
    p = sub.add_parser("analyze", help="transcript, segments and emotion embedding of a recording")
    p.add_argument("--audio", required=True)
    script = p.add_mutually_exclusive_group()
    script.add_argument("--transcript")
    script.add_argument("--transcript-file")
    p.add_argument("--preset", default=None)
    p.add_argument("--json", help="write the analysis here (JSON)")
    p.add_argument("--portrait", help="also describe this portrait in the generated scene")
    _add_emotion_model_args(p)
    _add_scene_args(p, with_text=False)
    p = sub.add_parser("preview", help="a portrait under every emotion and mouth shape (PNG)")
    p.add_argument("--portrait", required=True, help="portrait photo (jpg, png, webp, …)")
    p.add_argument("--out", required=True, help="the grid picture to write (.png)")
    p.add_argument("--size", type=int, default=None,
                   help="side of each face picture in pixels (default 160)")
    p.add_argument("--preset", default=None,
                   help="style preset from presets/ (its face and renderer options)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p = sub.add_parser("demo", help="render the bundled sample")
    p.add_argument("--out", default=str(ROOT / "out" / "demo.mp4"))
    p = sub.add_parser("bench", help="time a fixed sample; prints one JSON line")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--asr", action="store_true", help="no script: time speech recognition too")
    sub.add_parser("check", help="verify the installation")
    p = sub.add_parser("studio", help="start the studio UI (the default)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true",
                   help="also open a public Gradio share link (off by default; it requires a "
                        "login: SYNCHRORAMA_STUDIO_LOGIN=user:password, or asked at start)")
    p.add_argument("--data-dir", default=None,
                   help="library and session folder (default ~/.local/share/synchrorama-studio)")
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = set(sub.choices)
    if not commands & set(argv) and not {"-h", "--help"} & set(argv):
        # No command: start the studio (its options may follow, e.g. `launch.py --port 8000`).
        debug = [a for a in argv if a == "--debug"]
        argv = [*debug, "studio", *[a for a in argv if a != "--debug"]]
    args = parser.parse_args(argv)
    command = args.command
    handler = {"render": cmd_render, "analyze": cmd_analyze, "preview": cmd_preview,
               "demo": cmd_demo, "bench": cmd_bench, "check": cmd_check,
               "studio": cmd_studio}[command]
    from pipelines.errors import StudioError
    from pipelines.native import keep_frame_buffers_in_heap

    keep_frame_buffers_in_heap()
    try:
        return handler(args)
    except StudioError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("cancelled; no output was written.", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not a user error: say so plainly
        if args.debug:
            raise
        print(f"internal error: {type(e).__name__}: {e} (run with --debug for details, "
              f"and please report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
