"""drive pillar."""
