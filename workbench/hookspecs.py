"""The hooks a plugin implements: one per kind of component, plus one for commands.

A plugin is a module (or object) named by an entry point in the group ``workbench.plugins``::

    [project.entry-points."workbench.plugins"]
    my-plugin = "my_package.plugin"

It implements any of the hooks below with ``@workbench.hookimpl``. Each ``register_<kinds>``
hook receives a ``register`` callback; call it once per component class::

    from workbench import hookimpl

    @hookimpl
    def register_models(register):
        register(MyModel)

The component hooks are ``register_datasets``, ``register_representations``,
``register_models``, ``register_curricula``, ``register_simulators``, ``register_metrics``,
``register_figures`` and ``register_executors``: one per entry of
:data:`workbench.components.KIND_TABLE`, from which they are generated (so a new kind gets its
hook without another list to keep in step). ``register_commands(app)`` adds sub-commands to the
``workbench`` command line.

Built-in plugins are found through the same entry-point group, exactly like third-party ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from .components import KIND_TABLE, Kind

PROJECT = "workbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[type], None]


def _component_hook(kind: Kind) -> Callable[..., None]:
    def hook(register: Register) -> None:
        pass

    hook.__name__ = hook.__qualname__ = kind.hook
    hook.__doc__ = (
        f"Register :class:`workbench.{kind.base.__name__}` subclasses: {kind.description}. "
        f"Call ``register(cls)`` once per class."
    )
    return hookspec(hook)


class ComponentHooks:
    """The pluggy hook specifications, one ``register_<kinds>(register)`` per kind."""


for _kind in KIND_TABLE:
    setattr(ComponentHooks, _kind.hook, staticmethod(_component_hook(_kind)))


class CommandHooks:
    @staticmethod
    @hookspec
    def register_commands(app: Any) -> None:
        """Add commands to the ``workbench`` command line. ``app`` is its ``typer.Typer``;
        add a group of commands with ``app.add_typer(my_app, name="myplugin")`` (preferred:
        it keeps the top-level namespace for the kernel) or one with ``app.command(...)``.
        Import heavy modules inside the commands, not here: this hook runs at every start."""


HOOK_FOR_KIND: dict[str, str] = {kind.name: kind.hook for kind in KIND_TABLE}
COMMAND_HOOK = "register_commands"
KNOWN_HOOKS: frozenset[str] = frozenset(HOOK_FOR_KIND.values()) | {COMMAND_HOOK}


def add_hookspecs(manager: pluggy.PluginManager) -> None:
    manager.add_hookspecs(ComponentHooks)
    manager.add_hookspecs(CommandHooks)
