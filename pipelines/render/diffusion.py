"""The diffusion renderer (GPU workstations): diffusers' WanAnimatePipeline (Wan2.2-Animate,
"animate" mode) re-renders the CPU renderer's motion frames photorealistically with the
portrait's identity.

Per clip:
1. the CPU renderer draws the A2M motion frames (the motion the audio and the scene asked for);
2. from them: `face_video` (square face crops, the size the model's motion encoder wants) and
   `pose_video` (an OpenPose-style upper-body skeleton on black);
3. the pipeline generates the clip in segments of `segment_frames`, each conditioned on the last
   `prev_segment_frames` of the one before (the pipeline's own chaining), with the portrait as
   reference image and the scene text plus each segment's emotion as prompt;
4. optionally the A2M frame's mouth (or face) region is feathered back over each generated frame,
   so the lips follow the audio exactly as in the CPU path.

The model loads lazily, once, into a `LoadedModel` slot that renderers share: a render at a new
size or frame rate reuses it, and new load settings replace it rather than keep a second copy
on the GPU. Before anything heavy, `check()` refuses clearly when diffusers is
too old, there is no CUDA device, the weights are not on disk, or the GPU lacks memory.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from ..errors import DiffusionUnavailableError, InputError, RenderInterrupted, StudioError
from ..models import short_reason
from ..settings import DiffusionSettings, RenderSettings
from ..types import MotionTrack
from ..face import mesh as L
from .cpu import CpuRenderer, PreparedPortrait

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
OFFLOADS = ("none", "model", "sequential", "group")
BLENDS = ("mouth", "face", "off")
GIB = 1024 ** 3


@dataclass
class RenderJob:
    """What a render needs beyond the motion: the text prompt, a seed, progress and cancel."""

    prompt: str = ""
    seed: int = 0
    progress: Callable[[float], None] | None = None  # fraction of the render stage, 0..1
    interrupt: threading.Event | None = None


def load_key(settings: DiffusionSettings) -> tuple:
    """The settings that change the loaded pipeline (the rest only change a render)."""
    return (settings.model, settings.device, settings.dtype, settings.offload, settings.vae_tiling)


class LoadedModel:
    """One loaded WanAnimatePipeline, used by all the renderers of a long-running host (the
    studio): the 14B model takes minutes to load and most of a GPU's memory."""

    def __init__(self):
        self.lock = threading.Lock()
        self.key: tuple | None = None
        self.pipe = None
        self.device = None  # where it runs (with offloading, its weights may rest in RAM)

    def release(self) -> None:
        if self.pipe is None:
            return
        self.key, self.pipe, self.device = None, None, None
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class DiffusionRenderer:
    name = "diffusion"

    def __init__(self, render: RenderSettings, diffusion: DiffusionSettings,
                 cpu: CpuRenderer | None = None, model: LoadedModel | None = None):
        self.render_settings = render
        self.settings = diffusion
        self.cpu = cpu or CpuRenderer(render)
        self.model = model or LoadedModel()

    # ---------------------------------------------------------------- checks
    def check(self) -> None:
        """Cheap refusals, before any analysis or loading (one readable message each)."""
        self._checked()

    def _checked(self):
        """check(), returning what loading needs: (device, pipeline class, weights folder)."""
        s = self.settings
        if s.dtype not in DTYPES:
            raise InputError(f"Unknown diffusion dtype '{s.dtype}'.", "Use bf16, fp16 or fp32.")
        if s.offload not in OFFLOADS:
            raise InputError(f"Unknown offload mode '{s.offload}'.", f"Use one of: {', '.join(OFFLOADS)}.")
        if s.face_blend not in BLENDS:
            raise InputError(f"Unknown face blend '{s.face_blend}'.", f"Use one of: {', '.join(BLENDS)}.")
        if s.steps < 1 or s.segment_frames < 5 or (s.segment_frames - 1) % 4:
            raise InputError("Diffusion steps must be ≥ 1 and segment frames of the form 4n + 1 "
                             f"(got {s.steps} steps, {s.segment_frames} frames).")
        if s.max_side % 16:
            raise InputError(f"The diffusion size {s.max_side} must be a multiple of 16.")
        device = self._resolve_device()  # first: without a GPU, no need to import diffusers
        return device, _diffusers_with_wan_animate(), self._source()

    def _resolve_device(self):
        from ..models import resolve_device

        try:
            return resolve_device(self.settings.device, "diffusion renderer",
                                  instead="Use the CPU renderer")
        except InputError as e:
            raise DiffusionUnavailableError(e.message, e.hint) from None

    def _source(self) -> str:
        from ..models import resolve_model_source

        return resolve_model_source(self.settings.model, "Diffusion model", marker="model_index.json")

    def _check_memory(self, source: str, device, free_total: tuple[int, int] | None = None) -> None:
        """Refuses when the GPU clearly cannot hold what the offload mode keeps on it."""
        if device.type != "cuda":
            return
        if free_total is None:
            import torch

            free_total = torch.cuda.mem_get_info(device)
        free, total = free_total
        need = estimate_gpu_bytes(source, self.settings)
        if need > free:
            raise DiffusionUnavailableError(
                f"The diffusion model needs about {need / GIB:.0f} GB of GPU memory with offload "
                f"'{self.settings.offload}'; this GPU has {free / GIB:.0f} of {total / GIB:.0f} GB "
                "free.", "Use the gpu-24gb preset (offload, VAE tiling), a smaller max side, or "
                "the CPU renderer.")

    # ----------------------------------------------------------------- load
    def load(self):
        """The loaded pipeline: the host's one when its load settings match, else this one's
        (the other is released first, so the memory check sees the whole GPU)."""
        slot = self.model
        with slot.lock:
            key = load_key(self.settings)
            if slot.pipe is not None and slot.key == key:
                return slot.pipe
            device, pipeline_cls, source = self._checked()
            slot.release()
            import torch

            self._check_memory(source, device)
            dtype = getattr(torch, DTYPES[self.settings.dtype])
            try:
                pipe = pipeline_cls.from_pretrained(source, dtype=dtype,
                                                    local_files_only=True)
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise DiffusionUnavailableError(
                    f"The diffusion model in {source} could not be loaded: {short_reason(e)}",
                    "Check that the folder holds a complete WanAnimatePipeline "
                    "(model_index.json and every component).") from None
            mode = self.settings.offload
            if mode == "model" and device.type == "cuda":
                pipe.enable_model_cpu_offload(device=device)
            elif mode == "sequential" and device.type == "cuda":
                pipe.enable_sequential_cpu_offload(device=device)
            elif mode == "group" and device.type == "cuda":
                from diffusers.hooks import apply_group_offloading

                # The transformer and the text encoder (UMT5-XXL, ~11 GB) stream from system
                # RAM layer by layer, as diffusers' Wan docs do; the small image encoder and the
                # VAE stay on the GPU.
                pipe.transformer.enable_group_offload(onload_device=device,
                                                      offload_device=torch.device("cpu"),
                                                      offload_type="leaf_level", use_stream=True)
                apply_group_offloading(pipe.text_encoder, onload_device=device,
                                       offload_type="leaf_level", use_stream=True)
                for name in ("image_encoder", "vae"):
                    getattr(pipe, name).to(device)
            else:
                pipe.to(device)
            if self.settings.vae_tiling:
                pipe.vae.enable_tiling()
            pipe.set_progress_bar_config(disable=True)
            slot.key, slot.pipe, slot.device = key, pipe, device
            return pipe

    # --------------------------------------------------------------- render
    def prepare(self, framed: np.ndarray, face) -> PreparedPortrait:
        return self.cpu.prepare(framed, face)

    def frames(self, prepared: PreparedPortrait, motion: MotionTrack,
               job: RenderJob | None = None) -> Iterator[np.ndarray]:
        job = job or RenderJob()
        pipe = self.load()
        import torch
        from PIL import Image

        n = motion.num_frames
        h, w = prepared.plate.shape[:2]
        gen_w, gen_h = generation_size(w, h, self.settings.max_side)
        face_px = int(pipe.transformer.config.motion_encoder_size)
        # 1–2. A2M motion frames, and from them the face crops and the pose drawing.
        # Only the rig points are kept for the blend masks: a full-frame float mask per frame
        # would hold ~0.8 GB for 30 s at 512 px before the model even starts.
        s = self.settings
        motion_frames, points, faces, poses = [], [], [], []
        for i in range(n):
            _check(job)
            rig_frame = prepared.rig.frame(motion.blendshapes[i], motion.head_pose[i])
            frame = self.cpu.draw(prepared, rig_frame, motion.blendshapes[i])
            if s.face_blend != "off":  # kept only to be pasted back
                motion_frames.append(frame)
            points.append(rig_frame.points)
            faces.append(Image.fromarray(face_crop(frame, rig_frame.points, face_px)))
            poses.append(Image.fromarray(pose_drawing(rig_frame.points, (h, w), (gen_h, gen_w))))
            if job.progress and i % 10 == 0:
                job.progress(0.1 * (i + 1) / n)
        reference = Image.fromarray(prepared.plate).resize((gen_w, gen_h), Image.LANCZOS)

        # 3. Generate, segment by segment (the pipeline chains them).
        stride = max(s.segment_frames - s.prev_segment_frames, 1)
        n_segments = max(1, int(np.ceil(max(n - s.prev_segment_frames, 1) / stride)))
        total_steps = n_segments * s.steps
        done = [0]

        def on_step(pipeline, step, timestep, kwargs):
            done[0] += 1
            _check(job)
            if job.progress:
                job.progress(0.1 + 0.85 * min(done[0] / total_steps, 1.0))
            return kwargs

        generator = torch.Generator(device="cpu").manual_seed(int(job.seed))
        with torch.inference_mode():
            out = pipe(image=reference, pose_video=poses, face_video=faces, prompt=job.prompt or "",
                       negative_prompt=s.negative_prompt, height=gen_h, width=gen_w,
                       segment_frame_length=s.segment_frames, num_inference_steps=s.steps,
                       mode="animate", prev_segment_conditioning_frames=s.prev_segment_frames,
                       guidance_scale=s.guidance, generator=generator, output_type="np",
                       callback_on_step_end=on_step)
        video = np.asarray(out.frames[0])
        if video.shape[0] < n:
            raise DiffusionUnavailableError(
                f"The diffusion model returned {video.shape[0]} frames for {n}.")
        # 4. Back to the output size, with the A2M mouth (or face) region feathered in.
        for i in range(n):
            frame = np.clip(video[i] * 255.0 + 0.5, 0, 255).astype(np.uint8)
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_CUBIC)
            m = blend_mask(points[i], (h, w), prepared.rig.iod, s.face_blend)
            if m is not None:
                frame = (frame * (1 - m[..., None]) + motion_frames[i] * m[..., None] + 0.5).astype(np.uint8)
            if job.progress and i % 10 == 0:
                job.progress(0.95 + 0.05 * (i + 1) / n)
            yield frame


