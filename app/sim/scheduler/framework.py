"""The scheduling framework: statuses, cycle state, extension points, registry, profiles.

Shaped like upstream kube-scheduler (`pkg/scheduler/framework/interface.go`): a plugin
implements one small interface per extension point it takes part in (PreFilter, Filter,
PreScore, Score, NormalizeScore, PostFilter, PreBind, PreEnqueue), each returns a
`Status`, and a profile lists the enabled plugins with their score weights. A plugin is
enabled at every extension point it implements (upstream's `multiPoint`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, runtime_checkable

if TYPE_CHECKING:
    from app.sim.scheduler.actions import Action
    from app.sim.scheduler.podinfo import PodInfo
    from app.sim.scheduler.snapshot import NodeInfo, Snapshot

# framework/interface.go: node scores are normalised to [0, MaxNodeScore].
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(IntEnum):
    """Status codes of upstream `framework.Code`."""

    SUCCESS = 0
    ERROR = 1
    # Rejected, but preemption or a cluster change might help.
    UNSCHEDULABLE = 2
    # Rejected, and preempting pods on this node would not help.
    UNSCHEDULABLE_AND_UNRESOLVABLE = 3
    WAIT = 4
    # A PreFilter/PreScore plugin says its Filter/Score has nothing to do for this pod.
    SKIP = 5
    PENDING = 6


@dataclass(frozen=True, slots=True)
class Status:
    """The outcome of one plugin at one extension point, with human-readable reasons."""

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)

    def is_success(self) -> bool:
        return self.code == Code.SUCCESS

    def is_rejected(self) -> bool:
        return self.code in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


SKIP = Status(Code.SKIP)


def unschedulable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons, plugin)


def unresolvable(plugin: str, *reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, plugin)


T = TypeVar("T")


class StateKey(Generic[T]):
    """A typed key into CycleState: `read(KEY)` returns the type the key was made for."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name})"


