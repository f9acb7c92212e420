import numpy as np
from mctd_diffusion.maze import data as D
from mctd_diffusion.maze.env import collides
from mctd_diffusion.maze.maps import MazeMap


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
