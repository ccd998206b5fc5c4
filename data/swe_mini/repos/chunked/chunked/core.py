def chunk(seq, size):
    """Split seq into consecutive lists of `size` items; the last piece may be shorter."""
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    items = list(seq)
    return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]


def windows(seq, width):
    """All contiguous runs of `width` items, sliding by one."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    items = list(seq)
    return [items[i:i + width] for i in range(len(items) - width + 1)]
