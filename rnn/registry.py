"""Every cell and every strategy, registered once: its spec name, its parameters, its help.

The command lines, their ``--help``, the course site and ``rnn.parse_strategy``
all read this table, so a new strategy is one class with one decorator::

    @rnn.register_strategy("decay")
    class Decay(rnn.Strategy):
        '''Scale every recurrent edge by gamma.'''
        def __init__(self, gamma: float):
            self.gamma = gamma
        def plan(self, T): ...

    rnn.parse_strategy("decay:0.9")          # Decay(gamma=0.9)
    python -m rnn.train --strategy decay:0.9  # (once the module defining it is imported)

A strategy's parameters are read from its constructor's signature: each
parameter annotated ``int`` or ``float`` is a spec parameter (a callable such
as ARTBP's ``schedule`` is not), and the strategy keeps it as an attribute of
the same name, which is how ``describe`` reads it back.

The spec notation: ``name`` or ``name:v1,v2,...`` with the values in
signature order, and ``key=value`` for any parameter, e.g. ``tbptt:4,16``,
``randomized:0.5,seed=3``, ``artbp:c=0.2``.  ``describe(strategy)`` writes the
shortest spec that ``parse_strategy`` turns back into an equal strategy.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass

_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One spec parameter of a strategy (or a cell): its name, type and default."""

    name: str
    kind: type  # int or float
    default: object = _REQUIRED

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def convert(self, text: str, spec: str):
        """The value ``text`` as this parameter's type, or a ValueError naming the spec."""
        try:
            return self.kind(text)
        except ValueError:
            raise ValueError(f"strategy {spec!r}: {self.name} must be {'an integer' if self.kind is int else 'a number'}, "
                             f"got {text!r}") from None


@dataclass(frozen=True)
class Entry:
    """A registered cell or strategy: the class and what the registry read from it."""

    name: str
    cls: type
    params: tuple  # of Param, in signature order
    examples: dict  # values for required parameters when a command line gives none

    @property
    def summary(self) -> str:
        """The first line of the class docstring."""
        return (inspect.getdoc(self.cls) or self.name).splitlines()[0]

    @property
    def form(self) -> str:
        """How the spec is written, e.g. ``tbptt:K1,K2`` or ``full``."""
        required = [p.name.upper() for p in self.params if p.required]
        return f"{self.name}:{','.join(required)}" if required else self.name

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise ValueError(f"strategy {self.name!r} has no parameter {name!r} (its parameters: {known})")


STRATEGIES: dict[str, Entry] = {}
CELLS: dict[str, Entry] = {}


def spec_params(cls) -> tuple:
    """The constructor parameters of ``cls`` annotated int or float, in signature order."""
    hints = typing.get_type_hints(cls.__init__)
    params = []
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        kind = _number_type(hints.get(name))
        if name == "self" or kind is None:
            continue
        params.append(Param(name, kind, parameter.default))
    return tuple(params)


def _number_type(hint):
    """int or float for a hint of int, float or ``X | None``; None for anything else."""
    if hint in (int, float):
        return hint
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 and args[0] in (int, float) else None


def register_strategy(name: str, cls=None, *, examples: dict | None = None):
    """Register a Strategy class under ``name`` (usable as a decorator); returns the class.

    ``examples`` gives values for required parameters that a command line uses
    when the user names the strategy without them (``--strategy chunked`` means chunked:10).
    """
    def add(cls):
        STRATEGIES[name] = Entry(name, cls, spec_params(cls), dict(examples or {}))
        cls.spec_name = name
        return cls

    return add if cls is None else add(cls)


def register_cell(name: str, cls=None):
    """Register a cell class under ``name`` (usable as a decorator); returns the class.

    A registered cell is built as ``cls(n_in, n_hidden, n_out, seed=seed)``.
    """
    def add(cls):
        CELLS[name] = Entry(name, cls, (), {})
        return cls

    return add if cls is None else add(cls)


