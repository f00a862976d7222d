"""Memory and speed of Wan2.2-Animate-14B at real size, without its weights (issue 6).

Builds every network of the WanAnimatePipeline with the released configuration and random weights
directly on the GPU in bf16 (nothing is downloaded), then times what one render does per segment:
a denoising step of the transformer at the preset sizes, the VAE encode of a segment's pose video
and the decode of its latents, the text and image encoders; and records peak GPU memory
(torch.cuda.max_memory_allocated) for each. Writes JSON lines to --out as it goes, so a run cut
short keeps what it measured.

    python3 scripts/gpu/wan_real_size_probe.py --out probe.jsonl     # needs only torch,
    python3 scripts/gpu/wan_real_size_probe.py --tiny                # transformers and diffusers

Configurations: the transformer's is `get_transformer_config("Wan2.2-Animate-14B")` of diffusers'
scripts/convert_wan_to_diffusers.py; the VAE is AutoencoderKLWan's default (the Wan2.1 VAE, as
that script converts it); the text encoder is google/umt5-xxl's encoder and the image encoder
CLIP ViT-H/14 (the configs in Wan-AI/Wan2.2-Animate-14B-Diffusers).
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time

import torch

ANIMATE_14B = dict(  # scripts/convert_wan_to_diffusers.py, model_type "Wan2.2-Animate-14B"
    image_dim=1280, added_kv_proj_dim=5120, attention_head_dim=128, cross_attn_norm=True,
    eps=1e-06, ffn_dim=13824, freq_dim=256, in_channels=36, num_attention_heads=40, num_layers=40,
    out_channels=16, patch_size=(1, 2, 2), qk_norm="rms_norm_across_heads", text_dim=4096,
    rope_max_seq_len=1024, pos_embed_seq_len=None, motion_encoder_size=512, motion_style_dim=512,
    motion_dim=20, motion_encoder_dim=512, face_encoder_hidden_dim=1024, face_encoder_num_heads=4,
    inject_face_latents_blocks=5)
UMT5_XXL = dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                feed_forward_proj="gated-gelu", relative_attention_num_buckets=32,
                relative_attention_max_distance=128, dense_act_fn="gelu_new", is_gated_act=True,
                layer_norm_epsilon=1e-06, tie_word_embeddings=False, scalable_attention=True)
CLIP_VIT_H = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                  num_attention_heads=16, image_size=224, patch_size=14, projection_dim=1024,
                  hidden_act="gelu", layer_norm_eps=1e-05)
TINY = dict(  # --tiny: the same code paths in seconds, to check this script without a big GPU
    transformer=dict(ANIMATE_14B, num_attention_heads=2, attention_head_dim=16, ffn_dim=64,
                     num_layers=2, text_dim=32, image_dim=32, added_kv_proj_dim=32,
                     motion_encoder_size=64, motion_style_dim=32, motion_encoder_dim=32,
                     face_encoder_hidden_dim=32, inject_face_latents_blocks=2,
                     motion_encoder_channel_sizes={"4": 32, "8": 32, "16": 32, "32": 32,
                                                   "64": 32}),
    umt5=dict(UMT5_XXL, vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4),
    clip=dict(CLIP_VIT_H, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
              num_attention_heads=2, image_size=28),
    vae=dict(base_dim=8, dim_mult=[1, 1, 1, 1], num_res_blocks=1),
)
GIB = 2 ** 30


class Log:
    def __init__(self, path):
        self.f = open(path, "a") if path else None

    def __call__(self, **row):
        row = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
        line = json.dumps(row)
        print(line, flush=True)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def mem():
    return torch.cuda.memory_allocated() if torch.cuda.is_available() else 0


def reset_peak():
    sync()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak():
    sync()
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0


def build(cls, *args, device, dtype, keep_fp32=(), **kw):
    """`cls(*args, **kw)` with its parameters created on `device` in `dtype` (no fp32 detour), then
    the modules diffusers keeps in fp32 cast back, as from_pretrained(dtype=bf16) leaves them."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = cls(*args, **kw)
    finally:
        torch.set_default_dtype(old)
    for name, module in model.named_modules():
        if any(k in name.split(".") for k in keep_fp32):
            module.to(torch.float32)
    return model.eval().requires_grad_(False)