class CycleState:
    """Data plugins share within one scheduling cycle of one pod."""

    __slots__ = ("_data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()

    def write(self, key: StateKey[T], value: T) -> None:
        self._data[key.name] = value

    def read(self, key: StateKey[T]) -> T:
        """The value written under `key`; KeyError if PreFilter/PreScore did not run."""
        return cast(T, self._data[key.name])

    def get(self, key: StateKey[T]) -> T | None:
        return self._data.get(key.name)


# ---- extension points ----------------------------------------------------------------


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreEnqueuePlugin(Protocol):
    name: str

    def pre_enqueue(self, pod: Mapping[str, Any]) -> Status | None:
        """None lets the pod into the active queue; a status keeps it gated."""


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        """Compute per-pod state; None or SKIP, or a rejection for every node."""


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None when the pod may run on `node`, else a rejecting Status."""


@runtime_checkable
class PostFilterPlugin(Protocol):
    name: str

    def post_filter(
        self,
        state: CycleState,
        pod: PodInfo,
        snapshot: Snapshot,
        statuses: Mapping[str, Status],
    ) -> PostFilterResult:
        """Try to make the pod schedulable after every node rejected it (preemption)."""


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> Status | None:
        """Compute per-pod scoring state over the feasible nodes; SKIP to opt out."""


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """Raw score of `node`; raise ValueError for a scoring error."""


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    name: str

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rewrite raw scores in place into [0, MAX_NODE_SCORE]."""


@runtime_checkable
class PreBindPlugin(Protocol):
    name: str

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> list[Action]:
        """API changes that must happen before the pod is bound (volume binding)."""


@dataclass(slots=True)
class PostFilterResult:
    """What PostFilter (preemption) decided: a nominated node, victims, and a status."""

    status: Status
    nominated_node: str | None = None
    victims: list[PodInfo] = field(default_factory=list)
    # Lower-priority pods that lose their nomination to the preemptor's node.
    cleared_nominations: list[PodInfo] = field(default_factory=list)


PluginFactory = Callable[[Mapping[str, Any]], Plugin]


class Registry:
    """Plugin name -> factory. Registering a name twice is a programming error."""

    def __init__(self) -> None:
        self._factories: dict[str, PluginFactory] = {}

    def register(self, name: str, factory: PluginFactory) -> None:
        """Add a factory; raises ValueError if `name` is already registered."""
        if name in self._factories:
            raise ValueError(f"a plugin named {name!r} already exists")
        self._factories[name] = factory

    def create(self, name: str, args: Mapping[str, Any] | None = None) -> Plugin:
        """Instantiate a plugin; raises KeyError for an unknown name."""
        if name not in self._factories:
            raise KeyError(f"plugin {name!r} is not registered")
        return self._factories[name](args or {})

    def names(self) -> list[str]:
        return list(self._factories)

    def __contains__(self, name: object) -> bool:
        return name in self._factories


@dataclass(frozen=True, slots=True)
class PluginConfig:
    """One enabled plugin in a profile: name, score weight, plugin arguments."""

    name: str
    weight: int = 1
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """A scheduling profile: the scheduler name it serves and its plugins in order."""

    scheduler_name: str
    plugins: tuple[PluginConfig, ...]
    # Upstream's adaptive default when 0 (see Framework.num_feasible_nodes_to_find).
    percentage_of_nodes_to_score: int = 0

    def without(self, *names: str) -> Profile:
        """A copy with the named plugins disabled."""
        return Profile(
            self.scheduler_name,
            tuple(p for p in self.plugins if p.name not in names),
            self.percentage_of_nodes_to_score,
        )

    def with_weight(self, name: str, weight: int) -> Profile:
        """A copy with the score weight of one plugin changed."""
        return Profile(
            self.scheduler_name,
            tuple(
                PluginConfig(p.name, weight, p.args) if p.name == name else p for p in self.plugins
            ),
            self.percentage_of_nodes_to_score,
        )

    def weight_of(self, name: str) -> int:
        for p in self.plugins:
            if p.name == name:
                return p.weight
        raise KeyError(name)


def default_profile(scheduler_name: str = "default-scheduler") -> Profile:
    """The default plugin set and score weights of upstream 1.35.

    pkg/scheduler/apis/config/v1/default_plugins.go (multiPoint): TaintToleration 3,
    NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1,
    NodeResourcesBalancedAllocation 1, ImageLocality 1; the order below is upstream's
    order, which is also the order Filter plugins run in. VolumeRestrictions checks
    ReadWriteOncePod claims only; NodeVolumeLimits, VolumeZone and DynamicResources
    are not simulated.
    """
    return Profile(
        scheduler_name,
        (
            PluginConfig("SchedulingGates"),
            PluginConfig("NodeUnschedulable"),
            PluginConfig("NodeName"),
            PluginConfig("TaintToleration", weight=3),
            PluginConfig("NodeAffinity", weight=2),
            PluginConfig("NodePorts"),
            PluginConfig("NodeResourcesFit", weight=1),
            PluginConfig("VolumeRestrictions"),
            PluginConfig("VolumeBinding"),
            PluginConfig("PodTopologySpread", weight=2),
            PluginConfig("InterPodAffinity", weight=2),
            PluginConfig("DefaultPreemption"),
            PluginConfig("NodeResourcesBalancedAllocation", weight=1),
            PluginConfig("ImageLocality", weight=1),
        ),
    )


class Framework:
    """A profile's plugins instantiated and sorted into extension points."""

    def __init__(self, profile: Profile, registry: Registry) -> None:
        self.profile = profile
        self.plugins: dict[str, Plugin] = {}
        self.pre_enqueue: list[PreEnqueuePlugin] = []
        self.pre_filter: list[PreFilterPlugin] = []
        self.filter: list[FilterPlugin] = []
        self.post_filter: list[PostFilterPlugin] = []
        self.pre_score: list[PreScorePlugin] = []
        self.score: list[tuple[ScorePlugin, int]] = []
        # (plugin, weight, normalize_score or None), resolved once: protocol checks are slow.
        self._scorers: list[tuple[ScorePlugin, int, Any]] = []
        self.pre_bind: list[PreBindPlugin] = []
        for config in profile.plugins:
            if config.name in self.plugins:
                raise ValueError(f"plugin {config.name!r} is enabled twice in the profile")
            plugin = registry.create(config.name, config.args)
            self.plugins[config.name] = plugin
            if isinstance(plugin, PreEnqueuePlugin):
                self.pre_enqueue.append(plugin)
            if isinstance(plugin, PreFilterPlugin):
                self.pre_filter.append(plugin)
            if isinstance(plugin, FilterPlugin):
                self.filter.append(plugin)
            if isinstance(plugin, PostFilterPlugin):
                self.post_filter.append(plugin)
            if isinstance(plugin, PreScorePlugin):
                self.pre_score.append(plugin)
            if isinstance(plugin, ScorePlugin) and config.weight > 0:
                self.score.append((plugin, config.weight))
                normalize = (
                    plugin.normalize_score if isinstance(plugin, NormalizeScorePlugin) else None
                )
                self._scorers.append((plugin, config.weight, normalize))
            if isinstance(plugin, PreBindPlugin):
                self.pre_bind.append(plugin)
        for plugin in self.plugins.values():
            # Plugins that need the framework itself (preemption re-runs the filters).
            hook = getattr(plugin, "set_framework", None)
            if hook is not None:
                hook(self)

    @property
    def scheduler_name(self) -> str:
        return self.profile.scheduler_name

    def run_pre_enqueue(self, pod: Mapping[str, Any]) -> Status | None:
        for plugin in self.pre_enqueue:
            status = plugin.pre_enqueue(pod)
            if status is not None and not status.is_success():
                return status.with_plugin(plugin.name)
        return None

    def run_pre_filter(self, state: CycleState, pod: PodInfo, snapshot: Snapshot) -> Status | None:
        """Run PreFilter plugins; the first rejection (or error) is returned."""
        for plugin in self.pre_filter:
            status = plugin.pre_filter(state, pod, snapshot)
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.SKIP:
                state.skip_filter.add(plugin.name)
                continue
            return status.with_plugin(plugin.name)
        return None

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Run Filter plugins in order; stop at the first that rejects the node."""
        skip = state.skip_filter
        for plugin in self.filter:
            if skip and plugin.name in skip:
                continue
            status = plugin.filter(state, pod, node)
            if status is not None:
                return status
        return None

    def run_filters_with_nominated(
        self, state: CycleState, pod: PodInfo, node: NodeInfo, snapshot: Snapshot
    ) -> Status | None:
        """Filter as if pods nominated to `node` with priority >= pod's already ran there.

        Upstream `RunFilterPluginsWithNominatedPods`: a node that only fits because a
        preemptor's room is still empty must not be taken by a pod of lower priority.
        """
        nominated = [
            p
            for p, node_name in snapshot.nominated.values()
            if node_name == node.name and p.uid != pod.uid and p.priority >= pod.priority
        ]
        if not nominated:
            return self.run_filters(state, pod, node)
        added = [p for p in nominated if p.uid not in node.pods]
        for p in added:
            node.add_pod(p)
        try:
            status = self.run_filters(state, pod, node)
        finally:
            for p in added:
                node.remove_pod(p.uid)
        if status is not None:
            return status
        return self.run_filters(state, pod, node)

    def run_pre_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], snapshot: Snapshot
    ) -> None:
        for plugin in self.pre_score:
            status = plugin.pre_score(state, pod, nodes, snapshot)
            if status is not None and status.code == Code.SKIP:
                state.skip_score.add(plugin.name)
            elif status is not None and not status.is_success():
                raise RuntimeError(f"{plugin.name} PreScore: {status.message}")

    def run_score(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[list[int], dict[str, list[int]]]:
        """Weighted total per node, and each plugin's normalised (unweighted) scores."""
        totals = [0] * len(nodes)
        per_plugin: dict[str, list[int]] = {}
        skip = state.skip_score
        for plugin, weight, normalize in self._scorers:
            if plugin.name in skip:
                continue
            scorer = plugin.score
            scores = [scorer(state, pod, node) for node in nodes]
            if normalize is not None:
                normalize(state, pod, scores)
            if scores and (min(scores) < MIN_NODE_SCORE or max(scores) > MAX_NODE_SCORE):
                bad = next(s for s in scores if s < MIN_NODE_SCORE or s > MAX_NODE_SCORE)
                raise RuntimeError(
                    f"plugin {plugin.name} returns an invalid score {bad}, it should "
                    f"in the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing"
                )
            per_plugin[plugin.name] = scores
            totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals, per_plugin


def default_normalize_score(scores: list[int], reverse: bool = False) -> None:
    """Scale scores so the highest becomes MAX_NODE_SCORE (upstream helper
    `DefaultNormalizeScore`); with `reverse`, the highest raw score becomes 0."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            for i in range(len(scores)):
                scores[i] = MAX_NODE_SCORE
        return
    for i, score in enumerate(scores):
        scaled = MAX_NODE_SCORE * score // highest
        scores[i] = MAX_NODE_SCORE - scaled if reverse else scaled
