import re


def slugify(text, sep="-"):
    """Lower-case ASCII words of text joined by sep."""
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", sep, text)
    return text.strip(sep)
