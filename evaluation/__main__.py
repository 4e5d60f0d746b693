"""``python -m evaluation {run,rejudge,compare}``: see evaluation/cli.py for the commands."""

import sys

from evaluation.cli import main

sys.exit(main())
