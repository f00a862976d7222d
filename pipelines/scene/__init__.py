"""Scene description stage (LLM or template): see SceneDescription; filled by a later stage."""
