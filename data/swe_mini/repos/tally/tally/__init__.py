"""Counting words in text."""

import re


def words(text):
    return re.findall(r"[a-z]+", text.lower())


def tally(text):
    counts = {}
    for w in words(text):
        counts[w] = counts.get(w, 0) + 1
    return counts


def top(text, n):
    """The n most frequent words, most frequent first; words with the same count in alphabetical order."""
    counts = tally(text)
    return sorted(counts, key=lambda w: -counts[w])[:n]
