"""The one registry type: entries of one kind keyed by a stable name, registered by decorator.

Checks, PDPO rules, operations, plants, report sources and deliverable kinds each keep one
``Registry``. Modules register their entries at import time; which modules load is an explicit
list given to the registry (``modules``, or a function returning it, such as the enabled CRM
areas' modules) and imported by ``load``. Registering a name twice is an
error, so two modules can never silently replace each other's entry; looking up an unknown name
lists the known ones. ``isolated`` gives a test its own copy and restores the entries afterwards.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["DuplicateNameError", "Registry", "UnknownNameError"]

T = TypeVar("T")


class DuplicateNameError(ValueError):
    """Raised when a name is registered twice in the same registry."""


class UnknownNameError(KeyError):
    """Raised when a name is looked up that no module registered; the message lists known names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Entries of one kind keyed by a stable name; a name can be registered once.

    Iterating, ``names`` and ``items`` go by name; ``values`` and ``in_order`` keep the order
    of registration (the order the loaded modules declare them in).
    """

    def __init__(
        self,
        kind: str,
        modules: Iterable[str] | Callable[[], Iterable[str]] = (),
        *,
        autoload: bool = False,
    ) -> None:
        self.kind = kind
        self._modules = modules if callable(modules) else tuple(modules)
        self._entries: dict[str, T] = {}
        self._autoload = autoload
        self._loaded = False

    @property
    def modules(self) -> tuple[str, ...]:
        """The modules that register this registry's entries (a callable list is asked now)."""
        return tuple(self._modules() if callable(self._modules) else self._modules)

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; raise DuplicateNameError if the name is taken."""
        if name in self._entries:
            raise DuplicateNameError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering the decorated object itself under ``name``."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def load(self) -> None:
        """Import every module of the registry's explicit list (an imported one is not re-run)."""
        self._loaded = True
        for module in self.modules:
            importlib.import_module(module)

    def _read(self) -> dict[str, T]:
        """The entries, after loading the module list once if the registry loads on first use."""
        if self._autoload and not self._loaded:
            self.load()
        return self._entries

    def get(self, name: str) -> T:
        """Return the entry registered under ``name``; the error lists the known names."""
        try:
            return self._read()[name]
        except (KeyError, TypeError):
            known = ", ".join(self.names()) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def find(self, name: object) -> T | None:
        """Return the entry registered under ``name``, or None."""
        try:
            return self._read().get(name)  # type: ignore[arg-type]
        except TypeError:
            return None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._read())

    def items(self) -> list[tuple[str, T]]:
        """Return (name, entry) pairs sorted by name."""
        return sorted(self._read().items())

    def in_order(self) -> list[str]:
        """Return the registered names in the order they were registered."""
        return list(self._read())

    def values(self) -> list[T]:
        """Return the entries in the order they were registered."""
        return list(self._read().values())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._read()
        except TypeError:
            return False

    def __len__(self) -> int:
        return len(self._read())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} entries)"

    def _swap(self, entries: dict[str, T]) -> dict[str, T]:
        """Replace the entries, returning the previous ones (used by ``isolated``)."""
        previous, self._entries = self._entries, entries
        return previous

    @contextmanager
    def isolated(self, *, empty: bool = False) -> Iterator[Registry[T]]:
        """Give a test its own copy of the entries (or none) and restore them on exit."""
        self.load()  # so that modules imported later cannot land in the temporary entries
        saved = self._swap({} if empty else dict(self._entries))
        try:
            yield self
        finally:
            self._swap(saved)
