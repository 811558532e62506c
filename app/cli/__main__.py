"""`python -m app.cli ...` runs the `certprep` command line."""

from app.cli import main

main()
