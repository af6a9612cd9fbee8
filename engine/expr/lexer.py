"""Tokeniser for Milvus filter expressions.

Positions are 1-based character offsets into the expression text (the
"column" of a one-line expression).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.errors import FilterError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class T(Enum):
    """Token kinds."""

    INT = "integer"
    FLOAT = "number"
    STRING = "string"
    IDENT = "name"
    KEYWORD = "keyword"
    OP = "operator"
    EOF = "end of expression"


# Words that are keywords in any letter case.
KEYWORDS = frozenset({"and", "or", "not", "in", "like", "is", "null", "true", "false", "exists"})

# Longest first, so that '**' wins over '*' and '<=' over '<'.
_OPERATORS = (
    "**",
    "==",
    "!=",
    "<=",
    ">=",
    "&&",
    "||",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    "[",
    "]",
    ",",
    "{",
    "}",
    "!",
)
_UNSUPPORTED_OPS = {
    "<<": "the shift operator '<<' is not supported",
    ">>": "the shift operator '>>' is not supported",
    "=~": "regular-expression matching ('=~') is not supported; use 'like'",
    "!~": "regular-expression matching ('!~') is not supported; use 'like'",
    "&": "the bitwise operator '&' is not supported; use 'and' (or '&&')",
    "|": "the bitwise operator '|' is not supported; use 'or' (or '||')",
    "^": "the bitwise operator '^' is not supported",
    "~": "the bitwise operator '~' is not supported; use 'not' (or '!')",
    "=": "'=' is not an operator; use '==' to compare",
}
# Numbers are ASCII digits only, as in Milvus's grammar (Digit: [0-9]); str.isdigit() would also
# take '₅', '²' or '٣', which int() then refuses or reads as another number.
_DIGITS = frozenset("0123456789")
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

_SIMPLE_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "a": "\a",
    "0": "\0",
    "/": "/",
}


@dataclass(frozen=True)
class Token:
    """One token: its kind, its value (text, number or decoded string) and 1-based position."""

    kind: T
    value: object
    pos: int
    text: str

    def is_op(self, *ops: str) -> bool:
        return self.kind is T.OP and self.value in ops

    def is_kw(self, *words: str) -> bool:
        return self.kind is T.KEYWORD and self.value in words

    def describe(self) -> str:
        """How the token is named in error messages."""
        if self.kind is T.EOF:
            return "the end of the expression"
        return repr(self.text)


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens, ending with an EOF token; raise FilterError on bad input."""
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.out: list[Token] = []

    def fail(self, msg: str, at: int) -> FilterError:
        return FilterError(msg, at + 1, self.s)

    def run(self) -> list[Token]:
        s = self.s
        n = len(s)
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as e:
            raise self.fail(f"character {s[e.start]!r} is not valid Unicode (a lone surrogate)", e.start) from None
        while self.i < n:
            c = s[self.i]
            if c in " \t\r\n\f\v":
                self.i += 1
            elif c in _DIGITS or (c == "." and self.i + 1 < n and s[self.i + 1] in _DIGITS):
                self.number()
            elif c in "rR" and self.i + 1 < n and s[self.i + 1] in "\"'":
                self.string(raw=True)
            elif c.isalpha() or c == "_" or c == "$":
                self.word()
            elif c in "\"'":
                self.string(raw=False)
            else:
                self.operator()
        self.out.append(Token(T.EOF, None, n + 1, ""))
        return self.out

    def word(self) -> None:
        s, start = self.s, self.i
        j = start + 1
        while j < len(s) and (s[j].isalnum() or s[j] == "_") and s[j].isascii():
            j += 1
        word = s[start:j]
        if not word.isascii() or (word[0].isalpha() and not word[0].isascii()):
            raise self.fail(f"unexpected character {s[start]!r}", start)
        if word.startswith("$") and word != "$meta":
            raise self.fail(f"unknown name {word!r}; only '$meta' may start with '$'", start)
        self.i = j
        low = word.lower()
        if low in KEYWORDS:
            self.out.append(Token(T.KEYWORD, low, start + 1, word))
        else:
            self.out.append(Token(T.IDENT, word, start + 1, word))

    def number(self) -> None:
        s, start = self.s, self.i
        n = len(s)
        j = start
        if s[j] == "0" and j + 1 < n and s[j + 1] in "xXoObB":
            base = {"x": 16, "o": 8, "b": 2}[s[j + 1].lower()]
            j += 2
            k = j
            while k < n and (s[k] in _ALNUM or s[k] == "_"):
                k += 1
            digits = s[j:k]
            try:
                value = int(digits, base)
            except ValueError:
                raise self.fail(f"invalid number {s[start:k]!r}", start) from None
            self.i = k
            self.emit_int(value, start, s[start:k])
            return
        while j < n and s[j] in _DIGITS:
            j += 1
        is_float = False
        if j < n and s[j] == ".":
            is_float = True
            j += 1
            while j < n and s[j] in _DIGITS:
                j += 1
        if j < n and s[j] in "eE":
            k = j + 1
            if k < n and s[k] in "+-":
                k += 1
            if k < n and s[k] in _DIGITS:
                is_float = True
                j = k
                while j < n and s[j] in _DIGITS:
                    j += 1
            else:
                raise self.fail(f"invalid number {s[start:k]!r}: the exponent has no digits", start)
        if j < n and (s[j].isalnum() or s[j] == "_" or s[j] == "."):
            k = j
            while k < n and (s[k].isalnum() or s[k] in "_."):
                k += 1
            raise self.fail(f"invalid number {s[start:k]!r}", start)
        lexeme = s[start:j]
        self.i = j
        if is_float:
            self.out.append(Token(T.FLOAT, float(lexeme), start + 1, lexeme))
            return
        if len(lexeme) > 1 and lexeme[0] == "0":
            raise self.fail(
                f"invalid number {lexeme!r}: leading zeros are not allowed "
                f"(write {int(lexeme)}, or 0o{lexeme.lstrip('0') or '0'} for octal)",
                start,
            )
        if len(lexeme) > 19:  # beyond int64 (19 digits); int() would refuse past 4300 digits anyway
            raise self.fail(f"integer {lexeme[:24]}{'...' if len(lexeme) > 24 else ''} is out of the 64-bit integer "
                            "range", start)
        self.emit_int(int(lexeme), start, lexeme)

    def emit_int(self, value: int, start: int, lexeme: str) -> None:
        if value > INT64_MAX + 1:  # 2**63 is allowed here for `-9223372036854775808`
            raise self.fail(f"integer {lexeme} is out of the 64-bit integer range", start)
        self.out.append(Token(T.INT, value, start + 1, lexeme))

    def string(self, raw: bool) -> None:
        s, start = self.s, self.i
        n = len(s)
        j = start + 1 if raw else start
        quote = s[j]
        j += 1
        parts: list[str] = []
        while True:
            if j >= n:
                raise self.fail(f"unterminated string starting at column {start + 1}", start)
            c = s[j]
            if c == quote:
                j += 1
                break
            if c != "\\":
                parts.append(c)
                j += 1
                continue
            if j + 1 >= n:
                raise self.fail(f"unterminated string starting at column {start + 1}", start)
            e = s[j + 1]
            if raw:
                parts.append(c + e)
                j += 2
            elif e in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[e])
                j += 2
            elif e in "uUx":
                width = {"u": 4, "U": 8, "x": 2}[e]
                hexits = s[j + 2 : j + 2 + width]
                if len(hexits) != width or any(h not in "0123456789abcdefABCDEF" for h in hexits):
                    raise self.fail(f"invalid escape '\\{e}': expected {width} hex digits", j)
                code = int(hexits, 16)
                if code > 0x10FFFF:
                    raise self.fail(f"invalid escape '\\{e}{hexits}': not a Unicode code point", j)
                j += 2 + width
                if 0xD800 <= code <= 0xDBFF and s[j : j + 2] == "\\u":  # a UTF-16 pair: \ud83d\ude00
                    low = s[j + 2 : j + 6]
                    if len(low) == 4 and all(h in "0123456789abcdefABCDEF" for h in low) \
                            and 0xDC00 <= int(low, 16) <= 0xDFFF:
                        code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                        j += 6
                if 0xD800 <= code <= 0xDFFF:
                    raise self.fail(f"invalid escape '\\{e}{hexits}': a lone surrogate is not a character",
                                    j - 2 - width)
                parts.append(chr(code))
            else:
                # Unknown escapes keep their backslash, so `like "10\%"` means a literal '%'.
                parts.append(c + e)
                j += 2
        self.i = j
        self.out.append(Token(T.STRING, "".join(parts), start + 1, s[start:j]))

    def operator(self) -> None:
        s, i = self.s, self.i
        two = s[i : i + 2]
        if two in _UNSUPPORTED_OPS:
            raise self.fail(_UNSUPPORTED_OPS[two], i)
        for op in _OPERATORS:
            if s.startswith(op, i):
                self.out.append(Token(T.OP, op, i + 1, op))
                self.i = i + len(op)
                return
        c = s[i]
        if c in _UNSUPPORTED_OPS:
            raise self.fail(_UNSUPPORTED_OPS[c], i)
        raise self.fail(f"unexpected character {c!r}", i)
