"""The browser terminal of the lab console and of the mock exam's attempt page: a
WebSocket at `/api/v1/lab-sessions/<id>/terminal` onto the session's learner
workstation, or at `/api/v1/exam-attempts/<id>/terminal` onto the attempt's
(`app.workstation`: kubectl with the attempt's kubeconfig and every context, ssh into
the current context's nodes), never a shell of the host.

The connection is checked before the WebSocket handshake, as an API request: a bearer
token, or the browser session cookie plus the page's CSRF token in the `csrf` query
parameter (and, from a browser, an `Origin` of this site); the session must be visible
to the account (`lab_sessions.get_session`: another learner gets 404) and usable (409
while provisioning or after it ended); an exam attempt opens only for its candidate
(another learner gets 404, a trainer 403) while it runs (409 before its clusters are
ready, after submit and past the deadline). Errors are the API's JSON errors.

Messages are JSON text frames. From the browser: `{"t": "line", "d": TEXT}` (run a
command line), `{"t": "complete", "d": TEXT}` (Tab), `{"t": "int"}` (Ctrl-C),
`{"t": "resize", "cols", "rows"}`, `{"t": "save", "id", "content"}` (the editor saves
the file `vi` opened), `{"t": "ping"}`. From the server: `hello` (prompt, history, the
end of the earlier output for a reconnect, nodes), `out` (text), `prompt`, `edit`
(a file to open in the editor), `saved`, `complete`, `busy`, `pong` and `bye` (why the
server closes: idle, taken over by another tab, session ended).

The workstation's state is kept in `lab_workstations` (`exam_workstations` for an
attempt: with the current context and each context's namespace) after every command, so a
dropped connection reconnects to the same folder, cwd, variables, history and node
shell. One connection holds a workstation: a newer one takes over and the older one
closes. Each open terminal holds one web worker thread for its lifetime (see
docs/web.md, "The browser terminal").
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, request
from flask_sock import Sock
from sqlalchemy import select, update

from app.api.common import authenticate_request, bearer_token
from app.clock import now
from app.extensions import db
from app.models.workstation import ExamWorkstation, LabWorkstation
from app.services import exam_attempts, lab_sessions
from app.services.errors import Forbidden, ServiceError
from app.services.labs import node_names
from app.workstation import Workstation, complete
from app.workstation.cluster import (
    ClusterAccess,
    ClusterUnavailable,
    ContextClusters,
    SessionCluster,
)
from app.workstation.files import FileError

bp = Blueprint("terminal", __name__)
sock = Sock()

PATH = "/api/v1/lab-sessions/<int:session_id>/terminal"
EXAM_PATH = "/api/v1/exam-attempts/<int:attempt_id>/terminal"
TAKEN = "The terminal was opened in another tab or window."
SCREEN_BYTES = 16 * 1024
MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULTS = {
    # Seconds without input before the server closes the terminal.
    "CERTPREP_TERMINAL_IDLE_SECONDS": 15 * 60,
    # Output sent to one terminal: bytes per second and burst.
    "CERTPREP_TERMINAL_OUTPUT_RATE": 256 * 1024,
    "CERTPREP_TERMINAL_OUTPUT_BURST": 512 * 1024,
    # Command lines and Tab presses per second (burst of twice as many).
    "CERTPREP_TERMINAL_INPUT_RATE": 20,
    # Seconds kubectl may run for one command.
    "CERTPREP_TERMINAL_KUBECTL_TIMEOUT": 30,
}


def setting(name: str) -> float:
    return float(lab_sessions.setting(name, DEFAULTS[name]))


@bp.record_once
def _configure(state: Any) -> None:
    app: Flask = state.app
    options = app.config.setdefault("SOCK_SERVER_OPTIONS", {})
    options.setdefault("ping_interval", 25)
    options.setdefault("max_message_size", MAX_MESSAGE_BYTES)


# ----------------------------------------------------------------- before the handshake


@dataclass
class Target:
    """What a connection opens: a lab session's workstation (`kind` "lab", `key` the
    session id) or an exam attempt's ("exam", the attempt id)."""

    user_id: int
    kind: str
    key: int
    provider: Any
    kubeconfig: str
    # Lab: the session's handle; exam: {context: handle}.
    handle: Any
    # Lab: the node names; exam: {context: node names}.
    nodes: Any

    def cluster(self, timeout: float) -> ClusterAccess:
        if self.kind == "exam":
            return ContextClusters(
                self.provider, self.handle, self.kubeconfig, self.nodes, timeout=timeout
            )
        return SessionCluster(
            self.provider, self.handle, self.kubeconfig, self.nodes, timeout=timeout
        )

    @property
    def table(self) -> tuple[Any, Any]:
        """The workstation rows' model and key column."""
        if self.kind == "exam":
            return ExamWorkstation, ExamWorkstation.attempt_id
        return LabWorkstation, LabWorkstation.session_id


