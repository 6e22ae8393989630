"""Finding plugins and keeping one registry of components per kind.

Plugins are found through the entry-point group ``workbench.plugins`` (built-ins included).
A plugin that fails to import, implements an unknown hook, raises while registering, or
registers a malformed component or a name already taken is recorded as a
:class:`LoadFailure` and skipped; everything else keeps working.
"""

from __future__ import annotations

import difflib
import importlib.metadata as metadata
import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy
from pydantic import BaseModel

from . import hookspecs
from .components import KIND_BASES, KINDS, NAME_PATTERN, PLURALS, Component
from .errors import WorkbenchError

ENTRY_POINT_GROUP = "workbench.plugins"
BUILTIN_DISTRIBUTION = "deml-workbench"


@dataclass(frozen=True)
class ComponentEntry:
    """A registered component and where it came from."""

    kind: str
    name: str
    cls: type[Component]
    plugin: str
    distribution: str

    @property
    def summary(self) -> str:
        return self.cls.summary


@dataclass(frozen=True)
class LoadFailure:
    """A plugin (or one of its components) that could not be registered, and why."""

    plugin: str
    distribution: str
    error: str


class UnknownComponentError(WorkbenchError):
    def __init__(self, kind: str, name: str, suggestions: list[str], available: list[str]):
        self.kind, self.name, self.suggestions, self.available = kind, name, suggestions, available
        hint = f" Did you mean {' or '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        listing = ", ".join(available) if available else "(none registered)"
        super().__init__(f"{kind} {name!r} is not registered.{hint} Registered {PLURALS[kind]}: {listing}.")


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


