"""The learner workstation of the browser terminal: a simulated shell with a virtual
home folder, the real `kubectl` (vetted arguments, files on stdin) and `ssh` into the
lab cluster's node shells. Pure Python: no Flask, no database (the web layer in
`app.web.terminal` keeps the state with the lab session)."""

from app.workstation.completion import complete
from app.workstation.shell import EditRequest, Result, Workstation

__all__ = ["EditRequest", "Result", "Workstation", "complete"]
