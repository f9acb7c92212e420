"""OGBench point-maze layouts and evaluation tasks (1 = wall).

Cell (i, j) (row i, column j) has its centre at x = 4j - 4, y = 4i - 4; a cell is a 4 x 4 square,
so wall cell (i, j) covers [4j - 6, 4j - 2] x [4i - 6, 4i - 2].
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

CELL = 4.0
_LAYOUTS = {
    "medium": """
11111111
10011001
10010001
11000111
10010001
10100101
10001001
11111111
""",
    "large": """
111111111111
100001000001
101101010101
100000010001
101111011101
100101000001
110101010111
100100010001
111111111111
""",
    "giant": """
1111111111111111
1010000001100001
1010110101001101
1000100100010001
1011101111110101
1000100010000101
1110101001010111
1000100100010001
1010101111110101
1011100010001101
1000001000100001
1111111111111111
""",
}
Cell = tuple[int, int]
TASKS: dict[str, list[tuple[Cell, Cell]]] = {
    "medium": [
        ((1, 1), (6, 6)),
        ((6, 1), (1, 6)),
        ((5, 3), (4, 2)),
        ((6, 5), (6, 1)),
        ((2, 6), (1, 1)),
    ],
    "large": [
        ((1, 1), (7, 10)),
        ((5, 4), (7, 1)),
        ((7, 4), (1, 10)),
        ((3, 8), (5, 4)),
        ((1, 1), (5, 4)),
    ],
    "giant": [
        ((1, 1), (10, 14)),
        ((1, 14), (10, 1)),
        ((8, 14), (1, 1)),
        ((8, 3), (5, 12)),
        ((5, 9), (3, 8)),
    ],
}
HORIZON = {"medium": 500, "large": 500, "giant": 1000}
MAZES = tuple(_LAYOUTS)


def cell_to_xy(cell: Cell | np.ndarray) -> np.ndarray:
    """Centre of cell (i, j): (4j - 4, 4i - 4); works on (..., 2) arrays of (i, j)."""
    c = np.asarray(cell, dtype=np.float64)
    return np.stack([CELL * c[..., 1] - 4.0, CELL * c[..., 0] - 4.0], axis=-1)


def xy_to_cell(xy: np.ndarray) -> np.ndarray:
    """The (i, j) cell containing each point of an (..., 2) array (nearest centre)."""
    p = np.asarray(xy, dtype=np.float64)
    j = np.floor((p[..., 0] + 6.0) / CELL).astype(np.int64)
    i = np.floor((p[..., 1] + 6.0) / CELL).astype(np.int64)
    return np.stack([i, j], axis=-1)


@dataclass(frozen=True, eq=False)
class MazeMap:
    """A layout: ``grid[i, j] = 1`` for walls; free cells, their neighbours and junctions."""

    name: str
    grid: np.ndarray

    @classmethod
    def load(cls, name: str) -> MazeMap:
        if name not in _LAYOUTS:
            raise ValueError(f"unknown maze {name!r}; expected one of {MAZES}")
        rows = [r for r in _LAYOUTS[name].split() if r]
        grid = np.array([[int(ch) for ch in r] for r in rows], dtype=np.int8)
        return cls(name, grid)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.grid.shape[0]), int(self.grid.shape[1])

    def free(self, cell: Cell) -> bool:
        i, j = cell
        return 0 <= i < self.shape[0] and 0 <= j < self.shape[1] and self.grid[i, j] == 0

    @cached_property
    def free_cells(self) -> list[Cell]:
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(self.grid == 0), strict=True)]

    def neighbours(self, cell: Cell) -> list[Cell]:
        i, j = cell
        cand = [(i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)]
        return [c for c in cand if self.free(c)]

    @cached_property
    def junctions(self) -> list[Cell]:
        """Free cells with 1 (dead end) or >= 3 free neighbours: the data's goal cells."""
        return [c for c in self.free_cells if len(self.neighbours(c)) != 2]

    @property
    def tasks(self) -> list[tuple[Cell, Cell]]:
        return TASKS[self.name]

    @property
    def horizon(self) -> int:
        return HORIZON[self.name]
