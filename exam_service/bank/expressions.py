"""Safe arithmetic for question templates, on the `simpleeval` library. Pure.

A template's derived values, constraints, numeric answers and mistakes are expressions
such as `ceil(samples / batch) * epochs` or `batch <= samples and epochs > 1`. They are
bank content, so they are treated as untrusted input and never reach Python's `eval`:

- `compile_expression` checks the text BEFORE anything is evaluated: at most
  `MAX_LENGTH` characters, `MAX_NODES` syntax nodes nested at most `MAX_DEPTH` deep, and
  only these forms: numbers, short strings (`MAX_STRING` characters; compared with == and
  != only), True/False, the names the template declares, + - * / // % **, unary + - and
  `not`, comparisons (== != < <= > >=, chained), `and`/`or`, `x if cond else y`, and calls
  of the functions in `FUNCTIONS` by name with positional arguments. Attribute access,
  subscripts, lambdas, comprehensions, lists, dicts, f-strings, walrus and keyword
  arguments are refused, each with a message that says what to write instead. A constant
  exponent above `MAX_EXPONENT` is refused here too.
- `evaluate` runs the checked tree through simpleeval with operators that refuse,
  before computing, a power whose exponent exceeds `MAX_EXPONENT` or whose result would
  exceed `MAX_MAGNITUDE`; every intermediate number must be finite and at most
  `MAX_MAGNITUDE` in size; `round`'s digits are bounded; and the whole evaluation stops
  with an error after `TIME_LIMIT` seconds of wall-clock time (checked at every node).
  With the size limits above an expression cannot in fact run long; the clock is the
  last line of defence.

Every refusal is an `ExpressionError` whose message names the expression and the fix.
"""

from __future__ import annotations

import ast
import keyword
import math
import operator
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import simpleeval

MAX_LENGTH = 300
"""The longest expression, in characters."""
MAX_NODES = 120
"""The most syntax nodes (names, numbers, operators, calls) in one expression."""
MAX_DEPTH = 24
"""The deepest nesting of syntax nodes (each parenthesised operation adds one)."""
MAX_STRING = 40
"""The longest string constant or string value."""
MAX_EXPONENT = 64
"""The largest exponent of `**`, in size."""
MAX_MAGNITUDE = 1e15
"""The largest number an expression may produce, in size, at any step."""
TIME_LIMIT = 1.0
"""Wall-clock seconds one evaluation may take. A checked expression takes microseconds;
the bound is generous so that a busy machine (a stalled thread) never refuses a sound
draw, and still stops anything the size limits missed."""

Value = int | float | bool | str


class ExpressionError(ValueError):
    """An expression was refused or failed; the message says which and what to change."""


def _round(value: Any, digits: Any = None) -> Any:
    number = _number(value, "round")
    if digits is None:
        return round(number)
    if isinstance(digits, bool) or not isinstance(digits, int) or not -15 <= digits <= 15:
        raise ExpressionError("round(x, n) takes a whole n from -15 to 15")
    return round(number, digits)


def _sqrt(value: Any) -> float:
    number = _number(value, "sqrt")
    if number < 0:
        raise ExpressionError(f"sqrt of a negative number ({number})")
    return math.sqrt(number)


def _log(value: Any, base: Any = None) -> float:
    number = _number(value, "log")
    if number <= 0:
        raise ExpressionError(f"log of {number}: the number must be above 0")
    if base is None:
        return math.log(number)
    base_number = _number(base, "log")
    if base_number <= 0 or base_number == 1:
        raise ExpressionError(f"log base {base_number}: the base must be above 0 and not 1")
    return math.log(number, base_number)


def _log10(value: Any) -> float:
    return _log(value, 10)


def _min(*values: Any) -> Any:
    if not values:
        raise ExpressionError("min() needs at least one number")
    return min(_number(v, "min") for v in values)


def _max(*values: Any) -> Any:
    if not values:
        raise ExpressionError("max() needs at least one number")
    return max(_number(v, "max") for v in values)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": _min,
    "max": _max,
    "abs": lambda x: abs(_number(x, "abs")),
    "round": _round,
    "floor": lambda x: math.floor(_number(x, "floor")),
    "ceil": lambda x: math.ceil(_number(x, "ceil")),
    "sqrt": _sqrt,
    "log": _log,
    "log10": _log10,
}
"""The only functions an expression may call (by name, with positional arguments)."""
_ARITY = {
    "min": (1, 10),
    "max": (1, 10),
    "abs": (1, 1),
    "round": (1, 2),
    "floor": (1, 1),
    "ceil": (1, 1),
    "sqrt": (1, 1),
    "log": (1, 2),
    "log10": (1, 1),
}
RESERVED = frozenset(FUNCTIONS) | {"True", "False", "None"}
"""Names a template variable may not take."""


