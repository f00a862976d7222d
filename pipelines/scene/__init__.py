"""Scene description: LLM (OpenAI-compatible) or offline template text, parsed into timed cues."""
from .director import SceneDirector
from .llm import OpenAISceneWriter, answer_to_scene_text
from .parser import SceneContext, cue_line, parse_scene_text
from .request import SceneRequest, build_messages
from .template import TemplateSceneWriter
from .vocabulary import CUE_KINDS, KINDS_BY_NAME

__all__ = ["SceneDirector", "OpenAISceneWriter", "answer_to_scene_text", "SceneContext",
           "cue_line", "parse_scene_text", "SceneRequest", "build_messages",
           "TemplateSceneWriter", "CUE_KINDS", "KINDS_BY_NAME"]
