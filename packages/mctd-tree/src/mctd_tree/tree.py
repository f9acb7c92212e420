"""Array-backed search tree: statistics in growable numpy arrays, states in a list beside them.

Node ids are ints; the root is 0. Every per-node statistic lives in one numpy array, so policies
work on slices (``tree.value[tree.children(n)]``) and never walk Python object graphs. A node's
children are kept in an insertion-ordered ``action -> child id`` map, which is what de-duplicates
repeated draws of the same action (their count is the child's ``multiplicity``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_FIELDS: dict[str, tuple[type, Any]] = {
    "parent": (np.int64, -1),
    "depth": (np.int32, 0),
    "action": (np.int64, -1),
    "log_prior": (np.float64, 0.0),
    "visits": (np.float64, 0.0),
    "value": (np.float64, np.nan),
    "multiplicity": (np.int64, 0),
    "reward": (np.float64, np.nan),
    "terminal": (np.bool_, False),
    "materialized": (np.bool_, False),
    "expanded": (np.bool_, False),
}


class Tree:
    """A growable struct-of-arrays tree.

    Arrays: ``parent``, ``depth``, ``action`` (edge label from the parent), ``log_prior``
    (log p_theta(action | parent)), ``visits`` (N), ``value`` (v, NaN until backed up),
    ``multiplicity`` (times the edge was drawn from p_theta), ``reward`` (NaN unless terminal and
    scored), ``terminal``, ``materialized`` (state known; enumerated slots start without one) and
    ``expanded`` (actions enumerated). ``states[i]`` is node i's problem state or None.
    """

    parent: np.ndarray
    depth: np.ndarray
    action: np.ndarray
    log_prior: np.ndarray
    visits: np.ndarray
    value: np.ndarray
    multiplicity: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray
    materialized: np.ndarray
    expanded: np.ndarray

    def __init__(self, root_state: Any, root_terminal: bool = False, capacity: int = 1024) -> None:
        self._capacity = max(int(capacity), 1)
        for name, (dtype, fill) in _FIELDS.items():
            setattr(self, name, np.full(self._capacity, fill, dtype=dtype))
        self.size = 0
        self.states: list[Any] = []
        self._children: list[dict[int, int]] = []
        root = self._new_node(parent=-1, action=-1, log_prior=0.0)
        self.set_state(root, root_state, root_terminal)

    def __len__(self) -> int:
        return self.size

    def _grow(self) -> None:
        self._capacity *= 2
        for name, (dtype, fill) in _FIELDS.items():
            old = getattr(self, name)
            new: np.ndarray = np.full(self._capacity, fill, dtype=dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def _new_node(self, parent: int, action: int, log_prior: float) -> int:
        if self.size == self._capacity:
            self._grow()
        node = self.size
        self.size += 1
        self.parent[node] = parent
        self.depth[node] = 0 if parent < 0 else self.depth[parent] + 1
        self.action[node] = action
        self.log_prior[node] = log_prior
        self.states.append(None)
        self._children.append({})
        if parent >= 0:
            self._children[parent][action] = node
        return node

    def set_state(self, node: int, state: Any, terminal: bool) -> None:
        """Attach a problem state to a node (materialise it)."""
        self.states[node] = state
        self.terminal[node] = bool(terminal)
        self.materialized[node] = True

    def child(self, parent: int, action: int) -> int:
        """The child of ``parent`` along ``action``, or -1."""
        return self._children[parent].get(int(action), -1)

    def add_child(self, parent: int, action: int, log_prior: float) -> tuple[int, bool]:
        """The child along ``action``, created if missing; returns (node id, created)."""
        found = self._children[parent].get(int(action), -1)
        if found >= 0:
            return found, False
        return self._new_node(parent, int(action), float(log_prior)), True

    def children(self, node: int) -> np.ndarray:
        """Child ids of ``node`` in insertion order."""
        kids = self._children[node]
        return np.fromiter(kids.values(), dtype=np.int64, count=len(kids))

    def num_children(self, node: int) -> int:
        return len(self._children[node])

    def draws(self, node: int) -> int:
        """How many children of ``node`` were drawn from p_theta, duplicates included."""
        kids = self.children(node)
        return int(self.multiplicity[kids].sum()) if len(kids) else 0

    def path(self, node: int) -> list[int]:
        """Node ids from the root down to ``node``."""
        out = []
        while node >= 0:
            out.append(node)
            node = int(self.parent[node])
        return out[::-1]

    def actions_to(self, node: int) -> list[int]:
        """The actions leading from the root to ``node``."""
        return [int(self.action[n]) for n in self.path(node)[1:]]

    # ---- statistics reported with every result ----
    def num_materialized(self) -> int:
        return int(self.materialized[: self.size].sum())

    def max_depth(self) -> int:
        live = self.materialized[: self.size]
        return int(self.depth[: self.size][live].max()) if live.any() else 0

    def mean_branching(self) -> float:
        """Mean number of materialised children over nodes that have at least one."""
        live = self.materialized[: self.size]
        parents = self.parent[: self.size][live]
        parents = parents[parents >= 0]
        if len(parents) == 0:
            return 0.0
        return float(len(parents) / len(np.unique(parents)))