# ------------------------------------------------------------------------------ helpers

def diffusion_availability(settings: DiffusionSettings | None = None) -> tuple[bool, str]:
    """Whether the diffusion renderer can run here, and if not why (for `check` and the
    studio's style panel). Never raises: a broken optional install is a reason, not a crash."""
    try:
        DiffusionRenderer(RenderSettings(), settings or DiffusionSettings()).check()
    except StudioError as e:
        return False, e.message
    except Exception as e:  # e.g. a diffusers import that fails on this machine
        return False, short_reason(e)
    return True, "ready"


def _check(job: RenderJob) -> None:
    if job.interrupt is not None and job.interrupt.is_set():
        raise RenderInterrupted()


def _diffusers_with_wan_animate():
    try:
        import diffusers
    except ImportError:
        raise DiffusionUnavailableError(
            "The diffusion renderer needs the diffusers package, which is not installed.",
            "Run `bash setup.sh` (it installs requirements.txt).") from None
    try:
        import transformers

        # diffusers' lazy import of Wan pulls CLIP's image processor, which warns about
        # torchvision (not needed here) on every start.
        previous = transformers.logging.get_verbosity()
        transformers.logging.set_verbosity_error()
    except ImportError:  # pragma: no cover - transformers is in requirements.txt
        previous = None
    try:
        cls = getattr(diffusers, "WanAnimatePipeline", None)
    finally:
        if previous is not None:
            transformers.logging.set_verbosity(previous)
    if cls is None:
        raise DiffusionUnavailableError(
            f"diffusers {diffusers.__version__} has no WanAnimatePipeline (Wan2.2-Animate).",
            "Install the version pinned in requirements.txt with `bash setup.sh`.")
    return cls


