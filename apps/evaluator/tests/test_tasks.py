"""Task plug-ins: seeded instances, prompts, search rewards and evaluations on known texts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mctd_eval.backends import load_lm
from mctd_eval.tasks import get_task, task_names
from mctd_eval.tasks.arith import final_number
from mctd_eval.tasks.keywords import coverage
from mctd_spectral import load_series


def test_registry_lists_valid_names() -> None:
    assert task_names() == [
        "forecast",
        "arith",
        "keywords",
        "prompts",
        "gmm2d",
        "maze-medium",
        "maze-large",
        "maze-giant",
        "digits",
    ]
    with pytest.raises(ValueError, match="valid tasks: forecast, arith, keywords"):
        get_task("nope")
    with pytest.raises(ValueError, match=r"valid: .*horizon"):
        get_task("forecast", {"horizn": 3})


def test_arith_instances_are_seeded_and_varied() -> None:
    task = get_task("arith")
    a, b = task.instances(9), task.instances(9)
    assert [i.label for i in a] == [i.label for i in b]
    assert {i.public.op for i in a} == {"+", "-", "*"}
    assert [len(str(i.public.a)) for i in a[::3]] == [1, 2, 3]
    for inst in a:
        q = inst.public
        assert inst.truth == eval(f"{q.a} {q.op} {q.b}")
    assert get_task("arith", {"seed": 1}).instances(3)[0].label != a[0].label


def test_arith_verifier_reads_the_final_number() -> None:
    assert final_number("23 + 58 = 81") == 81
    assert final_number("the answer is -1,024.") == -1024
    assert final_number("no digits") is None
    task = get_task("arith")
    assert task.reward_sees_truth  # explicit: a verifier-reward knows the answer
    r = task.search_reward(None, [], None, verifier=81)  # type: ignore[arg-type]
    assert r(["81", "23 + 58 = 81", "80", ""]).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert task.evaluate("= 81", None, 81)["success"] == 1.0
    with pytest.raises(ValueError, match="verifier"):
        task.search_reward(None, [], None)  # type: ignore[arg-type]


def test_forecast_instances_hold_out_the_future() -> None:
    task = get_task("forecast", {"series": ["nile", "sunspots"], "horizon": 6, "history": 20})
    insts = task.instances(3)
    nile = load_series("nile").values
    p0, p2 = insts[0], insts[2]
    assert p0.label == f"nile@{nile.size - 6}"
    np.testing.assert_array_equal(p0.truth, nile[-6:])
    np.testing.assert_array_equal(p0.public.observed, nile[:-6])
    np.testing.assert_array_equal(p2.truth, nile[-12:-6])  # second cut, one horizon earlier
    text = p0.public.text()
    assert text.endswith(",") and len(text.split(",")) == 21
    assert not any(str(int(v)) in text for v in p0.truth if v > 2000)  # the truth is not shown


def test_forecast_reward_prefers_valid_spectrally_close_text() -> None:
    task = get_task("forecast", {"series": ["sunspots"], "horizon": 8})
    inst = task.instances(1)[0]
    pub = inst.public
    reward = task.search_reward(None, [], pub)  # type: ignore[arg-type]
    cont = pub.codec.encode(pub.scaler.transform(pub.observed[-8:]))  # a plausible continuation
    half = ",".join(cont.split(",")[:4])
    r = reward([cont, half, "hello", ""])
    assert r[0] > r[2] and r[1] > r[2]  # parsed values beat nothing parsed
    assert r[2] == r[3]  # no number: validity 0 and a flat forecast's distance, a defined value
    assert np.all(np.isfinite(r))


def test_forecast_evaluation_against_truth() -> None:
    task = get_task("forecast", {"series": ["co2"], "horizon": 8})
    inst = task.instances(1)[0]
    pub = inst.public
    exact = pub.codec.encode(pub.scaler.transform(inst.truth))
    ev = task.evaluate(exact, pub, inst.truth)
    assert ev["validity"] == 1.0 and ev["mase"] < 0.5 and ev["success"] == 1.0
    bad = task.evaluate("oops", pub, inst.truth)
    assert bad["success"] == 0.0 and math.isnan(bad["mase"])
    partial = task.evaluate(",".join(exact.split(",")[:7]), pub, inst.truth)
    assert partial["validity"] == pytest.approx(7 / 8) and partial["success"] == 0.0


def test_keywords_coverage_and_reward() -> None:
    assert coverage("Dogs ran by the river.", ["dog", "river", "moon"]) == pytest.approx(2 / 3)
    assert coverage("hotdog", ["dog"]) == 0.0
    task = get_task("keywords", {"words": 2})
    inst = task.instances(1)[0]
    assert inst.public == inst.truth and len(inst.public) == 2
    lm = load_lm("toy")
    prompt = task.prompt_ids(lm, inst.public)
    reward = task.search_reward(lm, prompt, inst.public)
    both = f"the {inst.public[0]} and the {inst.public[1]}"
    r = reward([both, inst.public[0], "zzz"])
    assert r[0] > r[1] > r[2]
    assert task.evaluate(both, inst.public, inst.truth)["success"] == 1.0
