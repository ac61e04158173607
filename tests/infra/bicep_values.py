"""What a parsed Bicep expression comes to for given parameter values, for the tests that ask
"is this granted exactly when that is enabled?" of a template rather than of a copy of its logic.

It evaluates the part of Bicep the templates use for such decisions: literals, parameters,
variables, interpolated strings, `&&` `||` `!` `==` `!=`, `cond ? a : b` (only the branch taken,
as ARM does), property and index access, lambdas, and the functions `contains`, `empty`, `filter`,
`map`, `split`, `toLower` and `trim`. Anything else raises `Unsupported`, so a test never passes on
a value this module guessed. pycep 0.7 reads `!a ? b : c` as `!(a ? b : c)`, so that shape raises
too; the templates write `a ? c : b` instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from pycep import BicepParser

_INTERPOLATION = re.compile(r"\$\{(.*?)\}")


class Unsupported(ValueError):
    """The expression uses something this evaluator does not know how to compute."""


@cache
def _parse_expression(text: str) -> Any:
    return BicepParser().parse(text=f"var expression = {text}\n")["variables"]["expression"]["value"]


class Evaluator:
    """Values of one template's expressions, with its parameters set to `parameters`.

    A parameter not given takes its declared default. pycep gives a bare identifier and a string
    literal alike, so a string that names a lambda variable, parameter or variable is read as a
    reference to it.
    """

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> None:
        declared = template.get("parameters", {})
        unknown = set(parameters or {}) - set(declared)
        if unknown:
            raise KeyError(f"not parameters of the template: {sorted(unknown)}")
        self._parameters = {name: p["default"] for name, p in declared.items() if p["default"] is not None}
        self._parameters.update(parameters or {})
        self._variables = {name: v["value"] for name, v in template.get("variables", {}).items()}
        self._declared = set(declared)

    def variable(self, name: str) -> Any:
        return self.value(self._variables[name])

    def value(self, expression: Any, scope: Mapping[str, Any] | None = None) -> Any:
        scope = scope or {}
        if isinstance(expression, str):
            return self._text(expression, scope)
        if isinstance(expression, bool | int) or expression is None:
            return expression
        if isinstance(expression, list):
            return [self.value(item, scope) for item in expression]
        if isinstance(expression, dict):
            if isinstance(expression.get("operator"), dict):
                return self._operator(expression["operator"], scope)
            if isinstance(expression.get("function"), dict):
                return self._function(expression["function"], scope)
            return {key: self.value(item, scope) for key, item in expression.items()}
        raise Unsupported(repr(expression))

    def _text(self, text: str, scope: Mapping[str, Any]) -> Any:
        if "${" in text:
            return _INTERPOLATION.sub(lambda m: str(self.value(_parse_expression(m.group(1)), scope)), text)
        if text in scope:
            return scope[text]
        if text in self._parameters:
            return self._parameters[text]
        if text in self._declared:
            raise Unsupported(f"parameter {text} has no value and no default")
        if text in self._variables:
            return self.variable(text)
        return text

    def _operator(self, operator: dict[str, Any], scope: Mapping[str, Any]) -> Any:
        kind, operands = operator["type"], operator.get("operands", {})
        if kind == "and":
            return self._bool(operands["operand_1"], scope) and self._bool(operands["operand_2"], scope)
        if kind == "or":
            return self._bool(operands["operand_1"], scope) or self._bool(operands["operand_2"], scope)
        if kind == "not":
            negated = operands["bool_value"]
            if isinstance(negated, dict) and negated.get("operator", {}).get("type") == "conditional":
                raise Unsupported("`!a ? b : c` (pycep misreads it): write `a ? c : b`")
            return not self._bool(negated, scope)
        if kind in ("equals", "not_equals"):
            same = self.value(operands["operand_1"], scope) == self.value(operands["operand_2"], scope)
            return same if kind == "equals" else not same
        if kind == "conditional":
            taken = "true_value" if self._bool(operands["condition"], scope) else "false_value"
            return self.value(operands[taken], scope)
        if kind == "property_accessor":
            return self._properties(self.value(operands["operand_1"], scope), operands["operand_2"], scope)
        if kind == "index_accessor":
            return self.value(operands["operand_1"], scope)[self.value(operands["operand_2"], scope)]
        raise Unsupported(f"operator {kind}")

    def _properties(self, base: Any, chain: Any, scope: Mapping[str, Any]) -> Any:
        """`base.a.b`: pycep nests the rest of the chain as property accessors of plain names."""
        if not isinstance(base, dict):
            raise Unsupported(f"property of {base!r}")
        if isinstance(chain, str):
            return base[chain]
        operator = chain.get("operator", {}) if isinstance(chain, dict) else {}
        if operator.get("type") == "property_accessor":
            first, rest = operator["operands"]["operand_1"], operator["operands"]["operand_2"]
            return self._properties(base[first], rest, scope)
        raise Unsupported(f"property chain {chain!r}")

    def _bool(self, expression: Any, scope: Mapping[str, Any]) -> bool:
        value = self.value(expression, scope)
        if not isinstance(value, bool):
            raise Unsupported(f"{expression!r} is {value!r}, not a bool")
        return value

    def _function(self, function: dict[str, Any], scope: Mapping[str, Any]) -> Any:
        kind, parameters = function["type"], function.get("parameters") or {}
        if kind == "contains":
            container = self.value(parameters["container"], scope)
            return self.value(parameters["item_to_find"], scope) in container
        if kind == "empty":
            return len(self.value(parameters["item_to_test"], scope)) == 0
        if kind == "split":
            return str(self.value(parameters["input_string"], scope)).split(self.value(parameters["delimiter"], scope))
        if kind == "trim":
            return str(self.value(parameters["string_to_trim"], scope)).strip()
        if kind == "to_lower":
            return str(self.value(parameters["string_to_change"], scope)).lower()
        if kind == "filter":
            items = self.value(parameters["input_array"], scope)
            return [item for item in items if self._call(parameters["expression"], item, scope)]
        if kind == "map":
            items = self.value(parameters["arg_1"], scope)
            return [self._call(parameters["arg_2"], item, scope) for item in items]
        raise Unsupported(f"function {kind}")

    def _call(self, lambda_expression: Any, argument: Any, scope: Mapping[str, Any]) -> Any:
        if not isinstance(lambda_expression, dict) or lambda_expression.get("type") != "lambda_expression":
            raise Unsupported(f"not a lambda: {lambda_expression!r}")
        detail = lambda_expression["detail"]
        return self.value(detail["expression"], {**scope, detail["var_1"]: argument})
