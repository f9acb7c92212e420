import numpy as np
import pytest
from mctd_diffusion.maze import data as D
from mctd_diffusion.maze.env import collides, step, wall_distance
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


def test_wall_distance_closed_form():
    """Medium cell (1, 1) has its centre at (0, 0), walls 2 units away at x < -2 and y < -2, and
    free cells right of and below it (wall (1, 0) is the nearest from (1, 1.5))."""
    maze = MazeMap.load("medium")
    pts = np.array([[0.0, 0.0], [-1.5, 0.0], [1.0, -1.5], [1.0, 1.5], [-2.5, -2.5]])
    np.testing.assert_allclose(wall_distance(maze, pts), [2.0, 0.5, 0.5, 3.0, 0.0])
    assert list(collides(maze, pts)) == [False, False, False, False, True]


def test_doorway_oracle_keeps_to_the_centre_line():
    """Noise-free, round the bend at medium cell (3, 2) (down from (2, 2), then right to (3, 3)):
    the centre oracle heads diagonally for (3, 3)'s centre and passes within 1.0 of the corner
    of wall (2, 3) at (6, 6); the doorway oracle keeps at least 1.2 away. With noise, its whole
    dataset keeps farther from walls."""
    maze = MazeMap.load("medium")
    goal = np.array([[3, 4]])
    closest = {}
    for oracle in D.ORACLES:
        pos = cell_to_xy(np.array([[2, 2]], float))
        gap = []
        for _ in range(80):
            pos = step(maze, pos, D.oracle_action(maze, pos, goal, oracle))
            gap.append(np.linalg.norm(pos[0] - [6.0, 6.0]))
        assert np.linalg.norm(pos[0] - cell_to_xy(goal[0])) < 0.2  # both arrive
        closest[oracle] = min(gap)
    assert closest["centre"] < 1.0 < 1.2 < closest["doorway"], closest
    gaps = {
        o: np.quantile(wall_distance(maze, D.generate("medium", 20, 300, 0, oracle=o).obs), 0.05)
        for o in D.ORACLES
    }
    assert gaps["doorway"] > gaps["centre"] + 0.2, gaps
    with pytest.raises(ValueError, match="unknown oracle 'wall'"):
        D.generate("medium", 1, 5, seed=0, oracle="wall")
