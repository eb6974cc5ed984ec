"""The rule core: one person's events + the hub's clock → that person's cases.

Pure and synchronous; knows nothing of Kafka or Faust. See `engine.evaluate` and, for
the law each rule follows, `exit_rule`, `rupture`, `prevention`, `situation`, `age`.
"""

from .engine import Evaluation, evaluate

__all__ = ["Evaluation", "evaluate"]
