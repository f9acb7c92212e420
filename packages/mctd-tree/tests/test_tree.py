"""Tree storage."""

import numpy as np
from mctd_tree import Tree


def test_growth_and_links():
    tree = Tree("root", capacity=2)
    ids = [tree.add_child(0, a, -1.0)[0] for a in range(5)]
    assert tree.size == 6 and len(tree.parent) >= 6
    assert tree.children(0).tolist() == ids
    grand, created = tree.add_child(ids[2], 7, -0.5)
    assert created and tree.depth[grand] == 2 and tree.path(grand) == [0, ids[2], grand]
    assert tree.actions_to(grand) == [2, 7]
    again, created = tree.add_child(ids[2], 7, -0.5)
    assert again == grand and not created
    assert tree.child(0, 3) == ids[3] and tree.child(0, 99) == -1


def test_shape_statistics():
    tree = Tree(())
    for a in range(3):
        c, _ = tree.add_child(0, a, 0.0)
        tree.set_state(c, (a,), False)
        tree.multiplicity[c] = a + 1
    d, _ = tree.add_child(1, 0, 0.0)
    tree.set_state(d, (0, 0), True)
    tree.add_child(1, 1, 0.0)  # an unmaterialised slot does not count
    assert tree.num_materialized() == 5
    assert tree.max_depth() == 2
    assert tree.mean_branching() == 2.0
    assert tree.draws(0) == 6
    assert np.isnan(tree.value[:5]).all()
