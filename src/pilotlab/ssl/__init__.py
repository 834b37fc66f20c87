"""Self-supervised learning: autoencoders and contrastive methods, evaluated by probes."""
