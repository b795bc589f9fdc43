"""A small, safe expression language for sweep files: derived values and exclusion conditions.

`0.3 * optim.batch_size / 256` or `augment.view1 == augment.view2 and seed > 0`: dotted names read the
run's resolved config; arithmetic, comparisons, `and/or/not`, `in`, `x if c else y` and a few math
functions are allowed, nothing else (no attribute access on objects, no imports, no calls of other names).
"""

from __future__ import annotations

import ast
import math
import operator

from ..params import suggest
from ..errors import ConfigError

FUNCTIONS = {"min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float, "len": len,
             "sqrt": math.sqrt, "log": math.log, "log2": math.log2, "exp": math.exp}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


def evaluate(expr: str, config: dict, where: str):
    """Evaluate `expr` against a resolved config dict; errors name `where` and the offending part."""
    try:
        tree = ast.parse(str(expr).strip(), mode="eval")
    except SyntaxError as exc:
        raise ConfigError(f"{where}: {expr!r} is not a valid expression ({exc.msg})") from None
    return _Evaluator(expr, config, where).visit(tree.body)


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
            return _BINARY[type(node.op)](self.visit(node.left), self.visit(node.right))
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