@bp.before_request
def _authorize() -> None:
    """Authenticate and find the session before the WebSocket handshake: failures are
    the API's JSON errors (401, 403, 404, 409)."""
    from app.web.session import csrf_matches, has_web_session

    if bearer_token() is None and has_web_session():
        if not csrf_matches(request.args.get("csrf")):
            raise Forbidden("Open the terminal from the lab console (its CSRF token is missing).")
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            raise Forbidden("The terminal opens only from this site's pages.")
    record = authenticate_request()
    args = request.view_args or {}
    if "attempt_id" in args:
        g.terminal_target = _exam_target(record.user, int(args["attempt_id"]))
    else:
        session = lab_sessions.usable_session(record.user, int(args.get("session_id", 0)))
        g.terminal_target = Target(
            user_id=record.user.id,
            kind="lab",
            key=session.id,
            provider=lab_sessions.provider_of(session),
            kubeconfig=session.kubeconfig or "",
            handle=lab_sessions.handle_of(session),
            nodes=node_names(session.lab),
        )
    db.session.commit()


def _exam_target(user: Any, attempt_id: int) -> Target:
    from app.clusters import ClusterHandle, ProviderError, provider_for
    from app.services.errors import Unavailable

    attempt = exam_attempts.terminal_attempt(user, attempt_id)
    try:
        provider = provider_for(attempt.provider)
    except ProviderError as exc:
        raise Unavailable(str(exc)) from exc
    return Target(
        user_id=user.id,
        kind="exam",
        key=attempt.id,
        provider=provider,
        kubeconfig=attempt.kubeconfig or "",
        handle={c: ClusterHandle.from_dict(h) for c, h in (attempt.clusters or {}).items()},
        nodes=exam_attempts.context_nodes(attempt),
    )


# -------------------------------------------------------------------- the connection


class Bucket:
    """A token bucket: `take(n)` waits (sleeping) until `n` units are allowed."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self.level = burst
        self.clock = clock
        self.stamp = clock()

    def _refill(self) -> None:
        moment = self.clock()
        self.level = min(self.burst, self.level + (moment - self.stamp) * self.rate)
        self.stamp = moment

    def allow(self, amount: float = 1) -> bool:
        self._refill()
        if self.level >= amount:
            self.level -= amount
            return True
        return False

    def wait(self, amount: float) -> None:
        self._refill()
        self.level -= amount
        if self.level < 0:
            time.sleep(-self.level / self.rate)


# Live connections of this process: (kind, session or attempt id) -> (connection id,
# taken-over event).
_live: dict[tuple[str, int], tuple[str, threading.Event]] = {}
_live_lock = threading.Lock()


@dataclass
class Terminal:
    ws: Any
    target: Target
    connection: str
    workstation: Workstation
    screen: str
    editing: dict[str, Any] | None
    taken: threading.Event
    output: Bucket
    lines: Bucket
    last_input: float = field(default_factory=time.monotonic)

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def write(self, text: str) -> None:
        """Terminal output (LF becomes CRLF), sent at the output rate in 16 KiB parts."""
        if not text:
            return
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        self.screen = (self.screen + text)[-SCREEN_BYTES:]
        for start in range(0, len(text), 16 * 1024):
            part = text[start : start + 16 * 1024]
            self.output.wait(len(part.encode()))
            self.send({"t": "out", "d": part})

    def prompt(self) -> None:
        prompt = self.workstation.prompt()
        self.screen = (self.screen + prompt)[-SCREEN_BYTES:]
        self.send({"t": "prompt", "p": prompt})

    def save_state(self) -> bool:
        """Store the workstation; False when another connection took it over."""
        state = self.workstation.to_state()
        state["editing"] = self.editing
        model, key = self.target.table
        result = db.session.execute(
            update(model)
            .where(key == self.target.key, model.connection == self.connection)
            .values(state=state, screen=self.screen, updated_at=now())
        )
        db.session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _claim(target: Target, connection: str) -> Any:
    """The workstation row, created on first use, now held by `connection`."""
    model, key = target.table
    row = db.session.get(model, target.key)
    if row is None:
        row = model(**{key.key: target.key}, state={}, screen="")
        db.session.add(row)
        db.session.flush()
    row.connection = connection
    row.updated_at = now()
    db.session.commit()
    return row


def _still_usable(target: Target) -> str | None:
    """Why the session's terminal must close now, or None."""
    from app.models.user import User

    user = db.session.get(User, target.user_id)
    try:
        if user is None or not user.is_active:
            return "Your account is no longer active."
        if target.kind == "exam":
            exam_attempts.terminal_attempt(user, target.key)
        else:
            lab_sessions.usable_session(user, target.key)
    except ServiceError as exc:
        return exc.message
    finally:
        db.session.commit()
    return None


