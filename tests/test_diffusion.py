"""The diffusion renderer on CPU with a tiny random WanAnimatePipeline saved to disk and loaded
through the product's own loading code (`pytest -k diffusion` selects these)."""
import threading

import numpy as np
import pytest

from conftest import ROOT

pytest.importorskip("diffusers")

from pipelines.errors import DiffusionUnavailableError, MissingWeightsError, RenderInterrupted  # noqa: E402


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory):
    from tiny_wan import build_tiny_wan_animate

    return build_tiny_wan_animate(tmp_path_factory.mktemp("tiny-wan"))


def _settings(tiny_wan, **diffusion):
    from tiny_wan import tiny_wan_settings

    return tiny_wan_settings(tiny_wan, **diffusion)


@pytest.fixture(scope="module")
def analysed_for_diffusion(tiny_wan, closed_mouth_portrait_path, speech_path, speech_script):
    from pipelines.pipeline import SynchroRaMaPipeline
    from pipelines.project import Project

    settings = _settings(tiny_wan)
    project = Project.new(closed_mouth_portrait_path, speech_path, script=speech_script, seed=2,
                          settings=settings)
    pipe = SynchroRaMaPipeline.from_settings(settings)
    return pipe, pipe(project).project


def _against_the_cpu_frame(renderer, project, frames):
    """Mean difference from the CPU (A2M) frame at the widest jaw opening: in the mouth, and on
    the forehead."""
    from pipelines.face import frame_image, load_portrait
    from pipelines.face import mesh as L

    image, _ = load_portrait(project.portrait.path)
    prepared = renderer.prepare(frame_image(image, project.face.framing), project.face)
    i = int(np.argmax(project.motion.column("jawOpen")))
    cpu = renderer.cpu.render_frame(prepared, project.motion.blendshapes[i],
                                    project.motion.head_pose[i]).astype(float)
    pts = prepared.rig.frame(project.motion.blendshapes[i], project.motion.head_pose[i]).points
    lips = pts[list(L.INNER_LIP_RING)].mean(axis=0).astype(int)
    mouth = (slice(lips[1] - 2, lips[1] + 3), slice(lips[0] - 2, lips[0] + 3))
    forehead = pts[10].astype(int)
    top = (slice(max(forehead[1] - 4, 0), forehead[1] + 4), slice(forehead[0] - 6, forehead[0] + 6))
    return np.abs(frames[i][mouth] - cpu[mouth]).mean(), np.abs(frames[i][top] - cpu[top]).mean()


def test_diffusion_renders_an_mp4_with_audio_and_the_a2m_mouth(analysed_for_diffusion, tmp_path):
    from tiny_wan import render_and_check_mp4

    pipe, project = analysed_for_diffusion
    frames = render_and_check_mp4(pipe, project, tmp_path / "clip.mp4")
    assert len(frames) == project.motion.num_frames
    # The mouth comes from the A2M (CPU) frame; elsewhere the pixels are the model's own.
    mouth, forehead = _against_the_cpu_frame(pipe.renderer, project, frames)
    assert mouth < 12  # only video compression
    assert forehead > 12  # a random model draws something else


def test_with_blending_off_every_pixel_is_the_models(analysed_for_diffusion, tiny_wan):
    from pipelines.face import frame_image, load_portrait
    from pipelines.render.diffusion import DiffusionRenderer

    pipe, project = analysed_for_diffusion
    s = _settings(tiny_wan, face_blend="off")
    renderer = DiffusionRenderer(s.render, s.diffusion, pipe.renderer.cpu, model=pipe.renderer.model)
    image, _ = load_portrait(project.portrait.path)
    prepared = renderer.prepare(frame_image(image, project.face.framing), project.face)
    frames = list(renderer.frames(prepared, project.motion))
    assert len(frames) == project.motion.num_frames
    mouth, _ = _against_the_cpu_frame(renderer, project, frames)
    assert mouth > 12  # no A2M mouth pasted back


def test_diffusion_cancel_leaves_no_file(analysed_for_diffusion, tmp_path):
    pipe, project = analysed_for_diffusion
    stop = threading.Event()

    def cancel_midway(stage, fraction):
        if stage == "render" and fraction > 0.3:
            stop.set()

    with pytest.raises(RenderInterrupted):
        pipe(project, tmp_path / "clip.mp4", callback=cancel_midway, interrupt=stop)
    assert not (tmp_path / "clip.mp4").exists() and not list(tmp_path.iterdir())


def test_the_studio_keeps_one_diffusion_model_across_render_settings(tiny_wan):
    """A new size or frame rate reuses the loaded model (minutes to load at 14B); new load
    settings replace it instead of keeping a second copy."""
    from pipelines.pipeline import SynchroRaMaPipeline

    kept = {}

    def get(key, make):  # as the studio's controller keeps components for every render
        if key not in kept:
            kept[key] = make()
        return kept[key]

    def renderer(**overrides):
        settings = _settings(tiny_wan).with_overrides(overrides)
        return SynchroRaMaPipeline.from_settings(settings, kept=get).renderer

    first = renderer()
    loaded = first.load()
    bigger = renderer(render={"size": 96, "fps": 30})
    assert bigger.cpu.settings.size == 96  # the render follows the new settings ...
    assert bigger.load() is loaded  # ... with the same loaded model
    half = renderer(diffusion={"dtype": "bf16"})
    other = half.load()
    assert other is not loaded and first.model is half.model and half.model.pipe is other
    assert half.model.key[2] == "bf16"


