def merge(ranges):
    """Merge closed integer ranges (a, b), a <= b, into disjoint sorted ranges."""
    out = []
    for a, b in sorted(ranges):
        if a > b:
            raise ValueError(f"empty range ({a}, {b})")
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [tuple(r) for r in out]


def covered(ranges):
    """How many integers the ranges cover together."""
    return sum(b - a + 1 for a, b in merge(ranges))
