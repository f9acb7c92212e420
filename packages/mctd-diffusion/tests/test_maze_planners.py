import numpy as np
import pytest
import torch
from mctd_diffusion.maze import planners as PL
from mctd_diffusion.maze.maps import MazeMap, cell_to_xy
from mctd_diffusion.maze.planner import (
    PlannerArch,
    SkipX0Denoiser,
    add_fourier_inputs,
    build_model,
    position_features,
)
from mctd_diffusion.maze.pyramid import PlanDenoiser

MAZE = MazeMap.load("medium")
START, GOAL = cell_to_xy((5, 3)), cell_to_xy((4, 2))


def _arch(every: int = 1, **kw) -> PlannerArch:
    """A tiny planner of 40-step plans; ``kw`` overrides any field."""
    base = dict(token_size=4, plan_steps=40, d_model=16, n_layers=1, n_heads=2, neighbour=True)
    return PlannerArch(every=every, **(base | kw))


def _den(every: int = 1, levels: int = 4, **kw) -> PlanDenoiser:
    cfg = _arch(every, **kw)
    torch.manual_seed(0)
    return PlanDenoiser(build_model(cfg), cfg, levels=levels)


def test_pyramid_schedule_shape():
    den = _den()
    lv = den.pyramid_levels(torch.tensor([0, 4, den.last_row]))
    assert (lv[0] == 4).all() and (lv[2] == 0).all()
    assert lv[1].tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 4, 4]
    assert den.last_row == 4 + 10 - 1


def test_df_counts_calls_and_guided_nfe():
    den = _den()
    res = PL.plan_df(den, MAZE, START, GOAL, seed=0, scale=1.0)
    assert res.calls == den.last_row and res.nfe == 2 * den.last_row
    assert res.plan.shape[1] == 2
    res0 = PL.plan_df(den, MAZE, START, GOAL, seed=0, scale=0.0)
    assert res0.nfe == den.last_row


@pytest.mark.parametrize(
    "name, every, kw",
    [
        ("diffuser", 1, {}),
        ("df", 1, {}),
        ("best_of_n", 1, {"n": 6}),
        ("mctd", 1, {"budget": 8}),
        ("p_mctd", 1, {"budget": 8, "parallel": 4}),
        ("s_mctd", 5, {"budget": 8}),
        ("fast_mctd", 5, {"budget": 8, "parallel": 4}),
    ],
)
def test_every_planner_runs_untrained(name, every, kw):
    den = _den(every)
    fn = {"diffuser": PL.plan_diffuser, "df": PL.plan_df, "best_of_n": PL.plan_best_of_n}.get(
        name, PL.plan_mctd
    )
    res = fn(den, MAZE, START, GOAL, seed=1, **kw)
    assert res.plan.ndim == 2 and res.plan.shape[1] == 2 and np.isfinite(res.plan).all()
    assert res.hold == every and res.nfe > 0 and res.calls > 0
    assert 0 <= res.rejected_frac <= 1
    # for figures: every complete plan made or simulated, with its rejected flag
    cands, flags = res.info["candidates"], res.info["rejected"]
    assert len(cands) == len(flags) == res.simulated and sum(flags) == res.rejected
    assert all(c.ndim == 2 and c.shape[1] == 2 for c in cands)
    if name.endswith("mctd"):
        assert len(res.info["tree"]) > 1 and res.info["levels"] == PL.GUIDANCE_LEVELS


def test_mctd_is_deterministic_for_a_seed():
    a = PL.plan_mctd(_den(), MAZE, START, GOAL, budget=10, parallel=3, seed=4)
    b = PL.plan_mctd(_den(), MAZE, START, GOAL, budget=10, parallel=3, seed=4)
    assert np.array_equal(a.plan, b.plan) and (a.nfe, a.calls) == (b.nfe, b.calls)
    c = PL.plan_mctd(_den(), MAZE, START, GOAL, budget=10, parallel=3, seed=5)
    assert not np.array_equal(a.plan, c.plan)


def test_parallel_mctd_uses_fewer_sequential_calls():
    seq = PL.plan_mctd(_den(), MAZE, START, GOAL, budget=24, parallel=1, seed=0)
    par = PL.plan_mctd(_den(), MAZE, START, GOAL, budget=24, parallel=8, seed=0)
    assert seq.expansions == par.expansions == 24
    assert par.calls * 3 <= seq.calls


def test_relative_plans_decode_from_the_start():
    den = _den(relative=True)
    plans = den.decode(torch.zeros(2, den.n_tokens, den.cfg.token_dim), START)
    assert plans.shape == (2, 40, 2) and np.allclose(plans, START, atol=1e-5)
    res = PL.plan_mctd(den, MAZE, START, GOAL, seed=1, budget=6, parallel=3)
    assert np.isfinite(res.plan).all() and res.nfe > 0


