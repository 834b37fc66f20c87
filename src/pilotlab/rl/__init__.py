"""rl pillar."""
