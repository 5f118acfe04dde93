"""`python -m app ...` is the `onset` command (background jobs run it this way)."""

from app.cli import main

main()