def test_relative_wall_projection_keeps_states_free():
    from mctd_diffusion.maze.value import in_wall

    den = _den(relative=True)
    den.project_walls = True
    res = PL.plan_df(den, MAZE, START, GOAL, seed=2, scale=0.0)
    plan = res.plan[: len(res.plan) - 1]  # the last state may be the goal appended on reach
    assert not in_wall(MAZE, plan).any()


def test_transition_is_the_guided_ddim_step():
    """Through scheduler.step and guidance: x0' = x0 + s(1 - abar_t)/sqrt(abar_t)·∇J,
    eps' = eps - s·sqrt(1 - abar_t)·∇J, x_p = sqrt(abar_p)·x0' + sqrt(1 - abar_p)·eps' on the
    tokens that move, per element scale s (0: unguided); clean and waiting tokens unchanged."""
    den = _den(levels=6)
    b = 3
    x = den.noise(b, np.random.default_rng(0))
    st, gl = den.endpoints(START, GOAL, b)
    rows = torch.tensor([3, 5, 8])
    k_from, k_to = den.pyramid_levels(rows), den.pyramid_levels(rows + 2)
    scales = torch.tensor([0.0, 1.0, 2.0])
    out = den.transition(x, st, gl, k_from, k_to, scales)

    t_from, t_to = den._t_of_level[k_from], den._t_of_level[k_to]
    t_in = torch.cat([torch.zeros(b, 1, dtype=torch.long), t_from.clamp_min(0)], dim=1)
    xg = x.clone().requires_grad_(True)
    x0 = den.model(torch.cat([den.codec.context(st), xg], dim=1), t_in)[:, 1:]
    x0 = torch.where((k_from == 0)[..., None], xg, x0)
    (grad,) = torch.autograd.grad(den.objective(x0, st, gl).sum(), xg)
    x0 = x0.detach()
    ab_t, ab_p = den.scheduler.abar(t_from, x), den.scheduler.abar(t_to, x)
    s = scales[:, None, None]
    moving = (k_to < k_from)[..., None]
    eps = (x - ab_t.sqrt() * x0) / (1 - ab_t).clamp_min(1e-12).sqrt()
    eps = eps - s * (1 - ab_t).sqrt() * grad
    x0 = x0 + s * (1 - ab_t) / ab_t.sqrt() * grad
    expect = torch.where(moving, ab_p.sqrt() * x0 + (1 - ab_p).sqrt() * eps, x)
    torch.testing.assert_close(out, expect, atol=1e-5, rtol=1e-5)
    assert moving.any() and (~moving).any()
    assert torch.equal(out[~moving.expand_as(out)], x[~moving.expand_as(x)])


@pytest.mark.parametrize("net", ["transformer", "unet"])
@pytest.mark.parametrize("relative", [False, True])
def test_inpainting_keeps_the_start_exactly(net, relative):
    """Every planner's plans start at the start state itself (state 0 written at every step),
    and with "start_goal" end at the goal."""
    kw = {"net": net, "relative": relative}
    den = _den(inpaint="start", **kw)
    start_u, goal_u = den.endpoints(START, GOAL, 1)
    for fn in (PL.plan_df, PL.plan_diffuser):
        res = fn(den, MAZE, START, GOAL, seed=3, scale=1.0)
        assert np.allclose(res.info["candidates"][0][0], START, atol=1e-5)
    res = PL.plan_mctd(den, MAZE, START, GOAL, seed=1, budget=6, parallel=3)
    assert all(np.allclose(c[0], START, atol=1e-5) for c in res.info["candidates"])
    x = den.advance(
        den.noise(2, np.random.default_rng(0)),
        *den.endpoints(START, GOAL, 2),
        torch.zeros(2, dtype=torch.long),
        torch.full((2,), den.last_row),
        torch.tensor([0.0, 2.0]),
    )
    first = den.codec.to_states(x)[:, 0]
    assert torch.equal(first, (start_u - start_u if relative else start_u).expand(2, 2))
    both = _den(inpaint="start_goal", **kw)
    plans = np.array(PL.plan_df(both, MAZE, START, GOAL, seed=3).info["candidates"])
    assert np.allclose(plans[:, 0], START, atol=1e-5) and np.allclose(plans[:, -1], GOAL, atol=1e-5)
    assert not torch.equal(goal_u, start_u)


def test_plans_without_inpainting_do_not_pin_the_start():
    res = PL.plan_df(_den(), MAZE, START, GOAL, seed=3)
    assert not np.allclose(res.info["candidates"][0][0], START, atol=1e-2)


