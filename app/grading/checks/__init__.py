"""The check kinds, registered by name in `REGISTRY`.

Adding a kind: write its module (a schema for its fields and a `run`), then add it to
the list below.
"""

from app.grading.checks.access_review import AccessReview
from app.grading.checks.base import REGISTRY, CheckEnv, CheckKind, CheckRegistry, Outcome
from app.grading.checks.condition import ConditionStable
from app.grading.checks.count import Count
from app.grading.checks.events import EventProvenance
from app.grading.checks.exists import Absent, Exists
from app.grading.checks.jmespath_assert import Jmespath
from app.grading.checks.match import Match
from app.grading.checks.node_command import NodeCommand
from app.grading.checks.node_file import NodeFile
from app.grading.checks.pod_command import PodCommand
from app.grading.checks.probe_pod import ProbePod

for _kind in (
    Exists(),
    Absent(),
    Match(),
    Jmespath(),
    Count(),
    ConditionStable(),
    EventProvenance(),
    NodeFile(),
    NodeCommand(),
    PodCommand(),
    ProbePod(),
    AccessReview(),
):
    REGISTRY.register(_kind)

__all__ = ["REGISTRY", "CheckEnv", "CheckKind", "CheckRegistry", "Outcome"]
