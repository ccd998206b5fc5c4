import pytest

from lru import LRUCache


def test_put_evicts_oldest():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.put("c", 3)
    assert "a" not in c and len(c) == 2


def test_update_refreshes():
    c = LRUCache(2)
    c.put("a", 1)
    c.put("b", 2)
    c.put("a", 10)
    c.put("c", 3)
    assert c.get("a") == 10 and "b" not in c


def test_capacity_validation():
    with pytest.raises(ValueError):
        LRUCache(0)


def test_hit_miss_counters():
    c = LRUCache(1)
    c.put("a", 1)
    c.get("a")
    c.get("zzz")
    assert (c.hits, c.misses) == (1, 1)