def _number(value: Any, where: str) -> int | float:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    raise ExpressionError(f"{where} needs numbers, got the text {str(value)[:MAX_STRING]!r}")


def _sized(value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("a step gives an infinite or undefined number")
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError(
            f"a step gives {value:.3g}, beyond the largest number allowed ({MAX_MAGNITUDE:.0e})"
        )
    return value


def _arithmetic(symbol: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        a, b = _number(left, symbol), _number(right, symbol)
        try:
            return _sized(op(a, b))
        except ZeroDivisionError:
            raise ExpressionError(f"division by zero ({a} {symbol} {b})") from None
        except OverflowError:
            raise ExpressionError(f"{a} {symbol} {b} is too large") from None

    return apply


def _power(left: Any, right: Any) -> Any:
    base, exponent = _number(left, "**"), _number(right, "**")
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"the exponent {exponent} is above {MAX_EXPONENT}")
    if base == 0 and exponent < 0:
        raise ExpressionError("0 to a negative power (division by zero)")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > 15:
        raise ExpressionError(
            f"{base} ** {exponent} would exceed the largest number allowed ({MAX_MAGNITUDE:.0e})"
        )
    if base < 0 and not float(exponent).is_integer():
        raise ExpressionError(f"{base} ** {exponent}: a negative number to a fractional power")
    return _sized(base**exponent)


def _equal(left: Any, right: Any) -> bool:
    return bool(left == right)


def _unequal(left: Any, right: Any) -> bool:
    return bool(left != right)


def _ordered(symbol: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        return bool(op(_number(left, symbol), _number(right, symbol)))

    return apply


OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: _arithmetic("+", operator.add),
    ast.Sub: _arithmetic("-", operator.sub),
    ast.Mult: _arithmetic("*", operator.mul),
    ast.Div: _arithmetic("/", operator.truediv),
    ast.FloorDiv: _arithmetic("//", operator.floordiv),
    ast.Mod: _arithmetic("%", operator.mod),
    ast.Pow: _power,
    ast.USub: lambda x: _sized(-_number(x, "-")),
    ast.UAdd: lambda x: _number(x, "+"),
    ast.Not: lambda x: not x,
    ast.Eq: _equal,
    ast.NotEq: _unequal,
    ast.Lt: _ordered("<", operator.lt),
    ast.LtE: _ordered("<=", operator.le),
    ast.Gt: _ordered(">", operator.gt),
    ast.GtE: _ordered(">=", operator.ge),
}

_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    *OPERATORS,
)
_REFUSED = {
    ast.Attribute: "attribute access ('.name') is not allowed; use the template's names",
    ast.Subscript: "indexing ('[...]') is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.List: "lists are not allowed; list choices under the variable's 'choices'",
    ast.Tuple: "tuples are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "':=' is not allowed; declare a derived value instead",
    ast.Starred: "'*' unpacking is not allowed",
}


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate many times."""

    text: str
    tree: ast.expr
    names: frozenset[str]
    """The template names it reads."""


def _refuse(text: str, why: str) -> ExpressionError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return ExpressionError(f"expression {shown!r}: {why}")


def compile_expression(text: str, names: Iterable[str]) -> Expression:
    """Check `text` against the limits and forms of the module docstring, reading only
    `names`; raises ExpressionError before anything is evaluated."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression is text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise _refuse(
            text, f"{len(text)} characters; at most {MAX_LENGTH} (split it into derived values)"
        )
    if not text.strip():
        raise ExpressionError("an expression is empty: write one, e.g. 'a * b'")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise _refuse(text, f"not a valid expression ({reason})") from None
    known = frozenset(names)
    used: set[str] = set()
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise _refuse(text, f"more than {MAX_NODES} parts; split it into derived values")
        if depth > MAX_DEPTH:
            raise _refuse(text, f"nested more than {MAX_DEPTH} deep; split it into derived values")
        why = _REFUSED.get(type(node))
        if why is None and not isinstance(node, _ALLOWED):
            why = (
                f"{type(node).__name__} is not allowed (arithmetic, comparisons, and/or, "
                f"if-else and {', '.join(FUNCTIONS)} only)"
            )
        if why is not None:
            raise _refuse(text, why)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                if len(value) > MAX_STRING:
                    raise _refuse(
                        text, f"a string of {len(value)} characters; at most {MAX_STRING}"
                    )
            elif value is None or not isinstance(value, int | float):
                raise _refuse(
                    text, f"the constant {value!r} is not a number, True, False or short text"
                )
            elif not isinstance(value, bool) and not abs(value) <= MAX_MAGNITUDE:
                raise _refuse(text, f"the number {value:.3g} is beyond {MAX_MAGNITUDE:.0e}")
        elif isinstance(node, ast.Name):
            if node.id not in known:
                hint = f" (declared: {', '.join(sorted(known))})" if known else ""
                raise _refuse(
                    text,
                    f"unknown name {node.id!r}: declare it under variables or derived first{hint}",
                )
            used.add(node.id)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                called = node.func.id if isinstance(node.func, ast.Name) else "this"
                raise _refuse(
                    text, f"calling {called!r} is not allowed; use {', '.join(FUNCTIONS)}"
                )
            if node.keywords:
                raise _refuse(text, "keyword arguments are not allowed")
            low, high = _ARITY[node.func.id]
            if not low <= len(node.args) <= high:
                raise _refuse(
                    text, f"{node.func.id}() takes {low} to {high} arguments, not {len(node.args)}"
                )
            stack.extend((arg, depth + 1) for arg in node.args)
            continue
        elif isinstance(node, ast.BinOp | ast.UnaryOp) and any(
            isinstance(side, ast.Constant) and isinstance(side.value, str)
            for side in ast.iter_child_nodes(node)
        ):
            raise _refuse(text, "text can only be compared (== or !=), not computed with")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.operand, ast.Constant):
                exponent = exponent.operand
            if (
                isinstance(exponent, ast.Constant)
                and isinstance(exponent.value, int | float)
                and abs(exponent.value) > MAX_EXPONENT
            ):
                raise _refuse(text, f"the exponent {exponent.value} is above {MAX_EXPONENT}")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    assert isinstance(tree, ast.Expression)
    return Expression(text.strip(), tree.body, frozenset(used))


