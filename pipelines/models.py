"""Where heavy models come from: a local folder, or a model id already in the user's Hugging Face
cache. Nothing is ever downloaded at run time; a model that is not on disk gives one
MissingWeightsError naming it and the command that fetches it."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError, MissingWeightsError


def looks_like_path(model: str) -> bool:
    """A folder, not a hub id ("org/name" or "name")."""
    if model.startswith((".", "/", "~", "\\")) or "\\" in model or model[1:2] == ":":
        return True
    return Path(os.path.expanduser(model)).exists() or model.count("/") > 1


def short_reason(exc: BaseException) -> str:
    """The first line of an exception's message, trimmed: no traceback reaches the user."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(text) > 200:
        text = text[:197] + "..."
    return text if text.endswith((".", "!", "?")) else text + "."


def load_failure(model: str, what: str, reason: str, expected: str) -> MissingWeightsError:
    """A model that is on disk but cannot be used (wrong kind, broken files): one message.
    `expected` says what a usable folder holds."""
    where = os.path.abspath(os.path.expanduser(model)) if looks_like_path(model) else model
    return MissingWeightsError(f"{what} '{where}' could not be loaded: {reason}",
                               f"Pass a folder written by save_pretrained() that holds {expected}.")


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
        if not path.is_dir():
            raise MissingWeightsError(f"{what} folder '{path}' does not exist.",
                                      "Check the path, or pass the model id of a model in your "
                                      "Hugging Face cache.")
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
            f"downloaded while the studio works.") from None


EMOTION_ON_CPU = "Use --emotion-device cpu or auto (emotion.device in a preset)"


def resolve_device(device: str, what: str, instead: str | None = None):
    """A torch device for `device` ("cpu", "cuda", "cuda:N" or "auto"). `instead` is what to
    do without a GPU (default: run this model on the CPU)."""
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
        instead = instead or f"Set the {what} device to cpu or auto"
        raise InputError(f"The {what} needs an NVIDIA graphics card, but this computer has none "
                         "that can be used.",
                         f"{instead}, or run it on a computer with an NVIDIA graphics card.")
    return dev
