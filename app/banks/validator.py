"""Load and check content files: every problem becomes an `Issue` with file and line.

`load_content(paths)` reads every YAML file under `paths`, validates each against the
schema its `spec:` names, then runs the checks that span files: duplicate question ids,
bank slugs and quiz slugs (naming both places) and blueprints that draw more questions
than match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError, fields
from marshmallow.schema import Schema

from app.banks.draw import DrawShortfall, plan_draw
from app.banks.loader import (
    ContentLoadError,
    Document,
    Issue,
    NodePath,
    iter_yaml_files,
    load_document,
)
from app.banks.schemas import (
    QUESTIONS_SPEC,
    QUIZZES_SPEC,
    BankFileSchema,
    QuestionField,
    QuizFileSchema,
    QuizSchema,
)

MISSING_MESSAGE = "Missing data for required field."
UNKNOWN_MESSAGE = "Unknown field."


@dataclass
class LoadedQuestion:
    """A valid question and where it was written."""

    bank: str
    data: dict[str, Any]
    file: str
    line: int

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes a blueprint selects on, plus the id."""
        return {
            "id": self.data["id"],
            "bank": self.bank,
            **{
                k: self.data[k]
                for k in ("type", "section", "domain", "topic", "difficulty", "track")
            },
        }


@dataclass
class LoadedBank:
    slug: str
    title: str
    description: str
    file: str
    line: int
    # False when the bank's own fields are invalid: its valid questions still take part
    # in the cross-file checks, but it is never imported.
    importable: bool = True
    questions: list[LoadedQuestion] = field(default_factory=list)
    # (id, line) of every question that names an id, valid or not: a duplicate id is
    # reported even while one of the two copies has other errors.
    declared_ids: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class LoadedQuiz:
    data: dict[str, Any]
    file: str
    line: int
    draw_lines: list[int] = field(default_factory=list)


@dataclass
class ContentSet:
    """Everything read from a set of paths, and every problem found in it."""

    banks: list[LoadedBank] = field(default_factory=list)
    quizzes: list[LoadedQuiz] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def questions(self) -> list[LoadedQuestion]:
        return [q for bank in self.banks for q in bank.questions]

    @property
    def ok(self) -> bool:
        return not self.issues


# Other content kinds (labs) may register a checker for their `spec:` value; it receives
# the parsed document and the content set and appends issues.
SpecChecker = Callable[[Document, ContentSet], None]
SPEC_CHECKERS: dict[str, SpecChecker] = {}


def register_spec(spec: str, checker: SpecChecker) -> None:
    """Register the checker for files whose `spec:` is `spec`; a second one is refused."""
    if spec in SPEC_CHECKERS or spec in (QUESTIONS_SPEC, QUIZZES_SPEC):
        raise ValueError(f"a checker for spec {spec!r} is already registered")
    SPEC_CHECKERS[spec] = checker


