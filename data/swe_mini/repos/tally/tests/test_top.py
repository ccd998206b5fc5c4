import unittest

from tally import tally, top


class TallyTests(unittest.TestCase):
    def test_counts(self):
        self.assertEqual(tally("a b a"), {"a": 2, "b": 1})

    def test_case_folded(self):
        self.assertEqual(tally("Word word WORD"), {"word": 3})


class TopTests(unittest.TestCase):
    def test_most_frequent_first(self):
        self.assertEqual(top("b a b c b a", 2), ["b", "a"])
