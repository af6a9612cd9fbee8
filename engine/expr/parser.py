"""Recursive-descent parser: expression text -> syntax tree (engine.expr.ast).

Precedence, loosest first: `or`/`||`; `and`/`&&`; `not`/`!`; comparisons
(`== != < <= > >=`, ranges, `in`, `not in`, `like`, `is [not] null`);
`+ -`; `* / %`; unary `- +`; `**` (right-associative); literals, names,
`name[key]`, calls, `exists`, `( ... )`. Template placeholders `{name}` are
replaced by the literal built from `params[name]` while parsing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.errors import FilterError, brief
from engine.expr.ast import (
    COMPARE_OPS,
    Arith,
    Call,
    Compare,
    Exists,
    In,
    Index,
    IntervalLit,
    IsNull,
    Like,
    ListLit,
    Literal,
    Logical,
    Name,
    Node,
    Not,
    Range,
    TimeLit,
    Unary,
)
from engine.expr.lexer import INT64_MAX, INT64_MIN, T, Token, tokenize

_ASCENDING = ("<", "<=")
_DESCENDING = (">", ">=")


def parse(text: str, params: Mapping[str, Any] | None = None) -> Node:
    """Parse `text` into a syntax tree; raise FilterError (with a 1-based column) if it is malformed."""
    if not isinstance(text, str):
        raise FilterError(f"the filter must be a string, not {type(text).__name__}")
    if not text.strip():
        raise FilterError("the filter expression is empty", 1, text)
    return _Parser(text, params).parse()


class _Parser:
    def __init__(self, text: str, params: Mapping[str, Any] | None) -> None:
        self.text = text
        self.params = params
        self.toks = tokenize(text)
        self.k = 0

    # --- token helpers -------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.k + ahead, len(self.toks) - 1)]

    def advance(self) -> Token:
        tok = self.toks[self.k]
        if tok.kind is not T.EOF:
            self.k += 1
        return tok

    def prev(self) -> Token | None:
        return self.toks[self.k - 1] if self.k > 0 else None

    def fail(self, msg: str, pos: int) -> FilterError:
        return FilterError(msg, pos, self.text)

    def expect_close(self, close: str, opener: Token, what: str) -> None:
        tok = self.peek()
        if tok.is_op(close):
            self.advance()
            return
        if tok.kind is T.EOF:
            if close == ")":
                msg = f"unbalanced parenthesis: '(' at column {opener.pos} is never closed"
            else:
                msg = f"unterminated {what}: '{opener.value}' at column {opener.pos} is never closed"
            raise self.fail(msg, opener.pos)
        raise self.fail(
            f"expected '{close}' to close the '{opener.value}' at column {opener.pos}, found {tok.describe()}",
            tok.pos,
        )

    # --- grammar ---------------------------------------------------------
    def parse(self) -> Node:
        node = self.parse_or()
        tok = self.peek()
        if tok.kind is not T.EOF:
            if tok.is_op(")"):
                raise self.fail(f"unexpected ')' at column {tok.pos} (unbalanced parenthesis)", tok.pos)
            raise self.fail(
                f"unexpected {tok.describe()} at column {tok.pos}; expected 'and', 'or' or the end of the expression",
                tok.pos,
            )
        return node

    def parse_or(self) -> Node:
        return self._logical("or", "||", self.parse_and)

    def parse_and(self) -> Node:
        return self._logical("and", "&&", self.parse_not)

    def _logical(self, word: str, symbol: str, sub: Any) -> Node:
        first = sub()
        operands = [first]
        op_pos = 0
        while self.peek().is_kw(word) or self.peek().is_op(symbol):
            tok = self.advance()
            op_pos = op_pos or tok.pos
            operands.append(sub())
        if len(operands) == 1:
            return first
        return Logical(word, tuple(operands), pos=op_pos)

    def parse_not(self) -> Node:
        tok = self.peek()
        if tok.is_kw("not") or tok.is_op("!"):
            self.advance()
            return Not(self.parse_not(), pos=tok.pos)
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_additive()
        tok = self.peek()
        node: Node
        if tok.kind is T.OP and tok.value in COMPARE_OPS:
            self.advance()
            right = self.parse_additive()
            nxt = self.peek()
            if nxt.kind is T.OP and nxt.value in COMPARE_OPS:
                self.advance()
                op1, op2 = str(tok.value), str(nxt.value)
                if op1 in ("==", "!=") or op2 in ("==", "!="):
                    raise self.fail(
                        f"unexpected '{op2}' at column {nxt.pos}: comparisons cannot be chained; "
                        "use parentheses or 'and'",
                        nxt.pos,
                    )
                if not (
                    (op1 in _ASCENDING and op2 in _ASCENDING) or (op1 in _DESCENDING and op2 in _DESCENDING)
                ):
                    raise self.fail(
                        f"'{op1}' and '{op2}' cannot be chained; a range needs two of '<', '<=' "
                        "(or two of '>', '>='), like 1 < x <= 5; otherwise join comparisons with 'and'",
                        nxt.pos,
                    )
                upper = self.parse_additive()
                node = Range(left, op1, right, op2, upper, pos=tok.pos)
            else:
                node = Compare(str(tok.value), left, right, pos=tok.pos)
        elif tok.is_kw("in") or (tok.is_kw("not") and self.peek(1).is_kw("in")):
            negated = tok.is_kw("not")
            self.advance()
            if negated:
                self.advance()
            node = In(left, self.parse_list_operand(), negated, pos=tok.pos)
        elif tok.is_kw("not") and self.peek(1).is_kw("like"):
            raise self.fail("'not like' is not supported; write not (x like \"...\")", tok.pos)
        elif tok.is_kw("like"):
            self.advance()
            pat = self.peek()
            pattern = self.parse_postfix() if pat.kind is not T.EOF else None
            if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
                raise self.fail("expected a string pattern after 'like', like \"abc%\"", pat.pos)
            node = Like(left, pattern.value, pos=tok.pos)
        elif tok.is_kw("is"):
            self.advance()
            negated = False
            if self.peek().is_kw("not"):
                self.advance()
                negated = True
            if not self.peek().is_kw("null"):
                raise self.fail(
                    f"expected 'null' after '{'is not' if negated else 'is'}', found {self.peek().describe()}",
                    self.peek().pos,
                )
            self.advance()
            node = IsNull(left, negated, pos=tok.pos)
        else:
            return left
        after = self.peek()
        if (after.kind is T.OP and after.value in COMPARE_OPS) or after.is_kw("in", "like", "is"):
            raise self.fail(
                f"unexpected {after.describe()} at column {after.pos}: comparisons cannot be chained; "
                "use parentheses or 'and'",
                after.pos,
            )
        return node

    def parse_list_operand(self) -> ListLit:
        tok = self.peek()
        word = "not in" if self.prev() is not None and self.toks[self.k - 2].is_kw("not") else "in"
        if not (tok.is_op("[") or tok.is_op("{")):
            raise self.fail(
                f"expected a list after '{word}', like [1, 2, 3]; found {tok.describe()}", tok.pos
            )
        node = self.parse_postfix()
        if not isinstance(node, ListLit):
            raise self.fail(f"expected a list after '{word}', like [1, 2, 3]", tok.pos)
        return node

    def parse_additive(self) -> Node:
        left = self.parse_multiplicative()
        while self.peek().is_op("+", "-"):
            tok = self.advance()
            left = Arith(str(tok.value), left, self.parse_multiplicative(), pos=tok.pos)
        return left

    def parse_multiplicative(self) -> Node:
        left = self.parse_unary()
        while self.peek().is_op("*", "/", "%"):
            tok = self.advance()
            left = Arith(str(tok.value), left, self.parse_unary(), pos=tok.pos)
        return left

    def parse_unary(self) -> Node:
        tok = self.peek()
        if not tok.is_op("-", "+"):
            return self.parse_power()
        self.advance()
        nxt = self.peek()
        if (
            tok.value == "-"
            and nxt.kind is T.INT
            and nxt.value == INT64_MAX + 1
            and not self.peek(1).is_op("**")
        ):
            self.advance()
            return Literal(INT64_MIN, pos=tok.pos)
        number_follows = nxt.kind in (T.INT, T.FLOAT)
        operand = self.parse_unary()
        if number_follows and isinstance(operand, Literal) and not isinstance(operand.value, (bool, str)):
            value = operand.value
            return Literal(-value if tok.value == "-" else value, pos=tok.pos)
        return Unary(str(tok.value), operand, pos=tok.pos)

    def parse_power(self) -> Node:
        base = self.parse_postfix()
        tok = self.peek()
        if tok.is_op("**"):
            self.advance()
            return Arith("**", base, self.parse_unary(), pos=tok.pos)
        return base

    def parse_postfix(self) -> Node:
        tok = self.peek()
        if tok.kind is T.INT:
            self.advance()
            if int(tok.value) > INT64_MAX:  # type: ignore[call-overload]
                raise self.fail(f"integer {tok.text} is out of the 64-bit integer range", tok.pos)
            return Literal(int(tok.value), pos=tok.pos)  # type: ignore[call-overload]
        if tok.kind is T.FLOAT:
            self.advance()
            return Literal(float(tok.value), pos=tok.pos)  # type: ignore[arg-type]
        if tok.kind is T.STRING:
            self.advance()
            return Literal(str(tok.value), pos=tok.pos)
        if tok.is_kw("true", "false"):
            self.advance()
            return Literal(tok.value == "true", pos=tok.pos)
        if tok.is_kw("null"):
            raise self.fail(
                "null is not a value here; test for null with 'x is null' or 'x is not null'", tok.pos
            )
        if tok.is_kw("exists"):
            self.advance()
            return Exists(self.parse_postfix(), pos=tok.pos)
        if tok.is_op("("):
            self.advance()
            inner = self.parse_or()
            self.expect_close(")", tok, "parenthesis")
            return inner
        if tok.is_op("["):
            return self.parse_list()
        if tok.is_op("{"):
            return self.parse_template()
        if tok.kind is T.IDENT:
            self.advance()
            word = str(tok.value).upper()
            if word in ("ISO", "INTERVAL") and self.peek().kind is T.STRING:  # TIMESTAMPTZ literals
                text = str(self.advance().value)
                return TimeLit(text, pos=tok.pos) if word == "ISO" else IntervalLit(text, pos=tok.pos)
            if self.peek().is_op("("):
                return self.parse_call(tok)
            node: Name | Index = Name(str(tok.value), pos=tok.pos)
            while self.peek().is_op("["):
                node = self.parse_subscript(node)
            return node
        prev = self.prev()
        if prev is not None and tok.kind is T.EOF:
            raise self.fail(f"expected a value after {prev.describe()}", tok.pos)
        if prev is not None:
            raise self.fail(f"expected a value after {prev.describe()}, found {tok.describe()}", tok.pos)
        raise self.fail(f"expected a value, found {tok.describe()}", tok.pos)

    def parse_subscript(self, base: Name | Index) -> Index:
        open_tok = self.advance()
        key_tok = self.peek()
        key: int | str
        if key_tok.kind is T.STRING:
            key = str(key_tok.value)
        elif key_tok.kind is T.INT and int(key_tok.value) <= INT64_MAX:  # type: ignore[call-overload]
            key = int(key_tok.value)  # type: ignore[call-overload]
        elif key_tok.is_op("-") and self.peek(1).kind is T.INT:
            raise self.fail("negative indexes are not supported; indexes start at 0", key_tok.pos)
        else:
            raise self.fail(
                f"expected a quoted key or an integer index inside '[ ]', found {key_tok.describe()}",
                key_tok.pos,
            )
        self.advance()
        self.expect_close("]", open_tok, "index")
        return Index(base, key, pos=base.pos)

    def parse_call(self, name_tok: Token) -> Call:
        raw = str(name_tok.value)
        if raw.lower().startswith("st_") and raw not in (raw.lower(), raw.upper()):
            raise self.fail(f"geometry operator {raw!r}: Milvus takes operator names all upper case or all "
                            f"lower case ({raw.upper()} or {raw.lower()})", name_tok.pos)
        open_tok = self.advance()
        args: list[Node] = []
        while not self.peek().is_op(")"):
            if self.peek().kind is T.EOF:
                self.expect_close(")", open_tok, "call")
            args.append(self.parse_or())
            if self.peek().is_op(","):
                self.advance()
            elif not self.peek().is_op(")"):
                self.expect_close(")", open_tok, "call")
        self.advance()
        return Call(str(name_tok.value).lower(), tuple(args), pos=name_tok.pos)

    def parse_list(self) -> ListLit:
        open_tok = self.advance()
        items: list[Literal | ListLit | TimeLit] = []
        while not self.peek().is_op("]"):
            if self.peek().kind is T.EOF:
                self.expect_close("]", open_tok, "list")
            start = self.peek()
            item = self.parse_or()
            if not isinstance(item, (Literal, ListLit, TimeLit)):
                raise self.fail(
                    "list items must be constants (numbers, strings, booleans or lists)", start.pos
                )
            items.append(item)
            if self.peek().is_op(","):
                self.advance()
            elif not self.peek().is_op("]"):
                self.expect_close("]", open_tok, "list")
        self.advance()
        return ListLit(tuple(items), pos=open_tok.pos)

    def parse_template(self) -> Literal | ListLit:
        open_tok = self.advance()
        name_tok = self.peek()
        if name_tok.kind is not T.IDENT:
            raise self.fail(
                f"expected a parameter name inside '{{ }}', found {name_tok.describe()}", name_tok.pos
            )
        self.advance()
        self.expect_close("}", open_tok, "template")
        name = str(name_tok.value)
        if self.params is None or name not in self.params:
            given = sorted(self.params) if self.params else []
            raise self.fail(
                f"no value was given for the template parameter {name!r}"
                + (f" (params has {given})" if given else " (pass it in params)"),
                open_tok.pos,
            )
        return self.param_node(self.params[name], name, open_tok.pos)

    def param_node(self, value: Any, name: str, pos: int) -> Literal | ListLit:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, bool):
            return Literal(value, pos=pos)
        if isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise self.fail(
                    f"template parameter {name!r}: {brief(value)} is out of the 64-bit integer range", pos
                )
            return Literal(value, pos=pos)
        if isinstance(value, float):
            if math.isnan(value):
                raise self.fail(f"template parameter {name!r} is NaN, which cannot be compared", pos)
            return Literal(value, pos=pos)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                raise self.fail(f"template parameter {name!r} holds {value[e.start]!r}, which is not valid "
                                "Unicode (a lone surrogate)", pos) from None
            return Literal(value, pos=pos)
        if isinstance(value, (list, tuple)):
            return ListLit(tuple(self.param_node(v, name, pos) for v in value), pos=pos)
        what = "None (null)" if value is None else f"a {type(value).__name__}"
        raise self.fail(
            f"template parameter {name!r} is {what}; use a number, string, bool or a list of those", pos
        )
