"""YAML parsing with limits enforced while the document is composed.

A YAML document can name a node once (`&a`) and repeat it by alias (`*a`): nine lines
of nine aliases each describe 9^9 (387 million) nodes in under 1 KB. The parse itself is
cheap, since aliases share one node, but every later walk over the data (JSON
encoding, validation, line bookkeeping) expands it. kube-apiserver met the same attack
as CVE-2019-11253 ("billion laughs"); go-yaml v2.2.8 answers it with "document contains
excessive aliasing".

`GuardedLoader` is PyYAML's safe loader (libyaml's parser when PyYAML was built with
it) whose composer counts, as events arrive, every node *as if aliases were expanded*,
the alias references, and the nesting depth (an alias counts the depth of the subtree
it repeats), and raises `YamlLimitError` the moment a limit is passed, before any
object is constructed. An alias to a node that is still being composed (`&a [*a]`, a
structure that contains itself) is refused too: nothing downstream can walk it.

Control characters (NUL and the other C0 codes but tab and line breaks), invalid UTF-8
and surrogates are refused by the reader; `load_yaml` and `compose_yaml` turn every such
problem into a `YAMLError` with a line number (see `error_line`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.events import AliasEvent
from yaml.resolver import Resolver

try:  # libyaml's parser: ~10x faster than the pure-Python one
    from yaml._yaml import CParser as _Parser

    _FEEDS_BYTES = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _BaseParser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _BaseParser):  # type: ignore[no-redef]
        def __init__(self, stream: Any) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _BaseParser.__init__(self)

    _FEEDS_BYTES = False


@dataclass(frozen=True)
class YamlLimits:
    """How large a YAML document may become once its aliases are expanded."""

    # Nodes (scalars, sequences, mappings; keys included) counted with every alias
    # expanded. The request body limit (3 MiB) holds fewer than a million written out.
    max_nodes: int = 1_000_000
    # Nodes that aliases add (each `*name` adds the size of the subtree it repeats):
    # the part of a document that costs work without costing bytes.
    max_alias_nodes: int = 100_000
    # Alias references (`*name`) in one document.
    max_aliases: int = 10_000
    # Nesting depth of collections, aliases expanded. Kubernetes objects and the
    # content files stay below 40 levels; the limit keeps every later recursive walk
    # far from Python's recursion limit.
    max_depth: int = 100


DEFAULT_LIMITS = YamlLimits()


class YamlLimitError(yaml.MarkedYAMLError):
    """The document is larger, deeper or more aliased than the limits allow, or holds
    an alias to itself; `problem_mark` points at the node where this was found."""


class _GuardedComposer(Composer):
    """Composer that counts expanded nodes, aliases and depth while composing."""

    limits: YamlLimits

    def _start_guard(self, limits: YamlLimits) -> None:
        self.limits = limits
        self._nodes = 0  # expanded node count so far
        self._aliases = 0
        self._alias_nodes = 0  # nodes added by aliases
        self._depth = 0  # depth of the node being composed (root: 1)
        self._reach = 0  # deepest level reached inside the current subtree
        # Per finished node (by id): its expanded size and height, for its aliases.
        self._size: dict[int, int] = {}
        self._height: dict[int, int] = {}

    def _refuse(self, problem: str, mark: Mark | None) -> None:
        raise YamlLimitError(None, None, problem, mark)

    def _count(self, added: int, mark: Mark | None) -> None:
        self._nodes += added
        if self._nodes > self.limits.max_nodes:
            self._refuse(
                f"document has more than {self.limits.max_nodes} nodes once its aliases "
                "are expanded",
                mark,
            )

    def _reached(self, level: int, mark: Mark | None) -> None:
        if level > self.limits.max_depth:
            self._refuse(f"document is nested more than {self.limits.max_depth} levels", mark)
        self._reach = max(self._reach, level)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._size:
                self._refuse(
                    f"alias *{event.anchor} refers to a node that contains it", event.start_mark
                )
            node = super().compose_node(parent, index)  # undefined aliases raise here
            self._aliases += 1
            if self._aliases > self.limits.max_aliases:
                self._refuse(
                    f"document has more than {self.limits.max_aliases} aliases", event.start_mark
                )
            self._alias_nodes += self._size[id(node)]
            if self._alias_nodes > self.limits.max_alias_nodes:
                self._refuse(
                    f"aliases expand to more than {self.limits.max_alias_nodes} nodes "
                    "(excessive aliasing)",
                    event.start_mark,
                )
            self._count(self._size[id(node)], event.start_mark)
            self._reached(self._depth + 1 + self._height[id(node)], event.start_mark)
            return node
        self._depth += 1
        depth = self._depth
        self._reached(depth, event.start_mark)
        saved_reach, self._reach = self._reach, depth
        start = self._nodes
        self._count(1, event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._size[id(node)] = self._nodes - start
        self._height[id(node)] = self._reach - depth
        self._reach = max(saved_reach, self._reach)
        return node


class GuardedLoader(_GuardedComposer, _Parser, SafeConstructor, Resolver):
    """PyYAML's safe loader with `YamlLimits` enforced while composing.

    Build it with `GuardedLoader(data, limits)`; `data` should be bytes (as `load_yaml`
    and `compose_yaml` pass it) so reader errors carry a byte position.
    """

    def __init__(self, stream: Any, limits: YamlLimits = DEFAULT_LIMITS) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._start_guard(limits)


def _as_stream(text: str | bytes) -> str | bytes:
    if isinstance(text, str) and _FEEDS_BYTES:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise yaml.reader.ReaderError(
                "<unicode string>", exc.start, ord(text[exc.start]), "utf-8", exc.reason
            ) from None
    return text


def compose_yaml(
    text: str | bytes, limits: YamlLimits = DEFAULT_LIMITS
) -> tuple[GuardedLoader, yaml.Node | None]:
    """Compose the single document in `text` within `limits`: (loader, root node).

    The caller constructs with `loader.construct_document(node)` and disposes of the
    loader. Raises `yaml.YAMLError` (`YamlLimitError` past a limit).
    """
    stream = _as_stream(text)
    loader = GuardedLoader(stream, limits)
    try:
        return loader, loader.get_single_node()
    except BaseException:
        loader.dispose()
        raise


def load_yaml(text: str | bytes, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """`yaml.safe_load` of one document, within `limits`.

    Raises `yaml.YAMLError`: `YamlLimitError` past a limit or for a self-referencing
    alias, `ReaderError` for control characters or invalid UTF-8, `MarkedYAMLError`
    for syntax errors.
    """
    loader, node = compose_yaml(text, limits)
    try:
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def error_line(exc: yaml.YAMLError, text: str | bytes) -> int:
    """The 1-based line a YAML error points at (1 when it names none)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1
    position = getattr(exc, "position", None)
    if isinstance(position, int) and position >= 0:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        if isinstance(exc, yaml.reader.ReaderError) and exc.name == "<unicode string>":
            return text[:position].count("\n") + 1 if isinstance(text, str) else 1
        return data[:position].count(b"\n") + 1
    return 1


def error_message(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML error, without PyYAML's position lines."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or "invalid YAML"
        return f"{problem} ({exc.context})" if exc.context else problem
    return str(exc).splitlines()[0] if str(exc) else "invalid YAML"