@dataclass
class Registry:
    """Components by kind and name, plus the plugins that failed to load."""

    components: dict[str, dict[str, ComponentEntry]] = field(default_factory=lambda: {k: {} for k in KINDS})
    failures: list[LoadFailure] = field(default_factory=list)
    plugins: list[tuple[str, str]] = field(default_factory=list)
    commands: list[tuple[str, str, Any]] = field(default_factory=list)
    """``(plugin, distribution, register_commands implementation)`` for the command line."""

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def entries(self, kind: str) -> list[ComponentEntry]:
        return [self.components[kind][n] for n in self.names(kind)]

    def __iter__(self) -> Iterator[ComponentEntry]:
        for kind in KINDS:
            yield from self.entries(kind)

    def entry(self, kind: str, name: str) -> ComponentEntry:
        if kind not in self.components:
            raise WorkbenchError(f"unknown component kind {kind!r}; kinds are {', '.join(KINDS)}")
        try:
            return self.components[kind][name]
        except KeyError:
            names = self.names(kind)
            raise UnknownComponentError(kind, name, close_matches(name, names), names) from None

    def get(self, kind: str, name: str) -> type[Component]:
        return self.entry(kind, name).cls

    def build(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Component:
        """An instance of ``kind`` component ``name`` with validated ``params``."""
        cls = self.get(kind, name)
        return cls(cls.Params.model_validate(params or {}))

    # -- registration -------------------------------------------------------------------
    def add(self, cls: Any, kind: str, plugin: str, distribution: str) -> None:
        """Register ``cls`` as a ``kind`` component, or record why it cannot be."""
        problem = component_problem(cls, kind)
        if problem is None:
            existing = self.components[kind].get(cls.name)
            if existing is not None:
                problem = (
                    f"{kind} name {cls.name!r} is already registered by plugin {existing.plugin!r} "
                    f"({existing.distribution}); this registration was skipped"
                )
        if problem is not None:
            self.failures.append(LoadFailure(plugin, distribution, problem))
            return
        self.components[kind][cls.name] = ComponentEntry(kind, cls.name, cls, plugin, distribution)


def component_problem(cls: Any, kind: str) -> str | None:
    """Why ``cls`` cannot be a ``kind`` component, or ``None`` if it can."""
    base = KIND_BASES[kind]
    label = getattr(cls, "__qualname__", repr(cls))
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        return f"{label} was registered as a {kind} but is not a subclass of workbench.{base.__name__}"
    if inspect.isabstract(cls):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        return f"{kind} {label} does not implement {missing}"
    if not isinstance(cls.name, str) or not NAME_PATTERN.match(cls.name):
        return f"{kind} {label} has name {cls.name!r}; names are kebab-case, e.g. 'random-forest'"
    if not cls.summary:
        return f"{kind} {cls.name!r} has no summary"
    params = cls.Params
    if not (inspect.isclass(params) and issubclass(params, BaseModel)):
        return f"{kind} {cls.name!r}: Params must be a pydantic model (subclass workbench.Params)"
    if params.model_config.get("extra") != "forbid":
        return f"{kind} {cls.name!r}: Params must refuse unknown keys (subclass workbench.Params)"
    if kind == "model" and cls.fit_together and cls.fit_group is base.fit_group:
        return (f"model {cls.name!r} declares fit_together {tuple(cls.fit_together)} but does not implement fit_group, "
                "which the kernel calls with the sibling cells")
    return None


def _distribution_label(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    return f"{dist.metadata['Name']} {dist.version}"


def _entry_point_order(ep: metadata.EntryPoint) -> tuple[int, str, str]:
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else ""
    # Built-ins first, so a third party can never take a built-in's name.
    return (0 if dist_name == BUILTIN_DISTRIBUTION else 1, dist_name, ep.name)


def load_registry(entry_points: Iterable[metadata.EntryPoint] | None = None) -> Registry:
    """Load every plugin of the entry-point group (or the given entry points)."""
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    # Several installs of one distribution can show the same entry point twice.
    unique = {(ep.name, ep.value): ep for ep in entry_points}
    registry = Registry()
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    hookspecs.add_hookspecs(manager)
    for ep in sorted(unique.values(), key=_entry_point_order):
        source = _distribution_label(ep)
        try:
            plugin = ep.load()
        except Exception as error:  # any import-time failure must not take the CLI down
            registry.failures.append(LoadFailure(ep.name, source, f"import failed: {type(error).__name__}: {error}"))
            continue
        register_plugin(registry, manager, plugin, ep.name, source)
    return registry


def register_plugin(registry: Registry, manager: pluggy.PluginManager, plugin: Any, name: str, source: str) -> None:
    """Call ``plugin``'s registration hooks, isolating its failures from other plugins."""
    try:
        manager.register(plugin, name=name)
        implemented = [attr for attr in dir(plugin) if hasattr(getattr(plugin, attr, None), hookspecs.PROJECT + "_impl")]
        unknown = [attr for attr in implemented if attr not in hookspecs.KNOWN_HOOKS]
        if unknown:
            known = ", ".join(sorted(hookspecs.KNOWN_HOOKS))
            raise WorkbenchError(f"implements unknown hook(s) {', '.join(unknown)}; known hooks: {known}")
        if not implemented:
            hooks = [attr for attr in dir(plugin) if attr in hookspecs.KNOWN_HOOKS]
            hint = (f"its function(s) {', '.join(hooks)} lack the @workbench.hookimpl decorator" if hooks
                    else "it implements none of the hooks (register_models, register_datasets, ...)")
            raise WorkbenchError(f"registers nothing: {hint}")
    except Exception as error:
        registry.failures.append(LoadFailure(name, source, f"registration failed: {error}"))
        if manager.is_registered(plugin):
            manager.unregister(plugin)
        return
    registry.plugins.append((name, source))
    for impl in manager.hook.register_commands.get_hookimpls():
        if impl.plugin is plugin:
            registry.commands.append((name, source, impl.function))
    for kind, hook_name in hookspecs.HOOK_FOR_KIND.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            if impl.plugin is not plugin:
                continue
            try:
                impl.function(register=lambda cls, _k=kind: registry.add(cls, _k, name, source))
            except Exception as error:
                registry.failures.append(
                    LoadFailure(name, source, f"{hook_name} raised {type(error).__name__}: {error}")
                )


_default: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _default
    if _default is None:
        _default = load_registry()
    return _default


def reset_registry() -> None:
    """Forget the loaded registry (after installing a plugin in the same process)."""
    global _default
    _default = None
