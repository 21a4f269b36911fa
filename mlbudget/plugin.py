"""One registry per plug-in kind, filled by subclassing.

A plug-in kind is an abstract base class that derives from :class:`Plugin`
and sets ``plugin_kind``. Every non-abstract subclass registers itself under
its ``name`` (snake_case, derived from the class name when not given). A
duplicate name is an error; an unknown name raises an error listing the known
ones. Third parties add plug-ins through the ``mlbudget.plugins`` entry-point
group: loading the entry point imports the module, which registers the class. The
entry points are loaded when a name is not registered yet, or when every
plug-in of a kind is listed: looking up a built-in name never scans the
installed packages (~50 ms) nor imports a third party's module.
"""

from __future__ import annotations

import inspect
import re
from importlib.metadata import entry_points
from typing import ClassVar, TypeVar

from mlbudget.errors import ConfigError, UnknownPluginError

ENTRY_POINT_GROUP = "mlbudget.plugins"

P = TypeVar("P", bound="Plugin")


def snake_case(name: str) -> str:
    """``OrtStaticInt8Generator`` -> ``ort_static_int8_generator``."""
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return name.lower()


class Plugin:
    """Base of every plug-in kind. Subclass once per kind and set ``plugin_kind``."""

    plugin_kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Plugin]]]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "plugin_kind" in cls.__dict__:
            # A new plug-in kind: give it a registry of its own.
            cls._registry = {}
            return
        if inspect.isabstract(cls) or cls.__dict__.get("abstract", False):
            return
        if not cls.__dict__.get("name"):
            raise ConfigError(f"plug-in class {cls.__qualname__} must set a registry `name`")
        if cls.name in cls._registry and cls._registry[cls.name] is not cls:
            other = cls._registry[cls.name]
            raise ConfigError(
                f"duplicate {cls.plugin_kind} name {cls.name!r}: "
                f"{other.__module__}.{other.__qualname__} and {cls.__module__}.{cls.__qualname__}"
            )
        cls._registry[cls.name] = cls

    @classmethod
    def registered(cls: type[P]) -> dict[str, type[P]]:
        """All registered plug-ins of this kind, by name (built-ins and entry points)."""
        _load_entry_points()
        return dict(cls._registry)  # type: ignore[arg-type]

    @classmethod
    def lookup(cls: type[P], name: str) -> type[P]:
        """The plug-in class registered under ``name``.

        Raises:
            UnknownPluginError: no plug-in of this kind has that name.
        """
        if name in cls._registry:  # a built-in or already-loaded plug-in: no scan of the installed packages
            return cls._registry[name]  # type: ignore[return-value]
        known = cls.registered()
        if name not in known:
            raise UnknownPluginError(
                f"unknown {cls.plugin_kind} {name!r}; known: {', '.join(sorted(known)) or '(none)'}"
            )
        return known[name]


_entry_points_loaded = False


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()
