"""Lab authoring commands.

- `python -m app.grading check [PATHS]`: validate lab folders (each with a lab.yaml) or
  folders of labs; prints FILE:LINE: MESSAGE per problem and exits 1 on any.
- `python -m app.grading grade LAB_DIR --kubeconfig FILE [--since SECONDS] [--json]`:
  grade the cluster the kubeconfig points at with the lab's checks (no node access; the
  session is taken to have started SECONDS ago, default 3600) and print each check;
  exits 0 when the grade is 100 %, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.grading.labfile import LAB_FILE, LabFileError, check_lab, load_lab, load_labs


def _check(paths: list[Path]) -> int:
    issues, count = [], 0
    for path in paths or [Path("labs")]:
        if (path / LAB_FILE).is_file():
            lab, found = check_lab(path)
            labs = [lab] if lab else []
        else:
            labs, found = load_labs(path)
            if not labs and not found:
                print(f"{path}: no {LAB_FILE} found", file=sys.stderr)
                return 1
        issues.extend(found)
        count += len(labs)
    for issue in issues:
        print(issue, file=sys.stderr)
    if issues:
        print(f"{len(issues)} error(s)", file=sys.stderr)
        return 1
    print(f"ok: {count} lab(s)")
    return 0


def _grade(folder: Path, kubeconfig: Path, since: float, as_json: bool) -> int:
    from kubernetes import config

    from app.grading.context import GradeContext
    from app.grading.engine import grade
    from app.grading.node_access import NoNodeAccess
    from app.grading.reader import ClusterReader, ClusterReadError

    try:
        lab = load_lab(folder)
    except LabFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    context = GradeContext(
        grade_id=f"cli-{uuid.uuid4().hex[:12]}",
        session_started_at=now - timedelta(seconds=since),
        grade_requested_at=now,
        hint_policy="always",
    )
    client = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        result = grade(lab.checks, ClusterReader(client), NoNodeAccess(), context, lab.policy)
    except ClusterReadError as exc:
        print(f"cannot grade: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        for check in result.checks:
            mark = "PASS" if check.passed else ("ERROR" if check.error else "FAIL")
            print(f"{mark:5} {check.earned:g}/{check.points:g} {check.id}: {check.detail}")
        capped = f" (capped from {result.raw_percentage:g}%)" if result.capped else ""
        print(f"{result.earned:g}/{result.possible:g} = {result.percentage:g}%{capped}")
    return 0 if result.percentage == 100 else 1


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns the exit status (2 for usage errors)."""
    parser = argparse.ArgumentParser(prog="python -m app.grading")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate lab folders")
    check.add_argument("paths", nargs="*", type=Path)
    grade = commands.add_parser("grade", help="grade a cluster with a lab's checks")
    grade.add_argument("lab", type=Path)
    grade.add_argument("--kubeconfig", type=Path, required=True)
    grade.add_argument("--since", type=float, default=3600)
    grade.add_argument("--json", action="store_true")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "check":
        return _check(args.paths)
    return _grade(args.lab, args.kubeconfig, args.since, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
