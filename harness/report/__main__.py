"""python -m harness.report: the same as `python -m harness report`."""

from harness.report import main

main()
