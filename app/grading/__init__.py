"""The lab check engine: declarative checks in, a deterministic grade with evidence out.

- `checks/`: one module per check kind, registered by name in `REGISTRY`;
- `engine.grade(lab_checks, reader, node_access, context)` -> `GradeResult`;
- `reader.ClusterReader`: cluster state through the Kubernetes API;
- `node_access.NodeAccess`: node files and commands (provided by the cluster provider);
- `labfile`: the `labs/<slug>/lab.yaml` format; `selftest`: running a lab's scripts.

Nothing here imports Flask or the database.
"""

from app.grading.checks import REGISTRY
from app.grading.context import GradeContext
from app.grading.engine import CheckSpec, GradePolicy, grade
from app.grading.node_access import NodeAccess, NodeAccessError, NoNodeAccess
from app.grading.reader import (
    ClusterGoneError,
    ClusterReader,
    ClusterReadError,
    ClusterUnreachableError,
)
from app.grading.result import CheckResult, GradeResult

__all__ = [
    "REGISTRY",
    "CheckResult",
    "CheckSpec",
    "ClusterGoneError",
    "ClusterReadError",
    "ClusterReader",
    "ClusterUnreachableError",
    "GradeContext",
    "GradePolicy",
    "GradeResult",
    "NoNodeAccess",
    "NodeAccess",
    "NodeAccessError",
    "grade",
]
