"""The Gradio studio (UI only): build_ui(), launch_studio(), the project library."""
