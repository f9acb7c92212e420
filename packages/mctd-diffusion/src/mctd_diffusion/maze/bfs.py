"""Breadth-first search over free cells (4-connected): distances and next-cell tables."""

from __future__ import annotations

from collections import deque
from functools import lru_cache

import numpy as np

from mctd_diffusion.maze.maps import Cell, MazeMap


def bfs_distances(maze: MazeMap, goal: Cell) -> np.ndarray:
    """Cells-to-``goal`` distance for every cell (-1 for walls and unreachable cells)."""
    if not maze.free(goal):
        raise ValueError(f"goal {goal} is not a free cell of {maze.name}")
    dist = np.full(maze.shape, -1, dtype=np.int64)
    dist[goal] = 0
    queue = deque([goal])
    while queue:
        c = queue.popleft()
        for n in maze.neighbours(c):
            if dist[n] < 0:
                dist[n] = dist[c] + 1
                queue.append(n)
    return dist


def shortest_distance(maze: MazeMap, start: Cell, goal: Cell) -> int:
    """BFS distance in cells from ``start`` to ``goal``."""
    return int(bfs_distances(maze, goal)[start])


@lru_cache(maxsize=16)
def next_cell_table(name: str) -> np.ndarray:
    """``table[goal_i, goal_j, i, j] = (ni, nj)``: the next cell from (i, j) towards the goal.

    Ties between equally short moves are broken by the fixed neighbour order (up, down, left,
    right). A cell that is the goal (or a wall) maps to itself.
    """
    maze = MazeMap.load(name)
    h, w = maze.shape
    table = np.zeros((h, w, h, w, 2), dtype=np.int64)
    table[..., 0] = np.arange(h)[None, None, :, None]
    table[..., 1] = np.arange(w)[None, None, None, :]
    for g in maze.free_cells:
        dist = bfs_distances(maze, g)
        for c in maze.free_cells:
            if c == g:
                continue
            best = min(maze.neighbours(c), key=lambda n: dist[n])
            table[g[0], g[1], c[0], c[1]] = best
    return table
