"""A small, safe expression language for sweep files: derived values and exclusion conditions.

`0.3 * optim.batch_size / 256` or `augment.view1 == augment.view2 and seed > 0`: dotted names read the
run's resolved config; arithmetic, comparisons, `and/or/not`, `in`, `x if c else y`, items (`augment.view1[0]`)
and a few math functions are allowed, nothing else (no attribute access on objects, no imports, no calls of
other names). Bounds on exponents, integer sizes and repetitions keep every expression instant; a division
by zero, a math domain error or an overflow is one ConfigError naming the expression.
"""

from __future__ import annotations

import ast
import math
import operator

from ..params import suggest
from ..errors import ConfigError

FUNCTIONS = {"min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float, "len": len,
             "sqrt": math.sqrt, "log": math.log, "log2": math.log2, "exp": math.exp}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: lambda a, b: _times(a, b), ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: lambda a, b: _power(a, b)}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


MAX_EXPONENT = 1024  # bounds that keep every expression instant: no 10 ** 10 ** 10, no 'x' * 10 ** 9
MAX_INT_BITS = 4096
MAX_LENGTH = 10_000
MAX_CHARS = 1000  # longer is not a derived value of a sweep file


def evaluate(expr: str, config: dict, where: str):
    """Evaluate `expr` against a resolved config dict; errors name `where` and the offending part."""
    text = str(expr).strip()
    if len(text) > MAX_CHARS:
        raise ConfigError(f"{where}: the expression is {len(text)} characters long; keep it under {MAX_CHARS}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: {expr!r} is not a valid expression ({exc.msg})") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"{where}: {expr!r} is nested too deeply; simplify it") from None
    evaluator = _Evaluator(expr, config, where)
    try:
        return evaluator.visit(tree.body)
    except ConfigError:
        raise
    except ZeroDivisionError:
        evaluator.fail("it divides by zero")
    except OverflowError:
        evaluator.fail("a number overflows (too large for a float)")
    except ValueError as exc:  # math domain errors: sqrt(-1), log(0)
        evaluator.fail(f"a function got a value outside its domain ({exc})")
    except TypeError as exc:  # 'a' + 1, len(3)
        evaluator.fail(f"the types do not fit ({exc})")
    except RecursionError:
        evaluator.fail("it is nested too deeply; simplify it")


def _power(base, exponent):
    if isinstance(exponent, (int, float)) and abs(exponent) > MAX_EXPONENT and isinstance(base, (int, float)) and abs(base) > 1:
        raise _Bound(f"the exponent {exponent} is too large (at most {MAX_EXPONENT})")
    return operator.pow(base, exponent)


def _times(a, b):
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_LENGTH:
            raise _Bound(f"the repetition makes {len(seq) * n} items (at most {MAX_LENGTH})")
    return operator.mul(a, b)


class _Bound(Exception):
    """An operation would take too long or too much memory."""


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


class _Evaluator:
    def __init__(self, expr: str, config: dict, where: str):
        self.expr, self.config, self.where = expr, config, where

    def fail(self, why: str):
        raise ConfigError(f"{self.where}: in {self.expr!r}, {why}")

    def visit(self, node: ast.AST):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.visit(e) for e in node.elts]
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.lookup(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            try:
                value = _BINARY[type(node.op)](self.visit(node.left), self.visit(node.right))
            except _Bound as exc:
                self.fail(str(exc))
            if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
                self.fail(f"{ast.unparse(node)!r} is a number of {value.bit_length()} bits (at most {MAX_INT_BITS})")
            if isinstance(value, (str, list)) and len(value) > MAX_LENGTH:
                self.fail(f"{ast.unparse(node)!r} makes {len(value)} items (at most {MAX_LENGTH})")
            return value
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.UnaryOp):
            value = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return not value
            if isinstance(node.op, ast.USub):
                return -value
            if isinstance(node.op, ast.UAdd):
                return +value
        if isinstance(node, ast.BoolOp):
            values = (self.visit(v) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, right_node in zip(node.ops, node.comparators):
                right = self.visit(right_node)
                if type(op) not in _COMPARE or not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id not in FUNCTIONS:
                self.fail(f"{node.func.id}() is not allowed; allowed functions: {', '.join(FUNCTIONS)}")
            return FUNCTIONS[node.func.id](*(self.visit(a) for a in node.args))
        self.fail(f"{ast.unparse(node)!r} is not allowed (only arithmetic, comparisons and config keys)")

    def subscript(self, node: ast.Subscript):
        """`augment.view1[0]`, `augment.view1[-1]`, `augment.view1[1:]`, `x['key']`: an item of a list or mapping."""
        value = self.visit(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [None if p is None else self.visit(p) for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            if not all(p is None or isinstance(p, int) for p in parts) or not isinstance(value, (list, str)):
                self.fail(f"{ast.unparse(node)!r}: slices take integers and apply to lists and strings")
            return value[slice(*parts)]
        index = self.visit(node.slice)
        if isinstance(value, dict):
            if index not in value:
                self.fail(f"{ast.unparse(node)!r}: no key {index!r}; keys: {', '.join(map(str, value))}")
            return value[index]
        if not isinstance(value, (list, str)):
            self.fail(f"{ast.unparse(node.value)!r} is a {type(value).__name__}, not a list, string or mapping")
        if isinstance(index, bool) or not isinstance(index, int):
            self.fail(f"{ast.unparse(node)!r}: a list index is an integer, got {index!r}")
        if not -len(value) <= index < len(value):
            self.fail(f"{ast.unparse(node)!r}: index {index} is out of range ({ast.unparse(node.value)} has "
                      f"{len(value)} item{'s' if len(value) != 1 else ''})")
        return value[index]

    def lookup(self, node: ast.AST):
        key = _dotted(node)
        if key is None:
            self.fail(f"{ast.unparse(node)!r} is not a config key")
        value = self.config
        for i, part in enumerate(key.split(".")):
            if not isinstance(value, dict) or part not in value:
                if _schema_key(key):  # a parameter of a component this run does not choose (queue_size for simclr)
                    self.fail(f"{key!r} does not apply to this run (its components do not take it); test the choice "
                              f"first, e.g. \"method.name == 'moco' and method.queue_size > 1024\"")
                options = list(value) if isinstance(value, dict) else []
                self.fail(f"{key!r} is not a config key{suggest(part, options)}")
            value = value[part]
        return value


def _schema_key(key: str) -> bool:
    from ..config import check_key

    try:
        check_key(key)
    except ConfigError:
        return False
    return True