@pytest.mark.parametrize("net", ["transformer", "unet"])
@pytest.mark.parametrize("token_size", [1, 2, 4, 5, 8, 10, 20, 40])
@pytest.mark.parametrize("fourier", [0, 3])
def test_shapes_for_every_token_size(net, token_size, fourier):
    cfg = _arch(
        token_size=token_size, d_model=8, net=net, unet_levels=2, inpaint="start",
        neighbour=net == "transformer", fourier=fourier,
    )  # fmt: skip
    model = build_model(cfg)
    n = 40 // token_size
    assert (cfg.n_tokens, cfg.token_dim) == (n, 2 * token_size)
    x, t = torch.randn(3, n + 1, 2 * token_size), torch.randint(0, 1000, (3, n + 1))
    assert model(x, t).shape == x.shape
    den = PlanDenoiser(model, cfg, levels=2)
    assert den.last_row == 2 + n - 1
    res = PL.plan_df(den, MAZE, START, GOAL, seed=0, scale=0.0)
    assert res.calls == den.last_row and res.info["candidates"][0].shape == (40, 2)


def test_position_features_closed_form():
    """sin / cos of 2π·u / period for the periods 8, 4, 2, ...: exact values on a grid, period 8
    in every octave, and cell boundaries (integer u) at zero phase of the 1-unit octave."""
    u = torch.tensor([[0.0, 1.0], [2.0, -0.25]])
    f = position_features(u, 4)  # per coordinate: sin x4 then cos x4
    assert f.shape == (2, 2 * 2 * 4)
    periods = torch.tensor([8.0, 4.0, 2.0, 1.0])
    for i in range(2):
        for d in range(2):
            ang = 2 * torch.pi * u[i, d] / periods
            torch.testing.assert_close(f[i, d * 8 : d * 8 + 4], ang.sin())
            torch.testing.assert_close(f[i, d * 8 + 4 : d * 8 + 8], ang.cos())
    torch.testing.assert_close(position_features(u + 8, 4), f, atol=1e-5, rtol=0)
    assert position_features(torch.arange(-3.0, 4.0)[:, None], 4)[:, 3].abs().max() < 1e-5


class _Record(torch.nn.Module):
    """A stand-in network that keeps its input and predicts zeros."""

    def forward(self, inp, t):
        self.inp = inp
        return torch.zeros(*inp.shape[:-1], 8)


def test_fourier_inputs_are_features_of_the_clean_estimate():
    """The network reads [x_t, abar_t·features(x_t / sqrt(abar_t)), neighbour inputs], per token
    level."""
    abar = torch.linspace(0.99, 0.01, 1000)
    den = SkipX0Denoiser(_Record(), abar, neighbour=True, fourier=3)
    x, t = torch.randn(2, 5, 8), torch.randint(0, 1000, (2, 5))
    den(x, t)
    inp = den.net.inp
    assert inp.shape[-1] == 8 + 8 * 2 * 3 + 8 + 1
    torch.testing.assert_close(inp[..., :8], x)
    ab = abar[t][..., None]
    torch.testing.assert_close(inp[..., 8:56], ab * position_features(x / ab.sqrt(), 3))
    torch.testing.assert_close(inp[:, 1:, 56:64], x[:, :-1])
    plain = SkipX0Denoiser(_Record(), abar, neighbour=True)
    plain(x, t)
    assert plain.net.inp.shape[-1] == 17


@pytest.mark.parametrize("neighbour", [True, False])
def test_added_fourier_inputs_start_as_the_base_function(neighbour):
    """A planner grown from one without position features predicts exactly what the base does
    (every weight of the base randomised, so no zero hides a wrong column), then trains the
    feature weights; growing anything else is refused."""
    base = build_model(_arch(anchor=True, neighbour=neighbour))
    torch.manual_seed(1)
    for p in base.parameters():
        p.data.normal_()
    grown = build_model(_arch(anchor=True, neighbour=neighbour, fourier=3))
    add_fourier_inputs(base, grown)
    x, t = torch.randn(3, 10, 8, dtype=torch.float64), torch.randint(0, 1000, (3, 10))
    # float64, so a sum over the wider input agrees to 1e-12; a wrong column differs by O(1)
    torch.testing.assert_close(grown.double()(x, t), base.double()(x, t), rtol=0, atol=1e-12)
    grown(x, t).square().sum().backward()
    assert grown.net.inp.weight.grad[:, 8:56].abs().sum() > 0
    with pytest.raises(ValueError, match="without features"):
        add_fourier_inputs(grown, build_model(_arch(fourier=3)))
    with pytest.raises(ValueError, match="differ in"):
        add_fourier_inputs(base, build_model(_arch(anchor=True, d_model=8, fourier=3)))


def test_bad_planner_options_are_refused():
    with pytest.raises(ValueError, match="net"):
        PlannerArch(net="mlp")
    with pytest.raises(ValueError, match="inpaint"):
        PlannerArch(inpaint="goal")
    with pytest.raises(ValueError, match="fourier"):
        PlannerArch(fourier=-1)
    with pytest.raises(ValueError, match="tokens of 3"):
        _ = PlannerArch(token_size=3, plan_steps=40).n_tokens
