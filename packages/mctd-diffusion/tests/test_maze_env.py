import numpy as np
import pytest
from mctd_diffusion.maze.bfs import bfs_distances, next_cell_table, shortest_distance
from mctd_diffusion.maze.data import oracle_action
from mctd_diffusion.maze.env import collides, execute_plan, step
from mctd_diffusion.maze.maps import MAZES, MazeMap, cell_to_xy, xy_to_cell


def test_cell_mapping_round_trip():
    assert np.allclose(cell_to_xy((2, 3)), (8.0, 4.0))
    cells = np.array([(1, 1), (6, 6), (3, 5)])
    assert (xy_to_cell(cell_to_xy(cells) + 1.9) == cells).all()


@pytest.mark.parametrize("direction", [(-1.0, 0.0), (0.0, -1.0), (1.0, 0.0)])
def test_walls_block(direction):
    maze = MazeMap.load("medium")  # (1, 1): walls left and below; (1, 2) free, (1, 3) wall
    pos = cell_to_xy((1, 1))[None]
    for _ in range(100):
        pos = step(maze, pos, np.array([direction]))
        assert not collides(maze, pos).any()
    # the disc rests against a wall square: never inside a wall cell
    assert maze.grid[tuple(xy_to_cell(pos)[0])] == 0
    assert np.abs(pos).max() <= 7.6 + 1e-9


def test_step_moves_freely_and_clips():
    maze = MazeMap.load("medium")
    pos = cell_to_xy((1, 1))[None]
    assert np.allclose(step(maze, pos, np.array([[5.0, 0.5]])), pos + np.array([0.2, 0.1]))


def test_bfs_medium_task_distances():
    maze = MazeMap.load("medium")
    assert [shortest_distance(maze, s, g) for s, g in maze.tasks] == [10, 10, 6, 10, 8]


@pytest.mark.parametrize("name", MAZES)
def test_tasks_are_free_and_connected(name):
    maze = MazeMap.load(name)
    for s, g in maze.tasks:
        assert maze.free(s) and maze.free(g)
        assert bfs_distances(maze, g)[s] > 0
    table = next_cell_table(name)
    s, g = maze.tasks[0]
    assert tuple(table[g[0], g[1], s[0], s[1]]) in maze.neighbours(s)


@pytest.mark.parametrize("name", MAZES)
def test_scripted_oracle_reaches_every_goal(name):
    maze = MazeMap.load(name)
    for s, g in maze.tasks:
        pos, goal = cell_to_xy(s)[None], cell_to_xy(g)
        traj = [pos[0]]
        for _ in range(maze.horizon):
            pos = step(maze, pos, oracle_action(maze, pos, np.array([g])))
            traj.append(pos[0])
        assert np.linalg.norm(traj[-1] - goal) <= 1.0
        # the PD tracker replays the oracle's path and reaches the goal as well
        _, first = execute_plan(maze, np.array(traj[1:]), traj[0], goal, maze.horizon)
        assert 0 < first <= maze.horizon
