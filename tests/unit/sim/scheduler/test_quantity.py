from fractions import Fraction

import pytest

from app.sim.machinery.quantity import (
    QuantityError,
    format_cpu,
    format_memory,
    milli_value,
    parse_quantity,
    resource_value,
    value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100m", Fraction(1, 10)),
        ("1", Fraction(1)),
        ("1.5", Fraction(3, 2)),
        ("2Gi", Fraction(2 * 2**30)),
        ("512Mi", Fraction(512 * 2**20)),
        ("1e3", Fraction(1000)),
        ("1E-2", Fraction(1, 100)),
        ("5k", Fraction(5000)),
        ("1M", Fraction(10**6)),
        ("250u", Fraction(1, 4000)),
        (".5", Fraction(1, 2)),
        ("-1", Fraction(-1)),
        (3, Fraction(3)),
    ],
)
def test_parse_quantity_exact(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "Mi", "1.2.3", "10 Mi", "1Kb", "abc", "1ii"])
def test_malformed_quantities_are_rejected(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_milli_value_rounds_up_like_apimachinery():
    assert milli_value("100m") == 100
    assert milli_value("1") == 1000
    assert milli_value("1.5") == 1500
    assert milli_value("0.1m") == 1  # MilliValue rounds up
    assert milli_value("1e3") == 1_000_000


def test_value_rounds_up_bytes():
    assert value("2Gi") == 2147483648
    assert value("512Mi") == 536870912
    assert value("1.5") == 2
    assert value("100m") == 1


def test_resource_value_uses_millicores_for_cpu_only():
    assert resource_value("cpu", "250m") == 250
    assert resource_value("memory", "1Ki") == 1024
    assert resource_value("nvidia.com/gpu", "2") == 2


def test_formatting_helpers():
    assert format_cpu(2000) == "2"
    assert format_cpu(250) == "250m"
    assert format_memory(2 * 2**30) == "2Gi"
    assert format_memory(512 * 2**20) == "512Mi"
    assert format_memory(1000) == "1000"
