"""A tiny, randomly initialised WanAnimatePipeline, built the way diffusers' own tests build
dummy components (same component classes as the real Wan2.2-Animate, a few thousand weights),
saved with save_pretrained so the product loads it through the same code as a real model.
The tokenizer is a word-level one built here (the hub's tiny T5 tokenizer is not reachable)."""
from pathlib import Path


def build_tiny_wan_animate(folder: Path) -> Path:
    import torch
    from diffusers import (AutoencoderKLWan, UniPCMultistepScheduler, WanAnimatePipeline,
                           WanAnimateTransformer3DModel)
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel,
                              PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel)

    torch.manual_seed(0)
    words = ["<pad>", "</s>", "<unk>", *("a the speaker person talks speaking nods smiles looks at "
                                          "camera calm happy sad angry and with of to in head "
                                          "still emotion over time photorealistic video").split()]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                        unk_token="<unk>")
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(words), d_model=16, d_kv=8, d_ff=32,
                                               num_layers=1, num_heads=2,
                                               relative_attention_num_buckets=8))
    image_encoder = CLIPVisionModel(CLIPVisionConfig(hidden_size=16, intermediate_size=32,
                                                     num_hidden_layers=2, num_attention_heads=2,
                                                     image_size=32, patch_size=8))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32},
                                         crop_size={"height": 32, "width": 32})
    vae = AutoencoderKLWan(base_dim=3, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], latents_mean=[0.0] * 4,
                           latents_std=[1.0] * 4)
    transformer = WanAnimateTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=12,
        latent_channels=4, out_channels=4, text_dim=16, freq_dim=256, ffn_dim=32, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads", image_dim=16, rope_max_seq_len=32,
        motion_encoder_channel_sizes={"4": 16, "8": 16, "16": 16}, motion_encoder_size=16,
        motion_style_dim=8, motion_dim=4, motion_encoder_dim=16, face_encoder_hidden_dim=16,
        face_encoder_num_heads=2, inject_face_latents_blocks=2)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        flow_shift=5.0)
    pipe = WanAnimatePipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae,
                              scheduler=scheduler, image_processor=image_processor,
                              image_encoder=image_encoder, transformer=transformer)
    pipe.save_pretrained(folder)
    return Path(folder)


def tiny_wan_settings(folder: Path, **diffusion):
    """Pipeline settings that render with the tiny model: 64 px, 2 steps, 9-frame segments
    (CPU and fp32 unless `diffusion` says otherwise)."""
    from pipelines.settings import PipelineSettings

    d = dict(model=str(folder), device="cpu", dtype="fp32", steps=2, segment_frames=9,
             prev_segment_frames=1, max_side=32)
    d.update(diffusion)
    return PipelineSettings().with_overrides({
        "render": {"renderer": "diffusion", "size": 64}, "face": {"framing": "crop"},
        "diffusion": d})


def render_and_check_mp4(pipe, project, path):
    """Renders `project` to `path` and checks what every such MP4 must be: video and audio as
    long as the 7.1 s sample, render progress reported often and in order. Returns the
    decoded frames (float RGB)."""
    import imageio_ffmpeg
    import numpy as np

    from pipelines.export.video import probe_durations

    stages = []
    out = pipe(project, path, callback=lambda s, f: stages.append((s, f)))
    d = probe_durations(out.video_path)
    assert abs(d["video"] - 7.1) <= 0.05 and abs(d["audio"] - 7.1) <= 0.05
    render_progress = [f for s, f in stages if s == "render"]
    assert len(render_progress) > 20 and render_progress == sorted(render_progress)
    gen = imageio_ffmpeg.read_frames(str(out.video_path))
    w, h = next(gen)["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3).astype(float) for b in gen]
