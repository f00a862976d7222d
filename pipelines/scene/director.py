"""The scene stage: the user's text, or a generated one (LLM, falling back to the template)."""
from __future__ import annotations

from ..errors import LLMUnavailableError
from ..settings import SceneSettings
from ..types import SceneDescription
from .llm import OpenAISceneWriter
from .parser import parse_scene_text
from .request import SceneRequest
from .template import TemplateSceneWriter


class SceneDirector:
    def __init__(self, settings: SceneSettings, api_key: str | None = None,
                 llm: OpenAISceneWriter | None = None, template: TemplateSceneWriter | None = None):
        self.settings = settings
        self.llm = llm or (OpenAISceneWriter(settings, api_key) if settings.llm_base_url else None)
        self.template = template or TemplateSceneWriter()

    def describe(self, text: str, request: SceneRequest, source: str = "user") -> SceneDescription:
        """A scene from given text (the user's own, or an edited generated one)."""
        return SceneDescription(text=text, cues=parse_scene_text(text, request.context), source=source)

    def generate(self, request: SceneRequest) -> tuple[SceneDescription, list[str]]:
        """A generated scene and warnings (why the LLM was not used, when it was asked for)."""
        mode = self.settings.mode
        if mode == "off":
            return SceneDescription(), []
        warnings: list[str] = []
        if mode == "auto" and self.llm is not None:
            try:
                return self.describe(self.llm.write(request), request, source="llm"), warnings
            except LLMUnavailableError as e:
                reason = e.message + (f" {e.hint}" if e.hint else "")
                warnings.append(f"Scene description: {reason} Used the offline template instead.")
        return self.describe(self.template.write(request), request, source="template"), warnings
