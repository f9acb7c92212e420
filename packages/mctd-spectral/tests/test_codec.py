from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mctd_spectral import Scaler, SeriesCodec

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def codecs(draw: st.DrawFn) -> SeriesCodec:
    digit_sep = draw(st.sampled_from(["", " "]))
    seps = [" , ", ";"] if digit_sep else [", ", " , ", " ", ";", "\n", " | "]
    return SeriesCodec(
        precision=draw(st.integers(0, 6)),
        separator=draw(st.sampled_from(seps)),
        drop_decimal_point=draw(st.booleans()),
        digit_separator=digit_sep,
    )


@settings(max_examples=200, deadline=None)
@given(codec=codecs(), xs=st.lists(finite, min_size=1, max_size=40))
def test_round_trip_is_exact_to_the_precision(codec: SeriesCodec, xs: list[float]) -> None:
    x = np.array(xs)
    text = codec.encode(x)
    values, validity = codec.decode(text, x.size)
    assert validity == 1.0
    half_ulp = 0.5 * 10.0**-codec.precision
    np.testing.assert_array_less(np.abs(values - x), half_ulp * (1 + 1e-9) + 1e-9)
    # The decoded values are exactly the written decimals: re-encoding gives the same text.
    assert codec.encode(values) == text


@settings(max_examples=300, deadline=None)
@given(codec=codecs(), text=st.text(), n=st.integers(1, 30))
def test_parsing_never_raises_on_arbitrary_text(codec: SeriesCodec, text: str, n: int) -> None:
    values, validity = codec.decode(text, n)
    assert values.shape == (n,)
    assert 0.0 <= validity <= 1.0
    assert validity * n == pytest.approx(np.isfinite(values).sum())


@settings(max_examples=300, deadline=None)
@given(
    codec=codecs(),
    text=st.text(alphabet="0123456789.-, e+x\n;|", max_size=200),
    n=st.integers(1, 30),
    fill=st.sampled_from(["nan", "last"]),
)
def test_parsing_never_raises_on_number_like_text(
    codec: SeriesCodec, text: str, n: int, fill: str
) -> None:
    values, validity = codec.decode(text, n, fill=fill)  # type: ignore[arg-type]
    assert values.shape == (n,)
    assert 0.0 <= validity <= 1.0
    if fill == "last" and validity > 0:
        assert np.isfinite(values).all()


def test_llmtime_formats() -> None:
    c = SeriesCodec(precision=3, separator=" , ", drop_decimal_point=True)
    assert c.encode([0.512, 0.012, 1.5, -0.2, -0.0001, 0.0]) == "512 , 12 , 1500 , -200 , 0 , 0"
    c = SeriesCodec(precision=2, separator=" , ", drop_decimal_point=True, digit_separator=" ")
    assert c.encode([1.23, -0.45]) == "1 2 3 , - 4 5"
    np.testing.assert_allclose(c.decode("1 2 3 , - 4 5", 2)[0], [1.23, -0.45])
    assert SeriesCodec(precision=2).encode([1.0, -0.004, 2.345678]) == "1.00, 0.00, 2.35"
    assert SeriesCodec().encode([]) == ""


def test_tolerant_decoding_and_validity() -> None:
    c = SeriesCodec(precision=3)
    # Stray tokens and a partial last number.
    values, v = c.decode("Sure! 0.512, 0.498,abc 0.53", 3)
    np.testing.assert_allclose(values, [0.512, 0.498, 0.53])
    assert v == 1.0
    # Fewer values than asked: NaN-padded, validity = fraction parsed.
    values, v = c.decode("0.1, 0.2", 4)
    assert v == 0.5
    np.testing.assert_array_equal(np.isnan(values), [False, False, True, True])
    values, v = c.decode("0.1, 0.2", 4, fill="last")
    np.testing.assert_allclose(values, [0.1, 0.2, 0.2, 0.2])
    # More values than asked: the first n are kept.
    values, v = c.decode("1, 2, 3, 4, 5", 3)
    np.testing.assert_allclose(values, [1, 2, 3])
    assert v == 1.0
    # Nothing numeric at all.
    values, v = c.decode("I cannot forecast this.", 5, fill="last")
    assert v == 0.0 and np.isnan(values).all()
    # An overflowing number occupies its slot but is not valid.
    values, v = c.decode("9" * 400 + ", 0.5", 2, fill="last")
    assert v == 0.5
    np.testing.assert_allclose(values, [0.5, 0.5])
    # Dropped decimal point: integers are scaled back.
    values, _ = SeriesCodec(precision=3, drop_decimal_point=True).decode("512, 12, -7", 3)
    np.testing.assert_allclose(values, [0.512, 0.012, -0.007])


