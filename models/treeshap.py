"""Exact path-dependent TreeSHAP for XGBoost boosters, by table lookup.

Path-dependent TreeSHAP values of one tree depend on a row only through the directions the row
takes at the tree's split nodes. For a shallow tree (or a shallow slice of one) there are few
such direction patterns, so the SHAP values of every pattern can be computed once, when the
explainer is built, and explaining a row becomes: compare it at each split, pack the directions
into an integer, and add one table row per tree slice. That is the idea of FastTreeSHAP "v2"
(Yang 2022), taken to whole-tree patterns.

A tree of depth ``D`` is cut at depth ``k = max(0, D - 3)``: each node at depth ``k`` roots a
*slice* whose pattern covers its ``k`` ancestors and at most 7 split nodes below it, so a table
has at most ``2**(k + 7)`` rows. Models whose tables would not fit in ``max_table_mb`` (deep
trees), categorical splits or non-tree boosters are refused with :class:`UnsupportedModel`;
:class:`delinq.pipeline.explain.explainer` then falls back to XGBoost's own TreeSHAP.

Values are the Shapley values of the path-dependent expectation (Lundberg et al. 2020), the
same quantity ``shap.TreeExplainer`` and ``Booster.predict(pred_contribs=True)`` return; they
plus :attr:`TreeShap.expected_value` add up to the raw margin.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass

import numba
import numpy as np

BLOCK_ROWS = 256  # rows explained together, slice by slice (cache locality)
MAX_SLICE_DEPTH = 3  # split levels below a slice root: at most 7 split nodes per pattern


class UnsupportedModel(ValueError):
    """The booster cannot be explained by table lookup (see the module docstring)."""


@dataclass
class _Tree:
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    cover: np.ndarray
    value: np.ndarray

    def is_leaf(self, node: int) -> bool:
        return self.left[node] < 0


def _parse_trees(booster) -> list[_Tree]:
    model = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]
    if model.get("name") != "gbtree":
        raise UnsupportedModel(f"booster type {model.get('name')!r} (only gbtree)")
    trees = []
    for t in model["model"]["trees"]:
        if any(t.get("split_type", [])):
            raise UnsupportedModel("categorical splits")
        trees.append(
            _Tree(
                left=np.asarray(t["left_children"], dtype=np.int64),
                right=np.asarray(t["right_children"], dtype=np.int64),
                feature=np.asarray(t["split_indices"], dtype=np.int64),
                threshold=np.asarray(t["split_conditions"], dtype=np.float32),
                default_left=np.asarray(t["default_left"], dtype=bool),
                cover=np.asarray(t["sum_hessian"], dtype=np.float64),
                # A leaf's "split condition" holds its (learning-rate scaled) output.
                value=np.asarray(t["split_conditions"], dtype=np.float64),
            )
        )
    return trees


@functools.cache
def _shapley_weights(d: int) -> np.ndarray:
    """w[s] = s! (d-1-s)! / d!: the Shapley weight of a coalition of size s among d players."""
    return np.array(
        [math.factorial(s) * math.factorial(d - 1 - s) / math.factorial(d) for s in range(d)]
    )


@numba.njit(cache=True)
def _leaf_table(  # pragma: no cover - compiled
    one: np.ndarray, zero: np.ndarray, value: float, w: np.ndarray
) -> np.ndarray:
    """SHAP values of one leaf for every pattern: ``one`` is (patterns, d) in {0, 1}.

    The leaf's path-dependent expectation given a coalition S is
    ``value * prod_{j in S} one_j * prod_{j not in S} zero_j``; the Shapley value of feature i
    is ``value * (one_i - zero_i) * sum_s w[s] * e_s(others)`` where ``e_s`` sums the products
    over coalitions of size s, built by polynomial multiplication (one_j t + zero_j), and ``w``
    holds :func:`_shapley_weights`. A pattern's values depend only on its row of ``one``: each
    distinct row (at most 2**d) is computed once.
    """
    n_pat, d = one.shape
    out = np.empty((n_pat, d))
    known = np.full(1 << d, -1)  # row code -> the first pattern computed with it
    coef = np.empty(d)
    for p in range(n_pat):
        code = 0
        for j in range(d):
            code |= np.int64(one[p, j] > 0) << j
        if known[code] >= 0:
            out[p] = out[known[code]]
            continue
        known[code] = p
        for i in range(d):
            coef[:] = 0.0
            coef[0] = 1.0
            for j in range(d):
                if j != i:
                    for k in range(d - 1, 0, -1):
                        coef[k] = coef[k] * zero[j] + coef[k - 1] * one[p, j]
                    coef[0] = coef[0] * zero[j]
            total = 0.0
            for k in range(d):
                total += coef[k] * w[k]
            out[p, i] = value * (one[p, i] - zero[i]) * total
    return out


def _slices(tree: _Tree) -> list[tuple[list[int], int]]:
    """(ancestors, root) of every slice: nodes at the cut depth, and leaves above it."""
    depth = {0: 0}
    order, parent = [0], {0: -1}
    for node in order:
        if not tree.is_leaf(node):
            for child in (tree.left[node], tree.right[node]):
                depth[int(child)] = depth[node] + 1
                parent[int(child)] = node
                order.append(int(child))
    cut = max(0, max(depth.values()) - MAX_SLICE_DEPTH)
    out = []
    for node in order:
        if depth[node] == cut or (depth[node] < cut and tree.is_leaf(node)):
            ancestors, up = [], parent[node]
            while up >= 0:
                ancestors.append(up)
                up = parent[up]
            out.append((ancestors[::-1], node))
    return out


def _slice_table(tree: _Tree, ancestors: list[int], root: int):
    """Pattern bits (split nodes), features, and the summed SHAP table of one slice."""
    below, stack = [], [root]
    leaves = []  # (path nodes, went left at each) within the slice
    paths = {root: ([], [])}
    while stack:
        node = stack.pop()
        if tree.is_leaf(node):
            leaves.append((node, *paths[node]))
            continue
        below.append(node)
        nodes, dirs = paths[node]
        paths[int(tree.left[node])] = ([*nodes, node], [*dirs, True])
        paths[int(tree.right[node])] = ([*nodes, node], [*dirs, False])
        stack += [int(tree.left[node]), int(tree.right[node])]
    bits = ancestors + sorted(below)
    bit_of = {node: b for b, node in enumerate(bits)}
    patterns = np.arange(2 ** len(bits))
    goes_left = ((patterns[:, None] >> np.arange(len(bits))) & 1).astype(bool)
    # Direction from each ancestor to the slice root.
    steps = zip(ancestors, [*ancestors[1:], root], strict=False)  # no ancestors: no steps
    anc_dirs = [bool(tree.left[a] == nxt) for a, nxt in steps]
    features = sorted({int(tree.feature[n]) for n in bits})
    col = {f: c for c, f in enumerate(features)}
    table = np.zeros((len(patterns), len(features)))
    for leaf, nodes, dirs in leaves:
        path, path_dirs = ancestors + nodes, anc_dirs + dirs
        one: dict[int, np.ndarray] = {}
        zero: dict[int, float] = {}
        child_of = [*path[1:], leaf]
        for node, left, child in zip(path, path_dirs, child_of, strict=True):
            f = int(tree.feature[node])
            took = goes_left[:, bit_of[node]] == left
            one[f] = one.get(f, np.ones(len(patterns), bool)) & took
            zero[f] = zero.get(f, 1.0) * tree.cover[child] / tree.cover[node]
        if not one:  # a stump's lone leaf: nothing to attribute
            continue
        fs = sorted(one)
        leaf_phi = _leaf_table(
            np.column_stack([one[f] for f in fs]).astype(float),
            np.array([zero[f] for f in fs]),
            float(tree.value[leaf]),
            _shapley_weights(len(fs)),
        )
        for k, f in enumerate(fs):
            table[:, col[f]] += leaf_phi[:, k]
    return bits, features, table


def _tree_mean(tree: _Tree) -> float:
    """The tree's cover-weighted mean output (its share of the base value)."""
    leaves = tree.left < 0
    return float(np.sum(tree.value[leaves] * tree.cover[leaves]) / tree.cover[0])


