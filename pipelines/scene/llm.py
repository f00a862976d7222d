"""Scene descriptions from any OpenAI-compatible chat endpoint (OpenAI, llama.cpp server,
Ollama, vLLM, LM Studio) through the official `openai` client.

The API key comes from the caller (the studio's session field) or from `OPENAI_API_KEY` at call
time; it is never stored in settings, projects or messages. Connection errors, HTTP errors,
slowness (a read timeout per request and a total deadline while streaming), oversized and
malformed answers all raise `LLMUnavailableError` with a readable reason, so the caller can fall
back to the offline template.
"""
from __future__ import annotations

import json
import os
import re
import time

from ..errors import LLMUnavailableError
from ..settings import SceneSettings
from .parser import cue_line, find_words
from .request import KIND_NAMES, SceneRequest, build_messages
from ..types import SceneCue

# Local servers accept any key; the client refuses to start without one.
_NO_KEY = "not-needed"


class OpenAISceneWriter:
    name = "llm"

    def __init__(self, settings: SceneSettings, api_key: str | None = None):
        self.settings = settings
        self._api_key = api_key
        self._client = None

    # ------------------------------------------------------------------ client
    def _get_client(self):
        if self._client is None:
            try:
                from openai import OpenAI
            except ImportError as e:  # pragma: no cover - openai is in requirements.txt
                raise LLMUnavailableError(f"The openai package is not installed ({e}).",
                                          "Run `bash setup.sh` to install the requirements.") from None
            key = self._api_key or os.environ.get("OPENAI_API_KEY") or _NO_KEY
            self._client = OpenAI(base_url=self.settings.llm_base_url, api_key=key,
                                  timeout=self.settings.timeout_s,
                                  max_retries=self.settings.retries)
        return self._client

    # ------------------------------------------------------------------- write
    def write(self, request: SceneRequest) -> str:
        """The scene text for `request` (canonical form when the answer is structured)."""
        answer = self.ask(build_messages(request))
        return answer_to_scene_text(answer, request, self.settings.max_answer_chars)

    def ask(self, messages: list[dict[str, str]]) -> str:
        import openai

        s = self.settings
        where = f"the LLM at {s.llm_base_url}"
        client = self._get_client()
        try:
            if s.stream:
                return self._ask_streaming(client, messages, where)
            resp = client.chat.completions.create(model=s.llm_model, messages=messages,
                                                  temperature=s.temperature)
            content = (resp.choices[0].message.content or "") if resp.choices else ""
            if len(content) > s.max_answer_chars:
                raise LLMUnavailableError(
                    f"{where} answered {len(content)} characters (limit {s.max_answer_chars}).")
            return content
        except openai.APITimeoutError:
            raise LLMUnavailableError(f"{where} did not answer within {s.timeout_s:g} s.") from None
        except openai.AuthenticationError:
            raise LLMUnavailableError(f"{where} rejected the API key.",
                                      "Set OPENAI_API_KEY (or type a key in the studio).") from None
        except openai.NotFoundError:
            raise LLMUnavailableError(f"{where} does not know the model '{s.llm_model}' "
                                      "(or has no /chat/completions).",
                                      "Check --llm-model and --llm-base-url (it usually ends in /v1).") from None
        except openai.APIStatusError as e:
            raise LLMUnavailableError(f"{where} answered HTTP {e.status_code}.") from None
        except openai.APIConnectionError:
            raise LLMUnavailableError(f"Could not reach {where}.",
                                      "Is the server running? Check --llm-base-url.") from None
        except (openai.OpenAIError, ValueError, AttributeError, IndexError, TypeError) as e:
            raise LLMUnavailableError(f"{where} gave an unusable answer ({type(e).__name__}).") from None

    def _ask_streaming(self, client, messages, where: str) -> str:
        s = self.settings
        deadline = time.monotonic() + s.timeout_s * max(1, s.retries + 1)
        stream = client.chat.completions.create(model=s.llm_model, messages=messages,
                                                temperature=s.temperature, stream=True)
        parts: list[str] = []
        size = 0
        try:
            for chunk in stream:
                for choice in getattr(chunk, "choices", None) or []:
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        parts.append(text)
                        size += len(text)
                if size > s.max_answer_chars:
                    raise LLMUnavailableError(
                        f"{where} answered more than {s.max_answer_chars} characters.")
                if time.monotonic() > deadline:
                    raise LLMUnavailableError(f"{where} was too slow (still streaming after "
                                              f"{s.timeout_s * max(1, s.retries + 1):g} s).")
        finally:
            stream.close()
        return "".join(parts)


# ------------------------------------------------------------------------------ answers

_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$", re.I)


def answer_to_scene_text(answer: str, request: SceneRequest, max_chars: int = 8000) -> str:
    """Validates an LLM answer and returns the scene text.

    A JSON answer ({"description", "cues"}) becomes the description followed by one canonical
    line per valid cue, so the editable text and the parsed cues can never disagree. A plain
    text answer is used as it is. Empty, binary-looking, HTML or oversized answers raise."""
    text = (answer or "").strip()
    if not text:
        raise LLMUnavailableError("The LLM answered with an empty message.")
    if len(text) > max_chars:
        raise LLMUnavailableError(f"The LLM answer is too long ({len(text)} characters).")
    data = _json_object(text)
    if data is not None:
        description = data.get("description") or data.get("scene") or data.get("text") or ""
        if not isinstance(description, str):
            description = ""
        lines = [" ".join(description.split())] if description.strip() else []
        cues = data.get("cues")
        for cue in (cues if isinstance(cues, list) else []):
            valid = _valid_cue(cue, request)
            if valid is not None:
                lines.append(cue_line(valid))
        if not lines:
            raise LLMUnavailableError("The LLM answered JSON without a description or usable cues.")
        return "\n".join(lines)
    if _looks_like_prose(text):
        return text
    raise LLMUnavailableError("The LLM answer is not a scene description (neither JSON nor prose).")


def _json_object(text: str) -> dict | None:
    body = _FENCE.sub("", text)
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(body[start:end + 1])
    except (json.JSONDecodeError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _valid_cue(cue, request: SceneRequest) -> SceneCue | None:
    if not isinstance(cue, dict):
        return None
    kind = str(cue.get("kind", "")).strip().lower().replace(" ", "_").replace("-", "_")
    if kind not in KIND_NAMES:
        return None
    start, end = _number(cue.get("start")), _number(cue.get("end"))
    word = cue.get("word")
    if isinstance(word, str) and word.strip() and (start is None or end is None):
        hit = find_words(word, tuple(request.words))
        if hit is not None:
            start, end = hit[0] - 0.1, hit[1] + 0.3
    if start is None:
        return None
    if end is None or end <= start:
        end = start + 1.0
    start, end = max(0.0, start), min(request.duration, end)
    if end - start < 0.1:
        return None
    strength = _number(cue.get("strength"))
    strength = 1.0 if strength is None else float(min(max(strength, 0.2), 2.0))
    return SceneCue(kind=kind, start=round(start, 2), end=round(end, 2), strength=strength)


def _number(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _looks_like_prose(text: str) -> bool:
    if re.search(r"<\s*(?:html|body|head|div|!doctype)\b", text, re.I):
        return False
    letters = sum(c.isalpha() for c in text)
    printable = sum(c.isprintable() or c in "\n\t" for c in text)
    words = re.findall(r"[A-Za-z]{2,}", text)
    return (len(words) >= 3 and letters / len(text) >= 0.55 and printable / len(text) >= 0.98)