def flatten_errors(messages: Any, prefix: NodePath = ()) -> list[tuple[NodePath, str]]:
    """Turn marshmallow's nested error messages into (node path, message) pairs."""
    flat: list[tuple[NodePath, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            here = prefix if key == "_schema" else (*prefix, key)
            flat.extend(flatten_errors(value, here))
    elif isinstance(messages, list | tuple):
        for value in messages:
            flat.extend(flatten_errors(value, prefix))
    else:
        flat.append((prefix, str(messages)))
    return flat


def issues_from_errors(doc: Document, messages: Any, prefix: NodePath = ()) -> list[Issue]:
    """Map schema errors to the line of the offending node in `doc`."""
    issues = []
    for node_path, message in flatten_errors(messages, prefix):
        name = "".join(_display_part(p) for p in node_path).lstrip(".") or "(file)"
        if message == UNKNOWN_MESSAGE:
            line = doc.key_line_of(node_path)
            text = f"{name}: unknown field"
        elif message == MISSING_MESSAGE:
            line = doc.line_of(node_path[:-1])
            text = f"{name}: missing required field"
        else:
            # The key line: for a list or a block scalar the value starts a line later.
            line = doc.key_line_of(node_path)
            text = f"{name}: {message}"
        issues.append(Issue(doc.display, line, text))
    return issues


def _display_part(part: Any) -> str:
    return f"[{part}]" if isinstance(part, int) else f".{part}"


class _BankShellSchema(BankFileSchema):
    """The bank file with its questions left raw, so each is validated on its own."""

    questions = fields.List(fields.Raw(), required=True)


class _QuizShellSchema(QuizFileSchema):
    """The blueprint file with its quizzes left raw, so each is validated on its own."""

    quizzes = fields.List(fields.Raw(), required=True)


def _load_each(
    doc: Document, content: ContentSet, key: str, schema: Schema | fields.Field
) -> list[tuple[int, dict[str, Any]]]:
    """Validate each item of the list under `key` on its own; return the valid ones."""
    raw_items = doc.data.get(key)
    valid: list[tuple[int, dict[str, Any]]] = []
    if not isinstance(raw_items, list):
        return valid
    for index, raw in enumerate(raw_items):
        try:
            if isinstance(schema, fields.Field):
                item = schema.deserialize(raw)
            else:
                item = schema.load(raw)
        except ValidationError as exc:
            content.issues.extend(issues_from_errors(doc, exc.messages, (key, index)))
            continue
        valid.append((index, item))
    return valid


def _check_bank(doc: Document, content: ContentSet) -> None:
    try:
        shell = _BankShellSchema().load(doc.data)
    except ValidationError as exc:
        content.issues.extend(issues_from_errors(doc, exc.messages))
        shell = None
    bank = LoadedBank(
        slug=shell["bank"] if shell else str(doc.data.get("bank", "?")),
        title=shell["title"] if shell else "",
        description=shell["description"] if shell else "",
        file=doc.display,
        line=doc.line_of(("bank",)),
        importable=shell is not None,
    )
    raw_questions = doc.data.get("questions")
    for index, raw in enumerate(raw_questions if isinstance(raw_questions, list) else []):
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            bank.declared_ids.append((raw["id"], doc.line_of(("questions", index, "id"))))
    for index, question in _load_each(doc, content, "questions", QuestionField()):
        bank.questions.append(
            LoadedQuestion(bank.slug, question, doc.display, doc.line_of(("questions", index)))
        )
    content.banks.append(bank)


def _check_quizzes(doc: Document, content: ContentSet) -> None:
    try:
        _QuizShellSchema().load(doc.data)
    except ValidationError as exc:
        content.issues.extend(issues_from_errors(doc, exc.messages))
    for index, quiz in _load_each(doc, content, "quizzes", QuizSchema()):
        draw_lines = [doc.line_of(("quizzes", index, "draw", i)) for i in range(len(quiz["draw"]))]
        content.quizzes.append(
            LoadedQuiz(quiz, doc.display, doc.line_of(("quizzes", index)), draw_lines)
        )


def _check_document(doc: Document, content: ContentSet) -> None:
    content.issues.extend(doc.issues)
    if not isinstance(doc.data, dict):
        content.issues.append(Issue(doc.display, 1, "a content file must be a YAML mapping"))
        return
    spec = doc.data.get("spec")
    if spec == QUESTIONS_SPEC:
        _check_bank(doc, content)
    elif spec == QUIZZES_SPEC:
        _check_quizzes(doc, content)
    elif spec in SPEC_CHECKERS:
        SPEC_CHECKERS[spec](doc, content)
    else:
        known = ", ".join([QUESTIONS_SPEC, QUIZZES_SPEC, *SPEC_CHECKERS])
        line = doc.line_of(("spec",)) if "spec" in doc.data else 1
        what = f"unknown spec {spec!r}" if "spec" in doc.data else "missing spec"
        content.issues.append(Issue(doc.display, line, f"{what}; expected one of: {known}"))


def _check_duplicates(content: ContentSet) -> None:
    def report(kind: str, entries: Iterable[tuple[str, str, int]]) -> None:
        first: dict[str, tuple[str, int]] = {}
        for key, file, line in entries:
            if key in first:
                other_file, other_line = first[key]
                content.issues.append(
                    Issue(
                        file, line, f"duplicate {kind} {key!r}: also at {other_file}:{other_line}"
                    )
                )
            else:
                first[key] = (file, line)

    report(
        "question id",
        ((qid, bank.file, line) for bank in content.banks for qid, line in bank.declared_ids),
    )
    report("bank", ((b.slug, b.file, b.line) for b in content.banks if b.importable))
    report("quiz slug", ((q.data["slug"], q.file, q.line) for q in content.quizzes))


def _check_blueprints(content: ContentSet) -> None:
    pool = [q.attributes for q in content.questions]
    for quiz in content.quizzes:
        try:
            plan_draw(pool, quiz.data["draw"])
        except DrawShortfall as exc:
            line = quiz.draw_lines[exc.step.rule] if quiz.draw_lines else quiz.line
            content.issues.append(
                Issue(
                    quiz.file,
                    line,
                    f"quiz {quiz.data['slug']!r}: draw rule {exc.step.rule + 1} {exc}",
                )
            )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_content(paths: Iterable[Path | str]) -> ContentSet:
    """Read and check every YAML file under `paths` (files or directories).

    Quiz blueprints are checked against the questions found; when `paths` name no bank,
    the banks beside the blueprint folder (`questions/*.yaml` for
    `questions/quizzes/x.yaml`) are read for that check. Never raises for bad content:
    problems are in `ContentSet.issues`.
    """
    given = [Path(p) for p in paths]
    content = ContentSet()
    for path in given:
        if not path.exists():
            content.issues.append(Issue(str(path), 1, "no such file or directory"))
    for path in iter_yaml_files(given):
        display = _display(path)
        content.files.append(display)
        try:
            doc = load_document(path, display)
        except ContentLoadError as exc:
            content.issues.append(exc.issue)
            continue
        _check_document(doc, content)
    if content.quizzes and not content.banks:
        _load_sibling_banks(content)
    _check_duplicates(content)
    _check_blueprints(content)
    content.issues.sort(key=lambda i: (i.file, i.line, i.message))
    return content


def _load_sibling_banks(content: ContentSet) -> None:
    folders = {Path(q.file).resolve().parent.parent for q in content.quizzes}
    side = ContentSet()
    for folder in sorted(folders):
        for path in sorted(folder.glob("*.yaml")):
            try:
                doc = load_document(path, _display(path))
            except ContentLoadError:
                continue
            if isinstance(doc.data, dict) and doc.data.get("spec") == QUESTIONS_SPEC:
                _check_bank(doc, side)
    content.banks.extend(b for b in side.banks)
