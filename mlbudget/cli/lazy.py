"""Commands imported only when they run: ``mlbudget --help`` and fast commands start in a fraction of a second.

Each command is named in a table with the module and attribute that define it
(a typer command function or a ``typer.Typer`` sub-app) and its one-line help.
Listing commands costs nothing; running one imports its module alone.
"""

from __future__ import annotations

import importlib

import click
import typer
from typer.core import TyperGroup


class LazyCommand(click.Command):
    """A placeholder that shows a one-line help and hands parsing and running to the real command."""

    def __init__(self, name: str, target: str, short_help: str):
        super().__init__(name, help=short_help, short_help=short_help)
        self.target = target
        self._real: click.Command | None = None

    def real(self) -> click.Command:
        """The command itself, imported on first use."""
        if self._real is None:
            module, attribute = self.target.split(":")
            obj = getattr(importlib.import_module(module), attribute)
            if isinstance(obj, typer.Typer):
                command = typer.main.get_group(obj)
            else:
                single = typer.Typer()
                single.command(self.name)(obj)
                command = typer.main.get_command(single)
            command.name = self.name
            self._real = command
        return self._real

    def make_context(self, info_name, args, parent=None, **extra):
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def get_params(self, ctx):
        return self.real().get_params(ctx)

    def invoke(self, ctx):
        return self.real().invoke(ctx)


class LazyGroup(TyperGroup):
    """A typer group whose ``lazy_commands`` (name -> (``module:attribute``, help)) load on use."""

    lazy_commands: dict[str, tuple[str, str]] = {}

    def list_commands(self, ctx) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx, name: str):
        if name in self.lazy_commands:
            target, short_help = self.lazy_commands[name]
            return LazyCommand(name, target, short_help)
        return super().get_command(ctx, name)
