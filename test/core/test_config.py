"""The config machinery: typed fields, nested configs, shared fields, generated flags, the registry."""
import argparse
from dataclasses import dataclass

import pytest

from sarl_ros.core.config import (Config, add_arguments, config_class, from_arguments, register_config, setting,
                                  setting_of)


@dataclass(frozen=True)
class Inner(Config):
    width: int = setting(8, 'a width', low=1)
    scale: float | None = setting(None, 'unset: derived')


@dataclass(frozen=True)
class Outer(Config):
    rate: float = setting(0.5, 'a rate', low=0.0, high=1.0)
    inner: Inner = setting(Inner(width=4), 'nested settings')
    shared: float = setting_of(Inner, 'width', 'the inner width, shared')


def test_a_nested_config_is_changed_by_a_mapping_onto_the_fields_default():
    outer = Outer(inner={'scale': 2})
    assert outer.inner == Inner(width=4, scale=2.0)  # width kept from Outer's default, scale converted
    assert Outer(**Outer().as_dict()) == Outer()
    with pytest.raises(ValueError, match='width=0 is below its minimum 1'):
        Outer(inner={'width': 0})
    with pytest.raises(ValueError, match='must be a Inner or a mapping'):
        Outer(inner=3)


def test_an_optional_field_keeps_none_and_converts_a_value():
    assert Inner().scale is None and Inner(scale='1.5').scale == 1.5


def test_setting_of_shares_default_and_range_but_not_the_help():
    spec = next(s for s in Outer.settings() if s.name == 'shared')
    assert (spec.default, spec.low, spec.help) == (8, 1, 'the inner width, shared')
    with pytest.raises(TypeError, match='shares the default'):
        setting_of(Inner, 'width', default=3)
    with pytest.raises(ValueError, match='no field depth'):
        setting_of(Inner, 'depth')


def test_given_only_flags_set_nothing_unless_given():
    parser = argparse.ArgumentParser()
    add_arguments(parser, Outer, only=('rate',), given_only=True)
    assert not hasattr(parser.parse_args([]), 'rate')
    assert parser.parse_args(['--rate', '0.25']).rate == 0.25
    assert '(default: 0.5)' in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(['--rate', '2'])
    full = argparse.ArgumentParser()
    add_arguments(full, Outer, only=('rate',))
    assert from_arguments(full.parse_args([]), Outer) == Outer()


def test_a_name_is_registered_once():
    @register_config('run', 'test_config_once')
    @dataclass(frozen=True)
    class Once(Config):
        n: int = setting(1, 'n')

    assert config_class('run', 'test_config_once') is Once
    with pytest.raises(ValueError, match='registered already'):
        register_config('run', 'test_config_once')(Outer)