def params(model):
    n = sum(p.numel() for p in model.parameters())
    b = sum(p.numel() * p.element_size() for p in model.parameters())
    return n, b


def timed(fn, repeat):
    fn()  # warm-up (kernel selection, allocator)
    sync()
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        t.append(time.perf_counter() - t0)
    return min(t), sum(t) / len(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="")
    ap.add_argument("--tiny", action="store_true", help="tiny configs (checks the script on CPU)")
    ap.add_argument("--sizes", default="832x480,1280x720", help="WxH of the generated video")
    ap.add_argument("--frames", type=int, default=77, help="segment_frames (4n + 1)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--budget-s", type=float, default=420, help="skip what would start later")
    ap.add_argument("--parts", default="encoders,transformer,vae,group",
                    help="which measurements, of: encoders, transformer, vae, group")
    args = ap.parse_args()
    t_start = time.perf_counter()
    left = lambda: args.budget_s - (time.perf_counter() - t_start)  # noqa: E731
    log = Log(args.out)
    parts = set(args.parts.split(","))

    import diffusers
    import transformers
    from diffusers import AutoencoderKLWan, WanAnimateTransformer3DModel
    from transformers import CLIPVisionConfig, CLIPVisionModel, UMT5Config, UMT5EncoderModel

    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16
    cfg = TINY if args.tiny else dict(transformer=ANIMATE_14B, umt5=UMT5_XXL, clip=CLIP_VIT_H, vae={})
    log(what="env", python=platform.python_version(), torch=torch.__version__,
        cuda=torch.version.cuda, diffusers=diffusers.__version__,
        transformers=transformers.__version__,
        gpu=torch.cuda.get_device_name() if cuda else None,
        gpu_total_gib=torch.cuda.get_device_properties(0).total_memory / GIB if cuda else None,
        flash_sdp=torch.backends.cuda.flash_sdp_enabled(), tiny=args.tiny)

    # ---- all four networks resident (offload "none"), as the gpu-80gb preset runs
    tr = te = ie = None
    if "transformer" in parts:
        t0 = time.perf_counter()
        tr = build(WanAnimateTransformer3DModel, device=device, dtype=dtype,
                   keep_fp32=WanAnimateTransformer3DModel._keep_in_fp32_modules, **cfg["transformer"])
        n, b = params(tr)
        log(what="weights", model="transformer", params=n, gib=b / GIB, fp32_ckpt_gib=n * 4 / GIB,
            build_s=time.perf_counter() - t0)
    if parts & {"transformer", "encoders"}:
        te = build(UMT5EncoderModel, UMT5Config(**cfg["umt5"]), device=device, dtype=dtype)
        te.encoder.embed_tokens.weight = te.shared.weight  # one embedding, as the checkpoint has
        gc.collect()
        n, b = params(te)
        log(what="weights", model="text_encoder", params=n, gib=b / GIB)
        ie = build(CLIPVisionModel, CLIPVisionConfig(**cfg["clip"]), device=device, dtype=dtype)
        n, b = params(ie)
        log(what="weights", model="image_encoder", params=n, gib=b / GIB)
    vae = build(AutoencoderKLWan, device=device, dtype=dtype, **cfg["vae"])
    n, b = params(vae)
    log(what="weights", model="vae", params=n, gib=b / GIB, fp32_gib=n * 4 / GIB)
    resident = mem()
    log(what="resident", all_models_gib=resident / GIB)

    with torch.inference_mode():
        ids = torch.randint(0, cfg["umt5"]["vocab_size"], (1, 512), device=device)
        px = torch.randn(1, 3, cfg["clip"]["image_size"], cfg["clip"]["image_size"], device=device,
                         dtype=dtype)
        if "encoders" in parts and te is not None:
            reset_peak()
            best, mean = timed(lambda: te(input_ids=ids), args.repeat)
            log(what="text_encoder", tokens=512, s=best, peak_gib=peak() / GIB)
            reset_peak()
            best, mean = timed(lambda: ie(pixel_values=px, output_hidden_states=True), args.repeat)
            log(what="image_encoder", s=best, peak_gib=peak() / GIB)

        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
        if args.tiny:
            sizes = [(64, 32)]
        lat_t = (args.frames - 1) // 4 + 1
        face = cfg["transformer"]["motion_encoder_size"]
        text_dim, img_dim = cfg["transformer"]["text_dim"], cfg["transformer"]["image_dim"]
        for w, h in (sizes if "transformer" in parts else []):
            if left() < 60:
                log(what="skipped", step=f"transformer {w}x{h}", reason="time budget")
                continue
            tokens = (lat_t + 1) * (h // 16) * (w // 16)
            inputs = dict(
                hidden_states=torch.randn(1, 36, lat_t + 1, h // 8, w // 8, device=device, dtype=dtype),
                timestep=torch.tensor([999], device=device),
                encoder_hidden_states=torch.randn(1, 512, text_dim, device=device, dtype=dtype),
                encoder_hidden_states_image=torch.randn(1, 257, img_dim, device=device, dtype=dtype),
                pose_hidden_states=torch.randn(1, 16, lat_t, h // 8, w // 8, device=device, dtype=dtype),
                face_pixel_values=torch.randn(1, 3, args.frames, face, face, device=device, dtype=dtype),
                return_dict=False)
            try:
                reset_peak()
                base = mem()
                outs = []
                repeat = args.repeat if tokens < 50_000 else 1
                best, mean = timed(lambda: outs.append(tr(**inputs)[0]), repeat)
                ok = bool(torch.isfinite(outs[-1].float()).all())
                log(what="denoise_step", size=f"{w}x{h}", frames=args.frames, latent_frames=lat_t + 1,
                    tokens=tokens, s_per_step=best, s_mean=mean, cfg_s_per_step=2 * best,
                    peak_gib=peak() / GIB, activations_gib=(peak() - base) / GIB,
                    resident_gib=base / GIB, finite=ok, out_shape=list(outs[-1].shape))
                outs.clear()
            except torch.OutOfMemoryError as e:
                log(what="denoise_step", size=f"{w}x{h}", error=f"OOM: {str(e)[:200]}")
            del inputs
            gc.collect()
            torch.cuda.empty_cache() if cuda else None

        # ---- the VAE of one segment: encode the pose video (and the reference frame), decode
        #      the latents; bf16 as the product loads it, fp32 as the diffusers docs advise, and
        #      tiled as the gpu-24gb preset runs it. Only the VAE is resident for these.
        tr = te = ie = None
        gc.collect()
        torch.cuda.empty_cache() if cuda else None
        for vdtype, tiling in ((torch.bfloat16, False), (torch.bfloat16, True), (torch.float32, False))[
                :3 if "vae" in parts else 0]:
            v = vae.to(vdtype)
            if tiling:
                v.enable_tiling()
            else:
                v.disable_tiling()
            for w, h in sizes:
                if left() < 45:
                    log(what="skipped", step=f"vae {vdtype} {w}x{h}", reason="time budget")
                    continue
                tag = dict(dtype=str(vdtype).split(".")[-1], tiling=tiling, size=f"{w}x{h}")
                try:
                    video = torch.randn(1, 3, args.frames, h, w, device=device, dtype=vdtype)
                    reset_peak()
                    base = mem()
                    t0 = time.perf_counter()
                    v.encode(video).latent_dist.mode()
                    sync()
                    enc_s = time.perf_counter() - t0
                    enc_peak = peak() - base
                    del video
                    lat = torch.randn(1, 16, lat_t, h // 8, w // 8, device=device, dtype=vdtype)
                    reset_peak()
                    base = mem()
                    t0 = time.perf_counter()
                    frames = v.decode(lat, return_dict=False)[0]
                    sync()
                    dec_s = time.perf_counter() - t0
                    log(what="vae_segment", **tag, encode_s=enc_s, encode_peak_gib=enc_peak / GIB,
                        decode_s=dec_s, decode_peak_gib=(peak() - base) / GIB,
                        decoded=list(frames.shape))
                    del frames, lat
                except torch.OutOfMemoryError as e:
                    log(what="vae_segment", **tag, error=f"OOM: {str(e)[:200]}")
                gc.collect()
                torch.cuda.empty_cache() if cuda else None
        del vae
        gc.collect()
        torch.cuda.empty_cache() if cuda else None

    # ---- offload "group" (the gpu-24gb preset): the transformer's weights in CPU memory,
    #      streamed to the GPU leaf by leaf, as DiffusionRenderer.load sets it up.
    if "group" not in parts or not cuda or left() < 120:
        log(what="skipped", step="group offload", reason="not asked for, no CUDA or time budget")
        return
    t0 = time.perf_counter()
    tr = build(WanAnimateTransformer3DModel, device=device, dtype=dtype,
               keep_fp32=WanAnimateTransformer3DModel._keep_in_fp32_modules, **cfg["transformer"])
    tr.to("cpu")
    gc.collect()
    torch.cuda.empty_cache()
    tr.enable_group_offload(onload_device=device, offload_device=torch.device("cpu"),
                            offload_type="leaf_level", use_stream=True)
    log(what="group_offload_setup", s=time.perf_counter() - t0, resident_gib=mem() / GIB)
    w, h = sizes[0]
    with torch.inference_mode():
        inputs = dict(
            hidden_states=torch.randn(1, 36, lat_t + 1, h // 8, w // 8, device=device, dtype=dtype),
            timestep=torch.tensor([999], device=device),
            encoder_hidden_states=torch.randn(1, 512, 4096, device=device, dtype=dtype),
            encoder_hidden_states_image=torch.randn(1, 257, 1280, device=device, dtype=dtype),
            pose_hidden_states=torch.randn(1, 16, lat_t, h // 8, w // 8, device=device, dtype=dtype),
            face_pixel_values=torch.randn(1, 3, args.frames, 512, 512, device=device, dtype=dtype),
            return_dict=False)
        reset_peak()
        base = mem()
        best, mean = timed(lambda: tr(**inputs), 1)
        log(what="denoise_step_group_offload", size=f"{w}x{h}", s_per_step=best,
            peak_gib=peak() / GIB, activations_and_streamed_gib=(peak() - base) / GIB)
    # The text encoder (UMT5-XXL) streamed the same way, as DiffusionRenderer.load does too.
    tr = None  # frees the streamed transformer
    gc.collect()
    torch.cuda.empty_cache()
    from diffusers.hooks import apply_group_offloading

    te = build(UMT5EncoderModel, UMT5Config(**cfg["umt5"]), device=device, dtype=dtype)
    te.encoder.embed_tokens.weight = te.shared.weight
    te.to("cpu")
    gc.collect()
    torch.cuda.empty_cache()
    apply_group_offloading(te, onload_device=device, offload_type="leaf_level", use_stream=True)
    with torch.inference_mode():
        ids = torch.randint(0, cfg["umt5"]["vocab_size"], (1, 512), device=device)
        reset_peak()
        base = mem()
        best, mean = timed(lambda: te(input_ids=ids), 2)
        log(what="text_encoder_group_offload", tokens=512, s=best, peak_gib=peak() / GIB,
            streamed_gib=(peak() - base) / GIB)
    log(what="done", total_s=time.perf_counter() - t_start)


if __name__ == "__main__":
    sys.exit(main())
