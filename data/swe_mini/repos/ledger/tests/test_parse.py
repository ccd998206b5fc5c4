import pytest

from ledger import parse_amount


def test_parse_positive():
    assert parse_amount("12.50") == 1250
    assert parse_amount("0.05") == 5


def test_parse_whole():
    assert parse_amount("7") == 700
    assert parse_amount("7.5") == 750


def test_parse_rejects_garbage():
    with pytest.raises(ValueError):
        parse_amount("1.234")