@bp.route(PATH, methods=["GET"])
@bp.route(EXAM_PATH, methods=["GET"])
def terminal_http(**ids: int) -> Any:
    """The terminal's URL opened without a WebSocket upgrade (after the same checks)."""
    from app.errors import error_response

    page = "exam attempt" if "attempt_id" in ids else "lab console"
    return error_response(
        426,
        f"Open the terminal with a WebSocket (from the {page} page).",
        headers={"Upgrade": "websocket"},
    )


@sock.route(PATH, bp=bp)
def terminal(ws: Any, session_id: int) -> None:
    _open(ws, g.terminal_target)


@sock.route(EXAM_PATH, bp=bp)
def exam_terminal(ws: Any, attempt_id: int) -> None:
    _open(ws, g.terminal_target)


def _tab_id() -> str:
    """The page's own id (`tab`: 16 hex digits, set once per page load by terminal.js),
    or ''. The connection id is `TAB.RANDOM` within the column's 32 characters."""
    tab = request.args.get("tab", "")
    return tab if len(tab) == 16 and all(c in "0123456789abcdef" for c in tab) else ""


def _resume_refused(target: Target, tab: str) -> bool:
    """A page reconnecting by itself (`resume=1`) after its connection dropped gets the
    workstation back only if no other page took it meanwhile: a take-over whose goodbye
    was lost with the dropped connection must not be undone by the reconnect."""
    if request.args.get("resume") != "1" or not tab:
        return False
    model, key = target.table
    holder = db.session.scalar(select(model.connection).where(key == target.key))
    db.session.commit()
    return holder is not None and holder != "" and not holder.startswith(f"{tab}.")


def _refuse_resume(ws: Any) -> None:
    ws.send(json.dumps({"t": "out", "d": f"\r\n{TAKEN}\r\n"}))
    ws.send(json.dumps({"t": "bye", "reason": "taken", "message": TAKEN}))
    ws.close(reason=1000, message="taken")


def _open(ws: Any, target: Target) -> None:
    tab = _tab_id()
    if _resume_refused(target, tab):
        _refuse_resume(ws)
        db.session.remove()
        return
    connection = f"{tab}.{secrets.token_hex(7)}" if tab else secrets.token_hex(16)
    row = _claim(target, connection)
    taken = threading.Event()
    live_key = (target.kind, target.key)
    with _live_lock:
        previous = _live.get(live_key)
        if previous is not None:
            previous[1].set()
        _live[live_key] = (connection, taken)
    cluster = target.cluster(setting("CERTPREP_TERMINAL_KUBECTL_TIMEOUT"))
    state = dict(row.state or {})
    term = Terminal(
        ws=ws,
        target=target,
        connection=connection,
        workstation=Workstation(state, cluster),
        screen=row.screen or "",
        editing=state.get("editing"),
        taken=taken,
        output=Bucket(
            setting("CERTPREP_TERMINAL_OUTPUT_RATE"), setting("CERTPREP_TERMINAL_OUTPUT_BURST")
        ),
        lines=Bucket(
            setting("CERTPREP_TERMINAL_INPUT_RATE"), 2 * setting("CERTPREP_TERMINAL_INPUT_RATE")
        ),
    )
    db.session.commit()
    try:
        _serve(term)
    finally:
        with _live_lock:
            if _live.get(live_key, ("",))[0] == connection:
                del _live[live_key]
        db.session.remove()