def generation_size(w: int, h: int, max_side: int) -> tuple[int, int]:
    """The generated video's size: the output's aspect, multiples of 16, the longer side at most
    `max_side` and the area at most that of a 16:9 frame with that side (Wan's 480p/720p
    budgets). A square portrait at max_side 1280 is 960x960, not 1280x1280: measured on an H100,
    a 1280x1280 step takes 32.7 s and 61 GB against 12.8 s and 54 GB at 1280x720."""
    scale = min(max_side / max(w, h), (max_side * max_side * 9 / 16 / (w * h)) ** 0.5)
    return (max(16, int(round(w * scale / 16)) * 16), max(16, int(round(h * scale / 16)) * 16))


DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


def _parameter_counts(source: str) -> dict[str, int]:
    """Parameters per component folder, read from the safetensors headers (the files' own byte
    size says nothing: Wan2.2-Animate-14B-Diffusers ships its transformer in fp32, the text and
    image encoders in bf16)."""
    counts: dict[str, int] = {}
    for f in Path(source).rglob("*"):
        if not f.is_file() or f.suffix not in (".safetensors", ".bin"):
            continue
        part = f.relative_to(source).parts[0]
        if f.suffix == ".safetensors":
            with open(f, "rb") as fh:
                header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
            n = sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__")
        else:  # pickled weights: assume 16-bit
            n = f.stat().st_size // 2
        counts[part] = counts.get(part, 0) + n
    return counts


