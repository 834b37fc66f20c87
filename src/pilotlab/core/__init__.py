"""Run directories, typed configs, seeding, devices, distributed helpers, checkpoints."""

from pilotlab.core.config import RunConfig, build_config, positional
from pilotlab.core.errors import PilotlabError, TrainingError, check_finite
from pilotlab.core.run import RunDir

__all__ = ["PilotlabError", "RunConfig", "RunDir", "TrainingError", "build_config", "check_finite", "positional"]
