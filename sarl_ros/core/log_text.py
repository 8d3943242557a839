r"""Text from outside (an HTTP body, a service request) made safe to write into a log line.

A newline in an operator's e-stop reason would otherwise start a forged log line, and an
escape sequence could rewrite the terminal. Control, format and line/paragraph-separator
characters become visible escapes (\n, \x1b, \u2028); long text is cut to `limit` characters.
"""
from __future__ import annotations

import unicodedata

_NAMED = {'\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\'}
_UNSAFE_CATEGORIES = ('Cc', 'Cf', 'Zl', 'Zp', 'Cs', 'Co', 'Cn')


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
        return ch
    code = ord(ch)
    return f'\\x{code:02x}' if code < 0x100 else f'\\u{code:04x}' if code < 0x10000 else f'\\U{code:08x}'


def printable(text: object, limit: int = 200) -> str:
    """Return `text` with every control character escaped, at most `limit` characters (then '...')."""
    text = str(text)
    cut = len(text) > limit
    escaped = ''.join(_escape(ch) for ch in text[:limit])
    return escaped + ('...' if cut else '')
