import pytest

from versions import compare, newest


def test_equal():
    assert compare("1.2.3", "1.2.3") == 0


def test_simple_order():
    assert compare("1.2.3", "1.2.4") == -1
    assert compare("2.0.0", "1.9.9") == 1
    assert newest(["0.1.0", "0.3.0", "0.2.0"]) == "0.3.0"


def test_wrong_arity_raises():
    with pytest.raises(ValueError):
        compare("1.2", "1.2.0")