def strategy_entry(name: str) -> Entry:
    """The registered strategy called ``name``, or a ValueError listing the known ones."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    return STRATEGIES[name]


def cell_entry(name: str) -> Entry:
    """The registered cell called ``name``, or a ValueError listing the known ones."""
    if name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; known: {', '.join(CELLS)}")
    return CELLS[name]


def make_cell(name: str, n_in: int, n_hidden: int, n_out: int, seed: int = 0, **options):
    """A registered cell built with seeded weights."""
    return cell_entry(name).cls(n_in, n_hidden, n_out, seed=seed, **options)


def split_spec(spec: str) -> tuple[str, list[str], dict[str, str]]:
    """``"tbptt:4,16"`` -> ("tbptt", ["4", "16"], {}); ``"randomized:0.5,seed=3"`` -> (..., ["0.5"], {"seed": "3"})."""
    if not isinstance(spec, str):
        raise TypeError(f"a strategy spec is a string such as 'tbptt:4,16', got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    positional, named = [], {}
    for item in (rest.split(",") if rest else []):
        key, equals, value = item.partition("=")
        if equals:
            named[key.strip()] = value.strip()
        elif named:
            raise ValueError(f"strategy {spec!r}: a value without a name follows a named one")
        else:
            positional.append(item.strip())
    return name, positional, named


def parse_strategy(spec: str, examples: dict | None = None, **given):
    """The strategy a spec names: ``parse_strategy("tbptt:4,16")`` is ``TBPTT(4, 16)``.

    ``given`` supplies parameters the spec leaves out (a command line's
    ``--k1``, ``--seed``); values written in the spec win.  A bare name
    (``"chunked"``) takes the example values (``examples``, else the registered
    ones) for any required parameter still missing; a spec that writes some values must write every
    required one (``"tbptt:4"`` is an error, not ``tbptt:4,20``).
    """
    name, positional, named = split_spec(spec)
    entry = strategy_entry(name)
    if len(positional) > len(entry.params):
        raise ValueError(f"strategy {spec!r} takes at most {len(entry.params)} values, written {entry.form}"
                         + (" (with key=value for optional ones)" if entry.params else ""))
    values = {}
    for param, text in zip(entry.params, positional):
        values[param.name] = param.convert(text, spec)
    for key, text in named.items():
        if key in values:
            raise ValueError(f"strategy {spec!r} gives {key} twice")
        values[key] = entry.param(key).convert(text, spec)
    for param in entry.params:
        if param.name in values:
            continue
        if given.get(param.name) is not None:
            values[param.name] = given[param.name]
        elif param.required and not (positional or named) and param.name in {**entry.examples, **(examples or {})}:
            values[param.name] = {**entry.examples, **(examples or {})}[param.name]
        elif param.required:
            raise ValueError(f"strategy {spec!r} needs {param.name}: write it as {entry.form}")
    return entry.cls(**values)


def describe(strategy) -> str:
    """The spec of a strategy, e.g. ``"tbptt:4,16"``: ``parse_strategy(describe(s)) == s``.

    Parameters are written positionally up to the last one that is required
    or differs from its default; a seed that differs from its default as ``seed=N``.  A strategy whose
    constructor takes something a spec cannot hold (ARTBP with a schedule)
    raises a ValueError.
    """
    entry = _entry_of(strategy)
    for name, parameter in inspect.signature(entry.cls.__init__).parameters.items():
        if name != "self" and parameter.default is None and getattr(strategy, name, None) is not None \
                and name not in {p.name for p in entry.params}:
            raise ValueError(f"{strategy!r} has a {name}, which a spec cannot write")
    values = [(p, getattr(strategy, p.name)) for p in entry.params]
    written = [i for i, (p, v) in enumerate(values) if p.name != "seed" and (p.required or v != p.default)]
    parts = [_format(v) for p, v in values[:written[-1] + 1] if p.name != "seed"] if written else []
    parts += [f"{p.name}={_format(v)}" for p, v in values if p.name == "seed" and v != p.default]
    return f"{entry.name}:{','.join(parts)}" if parts else entry.name


def _entry_of(strategy) -> Entry:
    name = getattr(type(strategy), "spec_name", None)
    if name is None or STRATEGIES.get(name, None) is None or STRATEGIES[name].cls is not type(strategy):
        raise ValueError(f"{type(strategy).__name__} is not a registered strategy; "
                         "register it with rnn.register_strategy(name)")
    return STRATEGIES[name]


def _format(value) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def strategy_help() -> str:
    """One line per registered strategy (its spec form and summary), for ``--help``."""
    width = max(len(e.form) for e in STRATEGIES.values()) + 2
    return "strategies (--strategy SPEC):\n" + "\n".join(
        f"  {e.form:<{width}}{e.summary}" for e in STRATEGIES.values())


def cell_help() -> str:
    """One line per registered cell, for ``--help``."""
    width = max(len(name) for name in CELLS) + 2
    return "cells (--cell NAME):\n" + "\n".join(f"  {e.name:<{width}}{e.summary}" for e in CELLS.values())


def strategy_parameters() -> dict[str, Param]:
    """Every spec parameter name any strategy takes (a command line's --k, --k1, ...), but seed."""
    found = {}
    for entry in STRATEGIES.values():
        for param in entry.params:
            if param.name != "seed":
                found.setdefault(param.name, param)
    return found


def strategies_taking(name: str) -> list[str]:
    """The registered strategies that have a parameter called ``name``."""
    return [e.name for e in STRATEGIES.values() if any(p.name == name for p in e.params)]
