"""The thought stack: at most S slots, eviction by score, position-dependent cross-attention."""

from __future__ import annotations

import torch
from mctd_thought import ThoughtStack
from mctd_thought.testing import tiny_config, tiny_model


def test_stack_keeps_at_most_s_slots_and_evicts_by_score() -> None:
    cfg = tiny_config(slots=3)
    st = ThoughtStack.empty(cfg, 1)
    scores = [5.0, 1.0, 3.0, 4.0, 0.5, 6.0]
    for i, s in enumerate(scores):
        cells = torch.full((1, cfg.height, cfg.width, cfg.d_thought), float(i))
        st = st.push(cells, torch.tensor([s]))
        assert int(st.count()) == min(i + 1, 3) and st.valid.shape == (1, 3)
        kept = sorted(range(i + 1), key=lambda j: -scores[j])[:3]
        got = {int(st.cells[0, k, 0, 0, 0]) for k in range(3) if st.valid[0, k]}
        assert got == set(kept)
    # newest first among the kept: 6.0 (pushed last), then 4.0, then 5.0
    assert st.score[0].tolist() == [6.0, 4.0, 5.0]


def test_recency_eviction_keeps_the_newest() -> None:
    model = tiny_model("thought", seed=1, eviction="recency", slots=2)
    st = model.empty_stack(1)
    texts = [torch.full((1, 5), v) for v in (3, 4, 5)]
    for t in texts:
        st = model.write(t, st)
    want = [model.make_thought(t)[0] for t in texts[::-1][:2]]
    for k in range(2):
        torch.testing.assert_close(st.cells[0, k], want[k][0])


def test_cross_attention_is_position_dependent() -> None:
    """Two positions with the same hidden state read different values from thought cells that
    differ (not one pooled vector added everywhere), and the read changes with the cells."""
    model = tiny_model("thought", seed=2)
    cfg = model.cfg
    xattn = model.blocks[0].xattn
    assert xattn is not None
    st = ThoughtStack.empty(cfg, 1).push(
        torch.randn(1, cfg.height, cfg.width, cfg.d_thought), torch.tensor([0.0])
    )
    mem = model.memories(st)[0]
    assert mem is not None
    h = torch.randn(1, 1, cfg.d_model).expand(1, 6, -1)
    with torch.no_grad():
        out = xattn(h, torch.arange(6), mem)
    assert not torch.allclose(out[0, 0], out[0, 3], atol=1e-4)
    # same cell content everywhere: every position reads the same value (softmax of one value)
    flat = ThoughtStack.empty(cfg, 1).push(
        torch.ones(1, cfg.height, cfg.width, cfg.d_thought), torch.tensor([0.0])
    )
    model.row_pos.data.zero_()
    model.col_pos.data.zero_()
    model.slot_pos.data.zero_()
    mem2 = model.memories(flat)[0]
    assert mem2 is not None
    with torch.no_grad():
        same = xattn(h, torch.arange(6), mem2)
    torch.testing.assert_close(same[0, 0], same[0, 3])


def test_empty_stack_reads_nothing_and_thought_changes_the_output() -> None:
    model = tiny_model("thought", seed=3)
    x = torch.randint(0, 29, (1, 10))
    with torch.no_grad():
        none = model(x)
        empty = model(x, model.empty_stack(1))
        full = model(x, model.write(torch.randint(0, 29, (1, 8)), model.empty_stack(1)))
    torch.testing.assert_close(none, empty)
    assert not torch.allclose(none, full)
