"""Local-only runners (Socket Mode, HTTP server). Never imported on Lambda, not in the artifact."""
