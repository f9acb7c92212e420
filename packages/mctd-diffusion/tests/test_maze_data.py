import numpy as np
import pytest
from mctd_diffusion.maze import data as D
from mctd_diffusion.maze.env import collides
from mctd_diffusion.maze.maps import MazeMap, cell_to_xy


def test_generate_shapes_and_validity():
    ds = D.generate("medium", episodes=3, steps=50, seed=1)
    assert ds.obs.shape == (3, 51, 2) and ds.actions.shape == (3, 50, 2)
    assert np.abs(ds.actions).max() <= 1.0
    steps = np.linalg.norm(np.diff(ds.obs, axis=1), axis=-1)
    assert steps.max() <= 0.2 * np.sqrt(2) + 1e-5
    assert not collides(MazeMap.load("medium"), ds.obs.reshape(-1, 2)).any()


def test_generation_is_seeded():
    a, b = D.generate("medium", 2, 20, seed=3), D.generate("medium", 2, 20, seed=3)
    assert np.array_equal(a.obs, b.obs)
    assert not np.array_equal(a.obs, D.generate("medium", 2, 20, seed=4).obs)


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path))
    first = D.load_dataset("medium", episodes=2, steps=30, seed=0)
    files = list((tmp_path / "maze").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"
    calls = []
    monkeypatch.setattr(D, "generate", lambda *a, **k: calls.append(a))
    again = D.load_dataset("medium", episodes=2, steps=30, seed=0)
    assert not calls and np.array_equal(first.obs, again.obs)


def test_free_cell_goals_reach_corner_centres():
    """Junction goals make the oracle cut across bends, so it seldom comes near the centre of a
    corner cell (the starts of medium tasks 1, 2, 3 and 5); free-cell goals also send it there.
    Both stay collision-free."""
    maze = MazeMap.load("medium")
    corners = cell_to_xy(np.array([maze.tasks[k][0] for k in (0, 1, 2, 4)], float))
    near = {}
    for goals in D.GOALS:
        ds = D.generate("medium", episodes=40, steps=400, seed=0, goals=goals)
        assert not collides(maze, ds.obs.reshape(-1, 2)).any()
        dist = np.linalg.norm(ds.obs.reshape(-1, 1, 2) - corners, axis=-1)
        near[goals] = int((dist < 1.0).sum())
    assert near["cells"] > 2 * near["junctions"], near


def test_unknown_goals_are_refused_and_cached_apart(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="unknown data goals 'rooms'"):
        D.generate("medium", 1, 5, seed=0, goals="rooms")
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path))
    a = D.load_dataset("medium", episodes=2, steps=30, seed=0)
    b = D.load_dataset("medium", episodes=2, steps=30, seed=0, goals="cells")
    assert len(list((tmp_path / "maze").iterdir())) == 2 and not np.array_equal(a.obs, b.obs)
