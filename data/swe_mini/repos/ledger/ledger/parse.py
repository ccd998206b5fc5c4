import re

_AMOUNT = re.compile(r"^[+-]?\d+(\.\d{1,2})?$")


def parse_amount(text):
    """'12.50' -> 1250 cents. At most two decimals."""
    text = text.strip()
    if not _AMOUNT.match(text):
        raise ValueError(f"not an amount: {text!r}")
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac.ljust(2, "0"))
