"""`python -m bench [--quick | --smoke] [--out DIR] [--require-postgres]`."""

from bench.cli import main

raise SystemExit(main())
