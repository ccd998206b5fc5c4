def format_amount(cents):
    """1250 -> '12.50'."""
    return f"{cents // 100}.{cents % 100:02d}"
