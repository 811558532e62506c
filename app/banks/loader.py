"""Read content YAML while remembering the line of every node.

`load_document(path)` returns the plain Python data (what `yaml.safe_load` gives) and a
map from each node's path (a tuple of mapping keys and list indexes) to its 1-based line,
so a schema error on `questions[3].options[1].correct` can be reported as `file:line`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from app.sim.machinery.safe_yaml import YamlLimits, compose_yaml, error_line, error_message

# Content files are small and hand-written: the simulator's parsing limits suit them.
CONTENT_YAML_LIMITS = YamlLimits()

NodePath = tuple[Any, ...]

# Key under which the line of a mapping *key* (rather than its value) is stored; an
# "Unknown field" error points at the key.
KEY_MARK = "\0key"


@dataclass(frozen=True)
class Issue:
    """One problem found in a content file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Document:
    """A parsed YAML file and the line of each of its nodes."""

    path: Path
    display: str
    data: Any
    lines: dict[NodePath, int] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def line_of(self, node_path: NodePath) -> int:
        """Line of the node at `node_path`, or of its nearest ancestor that exists.

        A missing field has no node of its own; its parent mapping's line is the best
        place to point at.
        """
        candidate = tuple(node_path)
        while candidate:
            if candidate in self.lines:
                return self.lines[candidate]
            candidate = candidate[:-1]
        return self.lines.get((), 1)

    def key_line_of(self, node_path: NodePath) -> int:
        """Line of the mapping key that names `node_path` (falls back to `line_of`)."""
        return self.lines.get((*node_path, KEY_MARK)) or self.line_of(node_path)


class ContentLoadError(Exception):
    """A file could not be read or parsed as YAML; `issue` names the file and line."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(str(issue))
        self.issue = issue


def _walk(
    loader: yaml.SafeLoader, node: yaml.Node, data: Any, here: NodePath, doc: Document
) -> None:
    doc.lines[here] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                # PyYAML keeps the last value silently; an author almost always meant
                # something else, so report both places.
                doc.issues.append(
                    Issue(doc.display, line, f"duplicate key {key!r} (first at line {seen[key]})")
                )
            seen[key] = line
            if key in data:
                doc.lines[(*here, key, KEY_MARK)] = line
                _walk(loader, value_node, data[key], (*here, key), doc)
    elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
        for index, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
            _walk(loader, item_node, item, (*here, index), doc)


def parse_text(text: str, display: str, path: Path | None = None) -> Document:
    """Parse YAML `text` (one document) reported as `display` in issues.

    Parsing is bounded (`app.sim.machinery.safe_yaml`): a document whose aliases expand
    past the limits, that nests too deeply or holds an alias to itself is refused while
    it is read, before anything walks it. Raises `ContentLoadError` with the line of the
    problem on invalid YAML, control characters (NUL, ...), those limits, or when the
    text holds more than one document.
    """
    try:
        loader, node = compose_yaml(text, CONTENT_YAML_LIMITS)
    except yaml.YAMLError as exc:
        raise _load_error(exc, text, display) from exc
    try:
        data = loader.construct_document(node) if node is not None else None
        doc = Document(path=path or Path(display), display=display, data=data)
        if node is not None:
            _walk(loader, node, data, (), doc)
    except yaml.YAMLError as exc:
        raise _load_error(exc, text, display) from exc
    finally:
        loader.dispose()
    return doc


def _load_error(exc: yaml.YAMLError, text: str, display: str) -> ContentLoadError:
    return ContentLoadError(
        Issue(display, error_line(exc, text), f"invalid YAML: {error_message(exc)}")
    )


def load_document(path: Path, display: str | None = None) -> Document:
    """Read and parse the YAML file at `path`.

    Raises `ContentLoadError` when the file cannot be read, is not UTF-8 or is not YAML.
    """
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentLoadError(Issue(shown, 1, f"cannot read file: {exc}")) from exc
    return parse_text(text, shown, path)


def iter_yaml_files(paths: list[Path]) -> Iterator[Path]:
    """Every `*.yaml`/`*.yml` file under `paths` (files given directly are kept), sorted."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(p for p in path.rglob("*.y*ml") if p.suffix in {".yaml", ".yml"})
        elif path.exists():
            found.add(path)
    yield from sorted(found)
