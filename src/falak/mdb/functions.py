"""The functions a derived parameter may name, by name only.

A derived parameter (``derived: {function: NAME, inputs: [...]}`` in YAML, the
``falak:derivation`` ancillary datum in XTCE) is computed by calling a function on its inputs.
A mission database is data that may come from anywhere, so loading it must not import or call
whatever module it names (``os:system``): the name must be one of

* falak's own functions, :data:`FALAK_FUNCTIONS` (``falak:magnitude`` …);
* a numpy ufunc of :data:`NUMPY_UFUNCS` (``numpy:multiply`` …): element-wise arithmetic,
  trigonometry, comparisons and bit operations, without side effects;
* a function registered in this process with
  :func:`falak.tm.derived.register_derived_function`;
* an entry point of the group :data:`ENTRY_POINT_GROUP` declared by an installed package
  (its name is the function's name; the module is imported only when a decoder first calls
  it, because installing a package is an act of trust that loading a file is not).

This module holds only names (the mission-database layer computes nothing);
:mod:`falak.tm.derived` holds the implementations.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata

__all__ = [
    "ENTRY_POINT_GROUP",
    "FALAK_FUNCTIONS",
    "NAME_RE",
    "NUMPY_UFUNCS",
    "builtin_function_names",
    "declare_function",
    "entry_point_names",
    "forget_function",
    "is_known_function",
]

#: Entry-point group of users' derived-parameter functions (name = the function's name in the
#: MDB, value = ``module:callable``).
ENTRY_POINT_GROUP = "falak.derived_functions"

#: The form of a function name: ``namespace:function`` without spaces (the XTCE ancillary
#: datum separates the name and the inputs with spaces); schema.json has the same pattern.
NAME_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")

#: falak's own functions, each taking any number of same-shaped arrays.
FALAK_FUNCTIONS: dict[str, str] = {
    "falak:magnitude": "square root of the sum of the squares of the inputs (|B| from Bx, By, Bz)",
    "falak:mean": "element-wise mean of the inputs",
    "falak:sum": "element-wise sum of the inputs",
}

#: numpy ufuncs a derived parameter may name as ``numpy:NAME``.
NUMPY_UFUNCS: tuple[str, ...] = (
    "absolute", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "bitwise_and", "bitwise_or", "bitwise_xor", "cbrt", "ceil", "copysign", "cos",
    "cosh", "deg2rad", "degrees", "divide", "equal", "exp", "exp2", "expm1", "fabs", "floor",
    "floor_divide", "fmax", "fmin", "fmod", "greater", "greater_equal", "hypot", "invert",
    "isfinite", "isnan", "left_shift", "less", "less_equal", "log", "log10", "log1p", "log2",
    "logical_and", "logical_not", "logical_or", "logical_xor", "maximum", "minimum", "mod",
    "multiply", "negative", "not_equal", "positive", "power", "rad2deg", "radians",
    "reciprocal", "remainder", "right_shift", "rint", "sign", "sin", "sinh", "sqrt", "square",
    "subtract", "tan", "tanh", "true_divide", "trunc",
)  # fmt: skip

_declared: set[str] = set()


def builtin_function_names() -> list[str]:
    """Return the names of falak's own functions and of the allowed numpy ufuncs."""
    return [*FALAK_FUNCTIONS, *(f"numpy:{n}" for n in NUMPY_UFUNCS)]


@cache
def _builtin() -> frozenset[str]:
    return frozenset(builtin_function_names())


@cache
def entry_point_names() -> frozenset[str]:
    """Return the names of the installed packages' derived functions (nothing is imported)."""
    return frozenset(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def declare_function(name: str) -> None:
    """Record that a function of this name is registered (called by the registry)."""
    _declared.add(name)


def forget_function(name: str) -> None:
    """Forget a registered name (called when a function is unregistered)."""
    _declared.discard(name)


def is_known_function(name: str) -> bool:
    """Return True when a derived parameter may call the function ``name``."""
    return name in _builtin() or name in _declared or name in entry_point_names()
