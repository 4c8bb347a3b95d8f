"""The original spotax tool's name for this helper: a project written for spotax imports
spotax_utils and gets SpotJax's implementation of the same API (see spotjax_utils.py)."""

from spotjax_utils import *  # noqa: F401,F403
from spotjax_utils import (  # noqa: F401  (named too, so linters and readers see what it offers)
    CheckpointManager,
    SpotConfig,
    get_config,
    setup_distributed,
)
