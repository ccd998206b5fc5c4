from ledger import format_amount


def test_format_positive():
    assert format_amount(1250) == "12.50"


def test_format_small():
    assert format_amount(5) == "0.05"
    assert format_amount(0) == "0.00"