def _hello(term: Terminal) -> None:
    ws = term.workstation
    first = not term.screen
    hello: dict[str, Any] = {
        "t": "hello",
        "screen": term.screen,
        "history": ws.history[-200:],
        "nodes": ws.cluster.nodes if ws.cluster else [],
        "editing": term.editing,
    }
    contexts = getattr(ws.cluster, "contexts", None)
    if contexts is not None:
        hello["contexts"] = contexts
        hello["context"] = getattr(ws.cluster, "context", None)
    term.send(hello)
    if first:
        term.write(_greeting(term.target, contexts))
    else:
        term.write("\n[reconnected]\n")
    term.prompt()


def _greeting(target: Target, contexts: list[str] | None) -> str:
    if target.kind == "exam":
        return (
            "Exam workstation: kubectl (alias k) uses your exam kubeconfig with the "
            f"contexts {', '.join(contexts or [])}; switch with kubectl config "
            "use-context NAME as each task says. ssh NODE opens a node of the current "
            "context's cluster; vi FILE opens the editor; help lists commands.\n"
        )
    return (
        "Lab workstation: kubectl (alias k) talks to your lab cluster; "
        "ssh NODE opens a node's shell; vi FILE opens the editor; help lists commands.\n"
    )


def _serve(term: Terminal) -> None:
    idle = setting("CERTPREP_TERMINAL_IDLE_SECONDS")
    _hello(term)
    term.save_state()
    # Idle time counts from when the workstation is ready (a slow start is not the
    # learner's silence).
    term.last_input = time.monotonic()
    next_check = time.monotonic() + 30
    while True:
        if time.monotonic() > next_check:
            next_check = time.monotonic() + 30
            if _closing(term, idle, check_session=True):
                return
        elif _closing(term, idle, check_session=False):
            return
        raw = term.ws.receive(timeout=1.0)
        message = None if raw is None else _parse(raw)
        if message is None:
            continue
        term.last_input = time.monotonic()
        if not _dispatch(term, message):
            return


def _closing(term: Terminal, idle: float, *, check_session: bool) -> bool:
    """Say goodbye and return True when the terminal must close now."""
    if term.taken.is_set():
        _bye(term, "taken", TAKEN)
        return True
    if time.monotonic() - term.last_input > idle:
        _bye(term, "idle", f"Closed after {int(idle // 60)} minutes without input.")
        return True
    if check_session and _held_elsewhere(term):
        # Taken over by a connection that another web worker process serves.
        _bye(term, "taken", TAKEN)
        return True
    reason = _still_usable(term.target) if check_session else None
    if reason:
        _bye(term, "ended", reason)
        return True
    return False


def _held_elsewhere(term: Terminal) -> bool:
    model, key = term.target.table
    holder = db.session.scalar(select(model.connection).where(key == term.target.key))
    db.session.commit()
    return holder != term.connection


def _dispatch(term: Terminal, message: dict[str, Any]) -> bool:
    """Handle one message from the browser; False when the terminal closed."""
    kind = message.get("t")
    if kind == "ping":
        term.send({"t": "pong"})
    elif kind == "resize":
        _resize(term, message)
    elif kind == "int":
        term.write("^C\n")
        term.prompt()
    elif kind in ("line", "complete"):
        if not term.lines.allow():
            term.send({"t": "busy", "message": "Too many commands at once; slow down."})
            if kind == "line":
                term.prompt()
        elif kind == "complete":
            _complete(term, str(message.get("d", ""))[:4096])
        else:
            if _closing(term, float("inf"), check_session=True):
                return False
            _run_line(term, str(message.get("d", "")))
            # Idle time counts from the end of the command, not from Enter.
            term.last_input = time.monotonic()
            return _saved(term)
    elif kind == "save":
        _save(term, message)
        return _saved(term)
    return True


def _saved(term: Terminal) -> bool:
    if term.save_state():
        return True
    _bye(term, "taken", TAKEN)
    return False


def _parse(raw: Any) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None


def _bye(term: Terminal, reason: str, text: str) -> None:
    term.save_state()
    term.write(f"\n{text}\n")
    term.send({"t": "bye", "reason": reason, "message": text})
    term.ws.close(reason=1000, message=reason)