def test_diffusion_refusals_are_one_readable_message(tiny_wan, tmp_path, monkeypatch):
    import torch

    from pipelines.render.diffusion import DiffusionRenderer, estimate_gpu_bytes
    from pipelines.settings import DiffusionSettings, RenderSettings

    def check(**kw):
        DiffusionRenderer(RenderSettings(), DiffusionSettings(**kw)).check()

    if not torch.cuda.is_available():
        with pytest.raises(DiffusionUnavailableError, match="NVIDIA graphics card"):
            check(model=str(tiny_wan), device="cuda")
    with pytest.raises(MissingWeightsError, match="hf download someone/not-here"):
        check(model="someone/not-here", device="cpu")
    with pytest.raises(MissingWeightsError, match="no model_index.json"):
        check(model=str(tmp_path), device="cpu")
    import sys
    import types

    old_diffusers = types.ModuleType("diffusers")
    old_diffusers.__version__ = "0.30.0"  # before Wan2.2-Animate
    monkeypatch.setitem(sys.modules, "diffusers", old_diffusers)
    with pytest.raises(DiffusionUnavailableError, match="diffusers 0.30.0 has no WanAnimatePipeline"):
        check(model=str(tiny_wan), device="cpu")
    monkeypatch.undo()
    # Memory: the estimate follows the offload mode, and too little free memory is refused.
    full = estimate_gpu_bytes(str(tiny_wan), DiffusionSettings(offload="none"))
    grouped = estimate_gpu_bytes(str(tiny_wan), DiffusionSettings(offload="group"))
    assert full > 0 and grouped > 0
    r = DiffusionRenderer(RenderSettings(), DiffusionSettings(model=str(tiny_wan)))
    with pytest.raises(DiffusionUnavailableError, match="GB of GPU memory"):
        r._check_memory(str(tiny_wan), torch.device("cuda"), free_total=(1024, 4096))


def test_a_broken_optional_install_is_reported_not_raised(monkeypatch):
    """`launch.py check` and the studio's renderer menu ask this; neither may crash on it."""
    from pipelines.render import diffusion

    def broken(self):
        raise OSError("libcudart.so.12: cannot open object file: No such file or directory")

    monkeypatch.setattr(diffusion.DiffusionRenderer, "check", broken)
    assert diffusion.diffusion_availability() == (
        False, "libcudart.so.12: cannot open object file: No such file or directory.")


def test_diffusion_without_a_gpu_on_the_command_line(tmp_path):
    import subprocess
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    r = subprocess.run([sys.executable, str(ROOT / "launch.py"), "render", "--portrait",
                        str(ROOT / "assets" / "portrait_hopper.jpg"), "--audio",
                        str(ROOT / "assets" / "speech.wav"), "--renderer", "diffusion", "--out",
                        str(tmp_path / "clip.mp4")], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: The diffusion renderer needs an NVIDIA graphics card")
    assert "Traceback" not in r.stderr and not (tmp_path / "clip.mp4").exists()


def test_diffusion_presets_load():
    from pipelines.settings import load_preset

    for name, offload in (("gpu-24gb", "group"), ("gpu-80gb", "none")):
        s = load_preset(name)
        assert s.render.renderer == "diffusion" and s.diffusion.offload == offload


def test_diffusion_memory_estimate_fits_the_presets_to_their_gpus(tmp_path):
    """The real Wan2.2-Animate-14B folder's tensors, as safetensors headers only (the estimate
    reads no weights): the transformer ships in fp32, the rest in bf16. Measured on an H100 with
    random weights of these shapes (scripts/gpu/wan_real_size_probe.py): 54 GB peak without
    offload at 1280x720; with group offload 4.3 GB for the streamed transformer, 2.1 GB for the
    streamed text encoder, beside the image encoder and VAE."""
    import json
    import struct

    from pipelines.render.diffusion import GIB, estimate_gpu_bytes
    from pipelines.settings import load_preset

    for part, params, dtype, size in (("transformer", 17_270_000_000, "F32", 4),
                                      ("text_encoder", 5_680_000_000, "BF16", 2),
                                      ("image_encoder", 630_000_000, "BF16", 2),
                                      ("vae", 127_000_000, "F32", 4)):
        (tmp_path / part).mkdir()
        header = json.dumps({"w": {"dtype": dtype, "shape": [params],
                                   "data_offsets": [0, params * size]}}).encode()
        (tmp_path / part / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    full = estimate_gpu_bytes(str(tmp_path), load_preset("gpu-80gb").diffusion) / GIB
    small = estimate_gpu_bytes(str(tmp_path), load_preset("gpu-24gb").diffusion) / GIB
    assert 54 < full < 75  # fits the 80 GB card it is written for (79 GiB usable)
    assert 6 < small < 22  # fits 24 GB, and refuses a 6 GB card


def test_diffusion_generates_at_wans_area_budget_in_the_videos_aspect():
    from pipelines.render.diffusion import generation_size

    assert generation_size(1920, 1080, 1280) == (1280, 720)
    assert generation_size(1080, 1920, 1280) == (720, 1280)
    assert generation_size(512, 512, 1280) == (960, 960)  # not 1280x1280: 2.6x slower per step
    assert generation_size(512, 512, 832) == (624, 624)
    w, h = generation_size(1000, 1234, 832)
    assert w % 16 == 0 and h % 16 == 0 and abs(w / h - 1000 / 1234) < 0.03
