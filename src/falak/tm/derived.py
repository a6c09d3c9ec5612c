"""Functions of derived parameters: falak's own, safe numpy ufuncs, and users' registered ones.

A derived parameter names its function (``falak:magnitude``, ``numpy:multiply``, or a name
registered here); the decoder calls it with one numpy array of engineering values per input
and takes one array back. No name in a mission database ever makes falak import a module:
see :mod:`falak.mdb.functions` for the names allowed and why.

Register a mission's own function before loading the database that names it::

    from falak.tm.derived import register_derived_function

    def battery_power_w(volts, amps):
        return volts * amps

    register_derived_function("power:battery_w", battery_power_w)

or, for the command line (``falak tm decode``, ``falak run``), declare it as an entry point of
the group ``falak.derived_functions`` in the package that defines it::

    [project.entry-points."falak.derived_functions"]
    "power:battery_w" = "mission_power.derived:battery_power_w"
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.errors import MdbError
from falak.mdb import functions as names

__all__ = ["derived_function", "register_derived_function", "unregister_derived_function"]


def magnitude(*inputs: NDArray[Any]) -> NDArray[np.float64]:
    """Return the square root of the sum of the squares of the inputs, element by element."""
    total = np.zeros(np.broadcast_shapes(*(np.shape(x) for x in inputs)))
    for x in inputs:
        total = total + np.square(np.asarray(x, dtype=np.float64))
    return np.sqrt(total)


def mean(*inputs: NDArray[Any]) -> NDArray[np.float64]:
    """Return the element-wise mean of the inputs."""
    return total(*inputs) / len(inputs)


def total(*inputs: NDArray[Any]) -> NDArray[np.float64]:
    """Return the element-wise sum of the inputs (as float64)."""
    out = np.zeros(np.broadcast_shapes(*(np.shape(x) for x in inputs)))
    for x in inputs:
        out = out + np.asarray(x, dtype=np.float64)
    return out


_FALAK: dict[str, Callable[..., Any]] = {
    "falak:magnitude": magnitude,
    "falak:mean": mean,
    "falak:sum": total,
}
_registered: dict[str, Callable[..., Any]] = {}


def register_derived_function(name: str, fn: Callable[..., Any]) -> None:
    """Let derived parameters call ``fn`` by ``name`` (``namespace:function``).

    Parameters
    ----------
    name
        The name mission databases give (``power:battery_w``); it may not be one of falak's
        own or a numpy one.
    fn
        Called with one numpy array per input (engineering values, in the inputs' order);
        returns one array of the same length.
    """
    if not names.NAME_RE.match(name):
        raise MdbError(
            f"derived function name {name!r} is not 'namespace:function'",
            fix="name it like power:battery_w (letters, digits, _ and ., one colon, no spaces)",
        )
    if name in names.builtin_function_names():
        raise MdbError(
            f"derived function {name!r} is one of falak's own",
            fix="register yours under a namespace of your own, e.g. mission:" + name.split(":")[1],
        )
    if not callable(fn):
        raise MdbError(f"derived function {name!r}: {fn!r} is not callable", fix="pass a function")
    _registered[name] = fn
    names.declare_function(name)


def unregister_derived_function(name: str) -> None:
    """Forget a function registered with :func:`register_derived_function`."""
    _registered.pop(name, None)
    names.forget_function(name)


def derived_function(name: str) -> Callable[..., Any]:
    """Return the function a derived parameter names; raise :class:`MdbError` when unknown."""
    if name in _registered:
        return _registered[name]
    if name in _FALAK:
        return _FALAK[name]
    namespace, _, attr = name.partition(":")
    if namespace == "numpy" and attr in names.NUMPY_UFUNCS:
        fn: Callable[..., Any] = getattr(np, attr)
        return fn
    if name in names.entry_point_names():
        eps = [e for e in metadata.entry_points(group=names.ENTRY_POINT_GROUP) if e.name == name]
        if len(eps) != 1:
            raise MdbError(
                f"derived function {name!r} is declared by {len(eps)} installed packages "
                f"({', '.join(e.value for e in eps)})",
                fix=f"uninstall one, or rename its {names.ENTRY_POINT_GROUP} entry point",
            )
        loaded: Callable[..., Any] = eps[0].load()
        _registered[name] = loaded
        return loaded
    raise MdbError(
        f"derived parameter function {name!r} is not one falak may call",
        fix="use one of falak's (falak:magnitude, falak:mean, falak:sum), a numpy ufunc such as "
        "numpy:multiply, or register your own (docs/mdb-yaml.md, Derived parameters)",
    )