def estimate_gpu_bytes(source: str, settings: DiffusionSettings) -> int:
    """GPU memory the offload mode needs at its peak: the weights it keeps resident (in the
    chosen dtype) plus working memory. Working memory was measured on an H100 with the real
    Wan2.2-Animate-14B shapes (scripts/gpu/wan_real_size_probe.py, 77-frame segments, bf16):
    denoising about 0.128 MiB per token (4.1 GiB at 832x480, 9.4 at 1280x720, 16.8 at
    1280x1280), a VAE decode 10.1 GiB at 1280x720 untiled, under 2 GiB tiled; the frame is the
    largest generation_size allows (a 16:9 area at max_side)."""
    size = DTYPE_BYTES[settings.dtype]
    weights = {k: n * size for k, n in _parameter_counts(source).items()}
    area = settings.max_side ** 2 * 9 / 16  # generation_size's largest frame
    tokens = area / 256 * ((settings.segment_frames - 1) // 4 + 2)
    denoise = 0.128 * 2 ** 20 * tokens * (size / 2)
    pixels = area * settings.segment_frames
    per_pixel = (2.0 if settings.vae_tiling else 10.1) * GIB / (1280 * 720 * 77)
    vae = (0.75 * GIB if settings.vae_tiling else 0.0) + pixels * per_pixel * (size / 2)
    working = max(denoise, vae) + 1.5 * GIB  # + CUDA context and allocator slack
    if settings.offload == "none":
        return int(sum(weights.values()) + working)
    if settings.offload == "model":
        return int(max(weights.values(), default=0) + working)
    if settings.offload == "group":  # load() keeps the image encoder and the VAE on the GPU
        rest = sum(v for k, v in weights.items() if k not in ("transformer", "text_encoder"))
        return int(rest + GIB + working)
    return int(GIB + working)  # sequential: a few layers at a time


def blend_mask(points: np.ndarray, shape: tuple[int, int], iod: float, mode: str) -> np.ndarray | None:
    """A feathered mask (0..1) over the region whose pixels come from the A2M frame."""
    if mode == "off":
        return None
    h, w = shape
    if mode == "face":
        ring = points[list(L.FACE_OVAL)]
        grow, feather = 0.0, 0.08 * iod
    else:
        ring = points[[61, *L.LIP_OUTER_UPPER, 291, *reversed(L.LIP_OUTER_LOWER)]]
        grow, feather = 0.12 * iod, 0.06 * iod
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(ring).astype(np.int32)], 255, cv2.LINE_AA)
    if grow > 0:
        k = max(1, int(round(grow)))
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    m = mask.astype(np.float32) / 255.0
    return cv2.GaussianBlur(m, (0, 0), max(0.8, feather))


