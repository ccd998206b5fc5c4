#!/usr/bin/env python
"""The project's test runner: python runtests.py [label ...]; a label is a module under tests/
(test_top) or a test in it (test_top.TopTests.test_counts). Verbose unittest output."""

import os
import sys
import unittest


def main(labels):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [here, os.path.join(here, "tests")]
    loader = unittest.defaultTestLoader
    if labels:
        suite = loader.loadTestsFromNames(labels)
    else:
        suite = loader.discover(os.path.join(here, "tests"), top_level_dir=os.path.join(here, "tests"))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
