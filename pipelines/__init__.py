"""SynchroRaMa: portrait + speech → lip-synced, emotion-aware talking-face video."""