def face_crop(frame: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    """A square crop around the face (1.3 × its landmark box, as Wan-Animate's preprocessing
    crops), resized to `size`."""
    x0, y0 = points[:, :2].min(axis=0)
    x1, y1 = points[:, :2].max(axis=0)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.3 * max(x1 - x0, y1 - y0)
    m = np.float32([[size / side, 0, size / 2 - cx * size / side],
                    [0, size / side, size / 2 - cy * size / side]])
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


# The pose video follows the OpenPose COCO-18 body convention that Wan-Animate's own
# preprocessing draws (a skeleton on black; the face's motion comes from `face_video`): here
# the upper body only: nose, neck, shoulders, eyes and ears, with the usual limb colours.
_LIMBS = (  # (from, to, colour) in COCO-18 keypoint numbering
    (1, 2, (255, 0, 0)), (1, 5, (255, 85, 0)), (1, 0, (0, 0, 255)), (0, 14, (85, 0, 255)),
    (14, 16, (170, 0, 255)), (0, 15, (255, 0, 255)), (15, 17, (255, 0, 170)))
_JOINT_COLOURS = {0: (255, 0, 0), 1: (255, 85, 0), 2: (255, 170, 0), 5: (85, 255, 0),
                  14: (255, 0, 170), 15: (255, 0, 255), 16: (170, 0, 255), 17: (255, 0, 85)}


def body_keypoints(points: np.ndarray) -> dict[int, np.ndarray]:
    """COCO-18 upper-body keypoints from the face mesh: nose, eyes and ears from the mesh; neck
    and shoulders placed from the head's size and tilt."""
    p = points[:, :2]
    chin, top = p[L.CHIN], p[10]
    face_h = float(np.linalg.norm(chin - top)) or 1.0
    down = (chin - top) / face_h
    across = np.array([-down[1], down[0]])  # towards the image's left
    neck = chin + 0.45 * face_h * down
    return {0: p[L.NOSE_TIP], 1: neck,
            2: neck + 1.1 * face_h * across + 0.25 * face_h * down,   # subject's right shoulder
            5: neck - 1.1 * face_h * across + 0.25 * face_h * down,   # subject's left shoulder
            14: p[list(L.EYE["Right"]["upper"] + L.EYE["Right"]["lower"])].mean(axis=0),
            15: p[list(L.EYE["Left"]["upper"] + L.EYE["Left"]["lower"])].mean(axis=0),
            16: p[234], 17: p[454]}


def pose_drawing(points: np.ndarray, frame_shape: tuple[int, int], out_shape: tuple[int, int]) -> np.ndarray:
    """The upper-body skeleton on black, at the generated video's size."""
    h, w = frame_shape
    oh, ow = out_shape
    scale = np.array([ow / w, oh / h])
    k = {i: v * scale for i, v in body_keypoints(points).items()}
    canvas = np.zeros((oh, ow, 3), np.uint8)
    width = max(2, int(round(4 * oh / 512)))
    for a, b, colour in _LIMBS:
        limb = np.zeros_like(canvas)
        cv2.line(limb, tuple(np.round(k[a]).astype(int)), tuple(np.round(k[b]).astype(int)),
                 colour, width, cv2.LINE_AA)
        canvas = np.maximum(canvas, (limb * 0.6).astype(np.uint8))
    for i, colour in _JOINT_COLOURS.items():
        cv2.circle(canvas, tuple(np.round(k[i]).astype(int)), width, colour, -1, cv2.LINE_AA)
    return canvas


def diffusion_prompt(scene_text: str, emotion) -> str:
    """The scene description plus each segment's emotion, as one prompt."""
    parts = []
    text = " ".join(line for line in (scene_text or "").splitlines()
                    if not line.lower().startswith("portrait:"))
    if text.strip():
        parts.append(text.strip())
    if emotion is not None and emotion.segments:
        moods = "; ".join(f"{s.segment.start:.1f}-{s.segment.end:.1f} s {s.label}"
                          f"{'' if s.intensity >= 0.5 else ' (subtle)'}" for s in emotion.segments)
        parts.append(f"Emotion over time: {moods}.")
    parts.append("A photorealistic talking-head video of the person in the reference photo, "
                 "speaking to the camera, natural lip movement, steady background.")
    return " ".join(parts)
