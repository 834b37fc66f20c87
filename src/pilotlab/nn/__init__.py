"""Shared small networks: MLPs, conv encoders/decoders."""

from pilotlab.nn.backbone import StrideFourBackbone
from pilotlab.nn.conv import ConvDecoder, ConvEncoder
from pilotlab.nn.mlp import mlp

__all__ = ["ConvDecoder", "ConvEncoder", "StrideFourBackbone", "mlp"]
