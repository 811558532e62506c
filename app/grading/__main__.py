"""`python -m app.grading check [PATHS]`: validate lab folders (each with a lab.yaml) or
folders of labs; prints FILE:LINE: MESSAGE per problem and exits 1 on any."""

from __future__ import annotations

import sys
from pathlib import Path

from app.grading.labfile import LAB_FILE, check_lab, load_labs


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "check":
        print("usage: python -m app.grading check [LAB_DIR|LABS_ROOT ...]", file=sys.stderr)
        return 2
    paths = [Path(p) for p in args[1:]] or [Path("labs")]
    issues, count = [], 0
    for path in paths:
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


if __name__ == "__main__":
    raise SystemExit(main())