@numba.njit(parallel=True, cache=True, nogil=True)
def _explain_rows(  # pragma: no cover - compiled
    X, node_feature, node_threshold, node_default_left, bit_start, bit_node, table_start,
    feat_start, feat_col, tables, n_out,
):  # fmt: skip
    n, n_feat = X.shape
    n_slices = bit_start.shape[0] - 1
    out = np.zeros((n, n_out))
    # Blocks of rows, slice by slice: one slice's table stays in cache for a whole block. The
    # block is held column by column (a feature's values, an output's sums, side by side), so
    # each split compares, and each table column adds, along consecutive memory: loops the
    # compiler vectorises. Each sum adds the same terms in the same order as row by row.
    n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    for blk in numba.prange(n_blocks):
        lo = blk * BLOCK_ROWS
        m = min(n, lo + BLOCK_ROWS) - lo
        xt = np.empty((n_feat, m), dtype=X.dtype)
        for i in range(m):
            for f in range(n_feat):
                xt[f, i] = X[lo + i, f]
        acc = np.zeros((n_out, m))
        idx = np.empty(m, dtype=np.int64)
        for s in range(n_slices):
            first, n_bits = bit_start[s], bit_start[s + 1] - bit_start[s]
            width = feat_start[s + 1] - feat_start[s]
            idx[:] = 0
            for b in range(n_bits):
                node = bit_node[first + b]
                v = xt[node_feature[node]]
                thr, dflt = node_threshold[node], node_default_left[node]
                for i in range(m):
                    left = dflt if np.isnan(v[i]) else v[i] < thr
                    idx[i] |= np.int64(left) << b
            base = table_start[s]
            for w in range(width):
                target = acc[feat_col[feat_start[s] + w]]
                for i in range(m):
                    target[i] += tables[base + idx[i] * width + w]
        for c in range(n_out):
            for i in range(m):
                out[lo + i, c] = acc[c, i]
    return out


