"""Where heavy models come from: a local folder, or a model id already in the user's Hugging Face
cache. Nothing is ever downloaded at run time; a model that is not on disk gives one
MissingWeightsError naming it and the command that fetches it."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError, MissingWeightsError


def looks_like_path(model: str) -> bool:
    """A folder, not a hub id ("org/name" or "name")."""
    if model.startswith((".", "/", "~")) or Path(os.path.expanduser(model)).exists():
        return True
    return len(model.split("/")) > 2


def resolve_model_source(model: str, what: str, marker: str = "config.json") -> str:
    """A folder to load `model` from: the folder itself, or its snapshot in the Hugging Face
    cache. `what` names the model in messages ("Diffusion model"); `marker` is a file every
    copy of it has (model_index.json for a diffusers pipeline)."""
    model = (model or "").strip()
    if not model:
        raise MissingWeightsError(f"No {what.lower()} was given.",
                                  "Pass a local model folder or a Hugging Face model id.")
    if looks_like_path(model):
        path = Path(os.path.expanduser(model)).resolve()
        if not (path / marker).is_file():
            raise MissingWeightsError(
                f"{what} folder '{path}' has no {marker}.",
                "Pass a folder written by save_pretrained(), or the model id of a model in your "
                "Hugging Face cache.")
        return str(path)
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached, bad id, offline: all mean "not on disk"
        from huggingface_hub import constants

        raise MissingWeightsError(
            f"{what} '{model}' is not on this computer (looked in {constants.HF_HUB_CACHE}).",
            f"Download it once with `hf download {model}` (or pass a local folder); nothing is "
            f"downloaded while rendering.") from None


def resolve_device(device: str, what: str):
    """A torch device for `device` ("cpu", "cuda", "cuda:N" or "auto")."""
    import torch

    want = (device or "cpu").strip().lower()
    if want == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(want)
    except (RuntimeError, ValueError):
        raise InputError(f"Unknown device '{device}' for the {what}.",
                         "Use 'cpu', 'cuda', 'cuda:N' or 'auto'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"The {what} needs an NVIDIA GPU (device '{device}'), but this computer "
                         "has no CUDA device that PyTorch can use.",
                         "Use the CPU renderer, or run on a machine with a CUDA GPU.")
    return dev
