import pytest

from chunked import chunk, windows


def test_chunk_exact():
    assert chunk(range(6), 3) == [[0, 1, 2], [3, 4, 5]]


def test_chunk_rejects_zero():
    with pytest.raises(ValueError):
        chunk([1, 2], 0)


def test_windows():
    assert windows("abcd", 3) == [["a", "b", "c"], ["b", "c", "d"]]
