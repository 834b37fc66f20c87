"""gan pillar."""