class _Evaluator(simpleeval.SimpleEval):  # type: ignore[misc]
    """simpleeval with this module's operators, functions and a wall-clock deadline."""

    deadline = 0.0

    def _eval(self, node: ast.AST) -> Any:
        if time.monotonic() > self.deadline:
            raise ExpressionError(f"took longer than {TIME_LIMIT} s")
        return super()._eval(node)


class Scope:
    """Evaluates expressions over one set of values that may grow (a template's derived
    values, in order), with one evaluator for all of them."""

    def __init__(self, values: Mapping[str, Value]) -> None:
        self.values: dict[str, Value] = dict(values)
        self._evaluator = _Evaluator(operators=OPERATORS, functions=FUNCTIONS, names=self.values)

    def evaluate(self, expression: Expression) -> Value:
        """The value of a checked expression; ExpressionError (naming the expression) when
        a limit is hit or a step fails."""
        self._evaluator.deadline = time.monotonic() + TIME_LIMIT
        try:
            result = self._evaluator.eval(expression.text, previously_parsed=expression.tree)
        except ExpressionError as exc:
            raise _refuse(expression.text, str(exc)) from None
        except (simpleeval.InvalidExpression, ArithmeticError, ValueError, TypeError) as exc:
            raise _refuse(expression.text, f"cannot be evaluated ({exc})") from None
        except RecursionError:
            raise _refuse(expression.text, "nested too deep") from None
        if isinstance(result, str):
            if len(result) > MAX_STRING:
                raise _refuse(expression.text, f"gives text longer than {MAX_STRING} characters")
            return result
        if isinstance(result, bool):
            return result
        if isinstance(result, int | float):
            try:
                return _sized(result)
            except ExpressionError as exc:
                raise _refuse(expression.text, str(exc)) from None
        raise _refuse(expression.text, f"gives a {type(result).__name__}, not a number or text")


def evaluate(expression: Expression, values: Mapping[str, Value]) -> Value:
    """The value of a checked expression for the template's `values` (`Scope.evaluate`)."""
    return Scope(values).evaluate(expression)


def valid_name(name: str) -> str | None:
    """Why `name` cannot name a template value, or None when it can."""
    if not name.isidentifier() or not name.isascii() or name.startswith("_"):
        return f"{name!r} is not a name: use letters, digits and '_', starting with a letter"
    if len(name) > 40:
        return f"{name!r} is longer than 40 characters"
    if keyword.iskeyword(name) or name in RESERVED:
        return f"{name!r} is reserved (a Python word or a function): choose another name"
    return None