def one_thread_here() -> None:
    """Run this module's kernels on the calling thread alone (numba's thread count is per
    thread): for callers that already keep every core busy with threads of their own, where
    each kernel's own team of threads would only contend with them."""
    numba.set_num_threads(1)


class TreeShap:
    """Exact path-dependent SHAP values of an XGBoost binary/regression booster.

    Parameters
    ----------
    booster : xgboost.Booster
        A fitted ``gbtree`` booster with numeric splits.
    max_table_mb : float
        Refuse (``UnsupportedModel``) models whose lookup tables would exceed this size.
    """

    def __init__(self, booster, max_table_mb: float = 256.0):
        trees = _parse_trees(booster)
        node_offset = np.cumsum([0] + [len(t.left) for t in trees])
        size = sum(
            2 ** (len(anc) + 7) * (len(anc) + 7) for t in trees for anc, _ in _slices(t)
        )  # an upper bound, before building anything
        if size * 8 / 2**20 > max_table_mb:
            raise UnsupportedModel(f"lookup tables would take over {max_table_mb:.0f} MB")
        bit_start, bit_node, table_start, feat_start, feat_col, tables = [0], [], [], [0], [], []
        used = 0
        for t, tree in enumerate(trees):
            for ancestors, root in _slices(tree):
                bits, features, table = _slice_table(tree, ancestors, root)
                bit_node += [int(node_offset[t] + b) for b in bits]
                bit_start.append(len(bit_node))
                feat_col += features
                feat_start.append(len(feat_col))
                table_start.append(used)
                tables.append(table.ravel())
                used += table.size
        self._nodes = (
            np.concatenate([t.feature for t in trees]),
            np.concatenate([t.threshold for t in trees]),
            np.concatenate([t.default_left for t in trees]),
        )
        self._slices = (
            np.asarray(bit_start, np.int64),
            np.asarray(bit_node, np.int64),
            np.asarray(table_start, np.int64),
            np.asarray(feat_start, np.int64),
        )
        self._feat_col = np.asarray(feat_col, np.int64)
        self._tables = np.concatenate(tables) if tables else np.zeros(0)
        self.n_features = booster.num_features()
        self.n_trees = len(trees)
        self.table_mb = self._tables.nbytes / 2**20
        self.expected_value = self._base_margin(booster, trees) + sum(map(_tree_mean, trees))

    def _base_margin(self, booster, trees: list[_Tree]) -> float:
        """The booster's global bias in margin units: its margin minus the trees' outputs."""
        import xgboost

        row = np.zeros((1, booster.num_features()), dtype=np.float32)
        margin = float(booster.predict(xgboost.DMatrix(row), output_margin=True)[0])
        total = 0.0
        for tree in trees:
            node = 0
            while not tree.is_leaf(node):
                go_left = row[0, tree.feature[node]] < tree.threshold[node]
                node = int(tree.left[node] if go_left else tree.right[node])
            total += tree.value[node]
        return margin - total

    def shap_values(self, X, columns: np.ndarray | None = None, n_out: int | None = None):
        """SHAP values of the rows of ``X`` (n, n_features), in margin (log-odds) units.

        ``columns`` maps each model feature to an output column (e.g. the input a person
        knows), and the values of features sharing a column are summed: the result is then
        (n, n_out). By default every feature is its own column.
        """
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected (rows, {self.n_features}) features, got {X.shape}")
        if columns is None:
            columns, n_out = np.arange(self.n_features), self.n_features
        columns = np.asarray(columns, dtype=np.int64)
        n_out = int(columns.max()) + 1 if n_out is None else n_out
        return _explain_rows(
            X, *self._nodes, *self._slices, columns[self._feat_col], self._tables, n_out
        )