def _resize(term: Terminal, message: dict[str, Any]) -> None:
    try:
        cols = max(20, min(500, int(message.get("cols", 80))))
        rows = max(5, min(200, int(message.get("rows", 24))))
    except (TypeError, ValueError):
        return
    term.workstation.env["COLUMNS"] = str(cols)
    term.workstation.env["LINES"] = str(rows)


def _complete(term: Terminal, line: str) -> None:
    try:
        new_line, matches = complete(term.workstation, line)
    except ClusterUnavailable:
        new_line, matches = line, []
    term.send({"t": "complete", "line": new_line, "matches": matches})


def _run_line(term: Terminal, line: str) -> None:
    """Run the line in a thread so that Ctrl-C can stop a running kubectl; input other
    than Ctrl-C and resize waits until the command is done."""
    # The browser echoes what is typed; the screen kept for a reconnect needs it too.
    term.screen = (term.screen + line[:4096] + "\r\n")[-SCREEN_BYTES:]
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = term.workstation.run(line)
        except ClusterUnavailable as exc:
            outcome["error"] = f"The cluster did not answer: {exc}\n"
        except Exception as exc:  # a bug must not take the terminal down
            current_app.logger.exception("terminal command failed")
            outcome["error"] = f"bash: internal error ({type(exc).__name__})\n"

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def in_context() -> None:
        with app.app_context():
            work()

    worker = threading.Thread(target=in_context, name="terminal-command", daemon=True)
    worker.start()
    while worker.is_alive():
        raw = term.ws.receive(timeout=0.05)
        if raw is None:
            continue
        message = _parse(raw) or {}
        if message.get("t") == "int":
            term.workstation.cluster.cancel()  # type: ignore[union-attr]
        elif message.get("t") == "resize":
            _resize(term, message)
        elif message.get("t") == "ping":
            term.send({"t": "pong"})
    worker.join()
    result = outcome.get("result")
    if result is None:
        term.write(outcome.get("error", ""))
    else:
        term.write(result.stdout + result.stderr)
        edit = term.workstation.edit
        if edit is not None:
            term.editing = {
                "id": secrets.token_hex(8),
                "node": edit.node,
                "path": edit.path,
            }
            context = getattr(term.workstation.cluster, "context", None)
            if edit.node and context:
                # A node's file belongs to one context's cluster (node names repeat).
                term.editing["context"] = context
            where = f"{edit.node}:" if edit.node else ""
            term.write(
                f'"{where}{edit.path}" {"opened" if edit.exists else "[New]"} in the editor; '
                "save there to write it back.\n"
            )
            term.send({"t": "edit", **term.editing, "content": edit.content})
    term.prompt()


def _save(term: Terminal, message: dict[str, Any]) -> None:
    """Save the editor's text to the file `vi` opened (only that file: the browser
    names the edit by its id, never by a path)."""
    editing = term.editing
    content = message.get("content")
    if not editing or message.get("id") != editing.get("id") or not isinstance(content, str):
        term.send({"t": "saved", "ok": False, "message": "Open a file with vi FILE first."})
        return
    context = getattr(term.workstation.cluster, "context", None)
    if editing.get("context") and editing["context"] != context:
        refusal = (
            f"Not saved: the file is on {editing['node']} of context {editing['context']}; "
            f"switch back with kubectl config use-context {editing['context']}."
        )
        term.send({"t": "saved", "ok": False, "message": refusal})
        return
    try:
        path = term.workstation.save(editing["node"], editing["path"], content)
    except (FileError, ClusterUnavailable) as exc:
        term.send({"t": "saved", "ok": False, "message": f"Not saved: {exc}"})
        return
    size = len(content.encode())
    where = f"{editing['node']}:" if editing["node"] else ""
    term.send({"t": "saved", "ok": True, "path": path, "node": editing["node"], "size": size})
    term.write(f'\n"{where}{path}" {content.count(chr(10))}L, {size}B written\n')
    term.prompt()


def workstation_state(session_id: int, kind: str = "lab") -> dict[str, Any] | None:
    """The stored state of a session's (or, `kind="exam"`, an attempt's) workstation
    (for tests and support)."""
    row: ExamWorkstation | LabWorkstation | None
    if kind == "exam":
        row = db.session.get(ExamWorkstation, session_id)
    else:
        row = db.session.get(LabWorkstation, session_id)
    return None if row is None else dict(row.state or {})
