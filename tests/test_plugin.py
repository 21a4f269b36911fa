"""The plug-in registry: subclassing registers, duplicates and unknown names are errors."""

from abc import ABC, abstractmethod

import pytest

from mlbudget.errors import ConfigError, UnknownPluginError
from mlbudget.plugin import Plugin, snake_case


class Widget(Plugin, ABC):
    plugin_kind = "widget"

    @abstractmethod
    def spin(self) -> str: ...


class RedWidget(Widget):
    name = "red"

    def spin(self) -> str:
        return "red"


def test_subclass_registers_under_its_name():
    assert Widget.lookup("red") is RedWidget
    assert Widget.registered() == {"red": RedWidget}


def test_unknown_name_lists_known_ones():
    with pytest.raises(UnknownPluginError, match=r"unknown widget 'blue'; known: red"):
        Widget.lookup("blue")


def test_entry_points_load_only_for_a_name_not_registered_yet(monkeypatch):
    import mlbudget.plugin as plugin

    scans: list[str] = []
    monkeypatch.setattr(plugin, "_entry_points_loaded", False)
    monkeypatch.setattr(plugin, "entry_points", lambda group: scans.append(group) or [])
    assert Widget.lookup("red") is RedWidget
    assert scans == []  # a registered name: no scan of the installed packages
    with pytest.raises(UnknownPluginError):
        Widget.lookup("blue")
    assert scans == [plugin.ENTRY_POINT_GROUP]


def test_duplicate_name_is_an_error():
    with pytest.raises(ConfigError, match=r"duplicate widget name 'red'"):

        class OtherRed(Widget):
            name = "red"

            def spin(self) -> str:
                return "other"


def test_concrete_plugin_without_a_name_is_an_error():
    with pytest.raises(ConfigError, match=r"must set a registry `name`"):

        class Nameless(Widget):
            def spin(self) -> str:
                return ""


def test_abstract_subclasses_do_not_register():
    class Intermediate(Widget, ABC):
        @abstractmethod
        def extra(self) -> None: ...

    assert "intermediate" not in Widget.registered()


def test_each_kind_has_its_own_registry():
    class Gadget(Plugin, ABC):
        plugin_kind = "gadget"

    class RedGadget(Gadget):
        name = "red"

    assert Gadget.lookup("red") is RedGadget
    assert Widget.lookup("red") is RedWidget


@pytest.mark.parametrize(
    "cls_name, expected",
    [("OrtStaticInt8Generator", "ort_static_int8_generator"), ("PsiDetector", "psi_detector"), ("KS", "ks")],
)
def test_snake_case(cls_name, expected):
    assert snake_case(cls_name) == expected