def test_codec_bad_arguments() -> None:
    with pytest.raises(ValueError, match="separator"):
        SeriesCodec(separator="")
    with pytest.raises(ValueError, match="digits"):
        SeriesCodec(separator="0")
    with pytest.raises(ValueError, match="indistinguishable"):
        SeriesCodec(separator=" ", digit_separator=" ")
    with pytest.raises(ValueError, match="precision"):
        SeriesCodec(precision=-1)
    with pytest.raises(ValueError, match="NaN"):
        SeriesCodec().encode([1.0, np.nan])
    with pytest.raises(ValueError, match="1-D"):
        SeriesCodec().encode(np.ones((2, 2)))
    with pytest.raises(ValueError, match="n_expected"):
        SeriesCodec().decode("1, 2", 0)
    with pytest.raises(ValueError, match="n_expected"):
        SeriesCodec().decode("1, 2", 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fill"):
        SeriesCodec().decode("1, 2", 2, fill="zero")  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(
    xs=st.lists(st.floats(-1e5, 1e5, allow_nan=False), min_size=1, max_size=50),
    basic=st.booleans(),
    percentile=st.floats(50, 100),
    target=st.floats(0.1, 100),
)
def test_scaler_inverse_and_percentile(
    xs: list[float], basic: bool, percentile: float, target: float
) -> None:
    h = np.array(xs)
    s = Scaler.fit(h, percentile=percentile, target=target, basic=basic)
    np.testing.assert_allclose(s.inverse_transform(s.transform(h)), h, rtol=1e-9, atol=1e-6)
    z = s.transform(h)
    if basic:
        q = np.percentile(np.abs(h), percentile)
        if q >= 0.01:
            assert np.percentile(np.abs(z), percentile) == pytest.approx(target, rel=1e-6)
    elif np.ptp(h) > 0:
        assert (z > 0).all()  # shifted below the minimum by beta * range
        assert np.percentile(z, percentile) == pytest.approx(target, rel=1e-6)


def test_scaler_documented_values_and_errors() -> None:
    s = Scaler.fit(np.full(10, 7.0))
    assert s.transform([7.0]).tolist() == [0.0]
    assert s.inverse_transform([0.0]).tolist() == [7.0]
    s = Scaler.fit([0.0, 0.0], basic=True)
    assert s.scale == 0.01
    s = Scaler.fit([1.0, 2.0, 3.0, 11.0], basic=True, percentile=100, target=10.0)
    assert s.transform([11.0]).tolist() == [10.0]
    assert np.isnan(s.transform([np.nan])[0])
    with pytest.raises(ValueError, match="empty"):
        Scaler.fit([])
    with pytest.raises(ValueError, match="NaN"):
        Scaler.fit([1.0, np.nan])
    with pytest.raises(ValueError, match="percentile"):
        Scaler.fit([1.0, 2.0], percentile=0)
    with pytest.raises(ValueError, match="target"):
        Scaler.fit([1.0, 2.0], target=-1)
    with pytest.raises(ValueError, match="scale"):
        Scaler(0.0, 0.0)


def test_llm_forecast_pipeline() -> None:
    history = 100 + 10 * np.sin(np.arange(60) / 3)
    scaler = Scaler.fit(history)
    codec = SeriesCodec(precision=3, separator=" , ", drop_decimal_point=True)
    prompt = codec.encode(scaler.transform(history))
    assert prompt.count(" , ") == 59
    generated = "1012 , 998 , 95"  # a model that stopped early, mid-number
    values, validity = codec.decode(generated, 4, fill="last")
    forecast = scaler.inverse_transform(values)
    assert validity == 0.75
    assert forecast.shape == (4,) and np.isfinite(forecast).all()
    assert forecast[0] == pytest.approx(1.012 * scaler.scale + scaler.shift)
