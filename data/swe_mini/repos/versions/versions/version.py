def parse(text):
    """'1.2.3' -> a key that orders versions."""
    parts = text.strip().split(".")
    if len(parts) != 3:
        raise ValueError(f"expected MAJOR.MINOR.PATCH, got {text!r}")
    return tuple(parts)


def compare(a, b):
    """-1, 0 or 1 as a is older than, equal to or newer than b."""
    ka, kb = parse(a), parse(b)
    return (ka > kb) - (ka < kb)


def newest(versions):
    return max(versions, key=parse)
