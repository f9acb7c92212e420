import numpy as np
import torch
from mctd_diffusion.maze.maps import MazeMap
from mctd_diffusion.maze.pyramid import limit_steps, project_free
from mctd_diffusion.maze.value import in_wall


def test_project_free_moves_only_wall_points():
    maze = MazeMap.load("medium")
    p = torch.from_numpy(np.random.default_rng(0).uniform(-8, 30, (5000, 2)))
    q = project_free(maze, p)
    assert not in_wall(maze, q.numpy()).any()
    free = ~in_wall(maze, p.numpy())
    assert torch.equal(q[free], p[free])
    inside = (p.numpy() > -6).all(1) & (p.numpy() < 26).all(1)  # on the map: move <= 1 cell
    assert float((q - p).norm(dim=-1)[torch.from_numpy(inside)].max()) <= 4 * 2**0.5


def test_limit_steps_caps_every_move_and_keeps_small_ones():
    rng = np.random.default_rng(1)
    plans = np.cumsum(rng.normal(0, 0.1, (3, 50, 2)), axis=1)
    plans[:, 20:] += 5.0  # a teleport
    start = np.zeros(2)
    out = limit_steps(plans, start, 0.5)
    seq = np.concatenate([np.broadcast_to(start, (3, 1, 2)), out], axis=1)
    assert np.linalg.norm(np.diff(seq, axis=1), axis=-1).max() <= 0.5 + 1e-9
    assert np.allclose(out[:, :20], plans[:, :20])  # before the teleport nothing changes
    assert np.allclose(limit_steps(plans, start, 100.0), plans)
