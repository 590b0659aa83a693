"""rmens.load_members: an ensemble's members.h5 as PyTorch modules and XGBoost callables
(include/rmens/ensemble/members_file.h has the file's layout).

A member's input is its store views' features concatenated, as stored (member.views;
Store.features builds it), of any leading shape [..., D]. Under model.inputs (members.h5
/inputs) rmens standardises that input with the train split's moments, feature j as
float32((x_j - mean_j) / std_j) computed in double; the members here do the same. The
member's output r(x) (the MLP's last layer; a tree ensemble's margin, a logit under
objective clf) is what `member.raw(x)` returns; rmens's reported scores (results.h5
/predictions, every aggregator) are standardised, float32((r - score_mean) / score_std)
in double, and that is what calling the member returns. In fp32 (model.precision = fp32,
the default) the MLP modules agree with rmens to float round-off (~1e-6) and the tree
members bit for bit; members evaluated in bf16 agree only to bf16's precision."""
import h5py
import numpy as np

from ._h5 import attrs, find, text, texts
from .store import Store

try:
    import torch
    _Module = torch.nn.Module
except ImportError:  # trees alone need no torch
    torch = None
    _Module = object

BLOCK_ROWS = 4096  # score(): rows of a split's first axis read and scored at a time


def _numpy(x):
    if torch is not None and torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class _Scoring:
    """What every member has: its identity, its input and score standardisation, score()."""

    def _setup(self, index, group_attrs, views, input_mean, input_std):
        self.index = index
        self.attrs = group_attrs
        self.views = list(views)
        self.dim = int(group_attrs["dim"])
        self.score_mean = float(group_attrs["score_mean"])
        self.score_std = float(group_attrs["score_std"])
        self.input_mean = input_mean  # float64 [dim] under model.inputs, else None
        self.input_std = input_std

    def _standardise_input(self, X):
        """numpy [..., D] -> float32 input as rmens feeds the member."""
        if X.shape[-1] != self.dim:
            raise ValueError(f"rmens member {self.index}: input of {X.shape[-1]} features, expected {self.dim} "
                             f"(views {self.views})")
        if self.input_mean is None:
            return np.asarray(X, dtype=np.float32)
        return ((X.astype(np.float64) - self.input_mean) / self.input_std).astype(np.float32)

    def _standardise_score(self, raw):
        return ((raw.astype(np.float64) - self.score_mean) / self.score_std).astype(np.float32)

    def score(self, store, split="test", rows=None):
        """Standardised scores (numpy float32) of a store split, e.g. "test" -> [N, K] (=
        results.h5 /predictions[index]), "bench/chosen" -> [N_bench]; store: an
        rmens.Store or a path. rows: None (all, read in blocks) or an index/slice."""
        own = not isinstance(store, Store)
        st = Store(store) if own else store
        try:
            if rows is not None:
                return self._score_array(st.features(self.views, split, rows))
            n = st.embeddings(split, self.views[0]).shape[0]
            parts = [self._score_array(st.features(self.views, split, slice(s, min(n, s + BLOCK_ROWS))))
                     for s in range(0, n, BLOCK_ROWS)]
            return np.concatenate(parts, axis=0) if parts else np.zeros((0,), np.float32)
        finally:
            if own:
                st.close()


class MLPMember(_Module, _Scoring):
    """An MLP member or a shared-trunk head as a torch.nn.Module: Linear layers with ReLU
    between them (`body`: the hidden layers, the same modules for every head of one trunk;
    `head`: the output layer), members.h5's weights in nn.Linear's layout.

    member(x) -> standardised scores [...] (float32 tensor; x a tensor or array [..., D]);
    member.raw(x) -> r(x), the unstandardised output. Gradients flow through both."""

    family = "mlp"

    def __init__(self, index, group_attrs, views, body, head, input_mean=None, input_std=None):
        if torch is None:
            raise ImportError("rmens: MLP members need torch (Debian: python3-torch)")
        super().__init__()
        self._setup(index, group_attrs, views, input_mean, input_std)
        self.body = body
        self.head = head
        self._moments = {}

    def _input(self, x):
        if not torch.is_tensor(x):
            x = torch.as_tensor(np.asarray(x))
        dtype = self.head.weight.dtype
        if x.shape[-1] != self.dim:
            raise ValueError(f"rmens member {self.index}: input of {x.shape[-1]} features, expected {self.dim} "
                             f"(views {self.views})")
        if self.input_mean is None:
            return x.to(dtype)
        key = str(x.device)
        if key not in self._moments:
            self._moments[key] = (torch.as_tensor(self.input_mean, dtype=torch.float64, device=x.device),
                                  torch.as_tensor(self.input_std, dtype=torch.float64, device=x.device))
        mean, std = self._moments[key]
        return ((x.to(torch.float64) - mean) / std).to(torch.float32).to(dtype)

    def raw(self, x):
        """r(x): the MLP's output before score standardisation, shape x.shape[:-1]."""
        return self.head(self.body(self._input(x)))[..., 0]

    def forward(self, x):
        r = self.raw(x)
        return ((r.to(torch.float64) - self.score_mean) / self.score_std).to(torch.float32)

    def _score_array(self, X):
        with torch.no_grad():
            return self.forward(torch.from_numpy(np.ascontiguousarray(X))).cpu().numpy()

    def extra_repr(self):
        inputs = ", inputs standardised" if self.input_mean is not None else ""
        return f"member {self.index}, views {self.views}{inputs}"


class TreeMember(_Scoring):
    """A tree member (model.family = "gbdt"): `booster` is its xgboost.Booster, loaded from
    members.h5 /member_<m>/xgboost_json. member(X) -> standardised scores (numpy float32,
    X [..., D] an array or tensor); member.raw(X) -> the margin (output_margin=True) rmens
    scores with."""

    family = "gbdt"

    def __init__(self, index, group_attrs, views, booster, input_mean=None, input_std=None):
        self._setup(index, group_attrs, views, input_mean, input_std)
        self.booster = booster

    def raw(self, X):
        import xgboost
        X = self._standardise_input(_numpy(X))
        flat = X.reshape(-1, X.shape[-1])
        margin = self.booster.predict(xgboost.DMatrix(flat), output_margin=True)
        return np.asarray(margin, dtype=np.float32).reshape(X.shape[:-1])

    def __call__(self, X):
        return self._standardise_score(self.raw(X))

    _score_array = __call__

    def __repr__(self):
        return f"rmens.TreeMember(member {self.index}, views {self.views}, {self.booster.num_boosted_rounds()} rounds)"


def _linear(group, l):
    w, b = group[f"layer_{l}/weight"][()], group[f"layer_{l}/bias"][()]
    lin = torch.nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float32)))
        lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float32)))
    return lin


def _body(group, hidden_layers):
    mods = []
    for l in range(hidden_layers):
        mods += [_linear(group, l), torch.nn.ReLU()]
    return torch.nn.Sequential(*mods)


def load_members(path, members=None):
    """See rmens.load_members."""
    path = find(path, "members.h5")
    out = []
    with h5py.File(path, "r") as f:
        fmt = text(f.attrs.get("format", "rmens-members"))
        if fmt != "rmens-members":
            raise ValueError(f"rmens.load_members: {path} is a {fmt!r} file, not rmens's members.h5")
        n = int(f.attrs["n_members"])
        indices = range(n) if members is None else [int(m) for m in members]
        mean = std = None
        inputs_views = None
        if "inputs" in f:
            inputs_views = texts(f["inputs"].attrs["views"])
            mean = np.asarray(f["inputs/mean"][()], dtype=np.float64)
            std = np.asarray(f["inputs/std"][()], dtype=np.float64)
        trunks = {}
        for m in indices:
            name = f"member_{m}"
            if name not in f:
                raise KeyError(f"rmens.load_members: {path} has no /{name} (n_members {n})")
            g = f[name]
            a = attrs(g)
            views = inputs_views or [a.get("view", "default")]
            family = a.get("family", "mlp")
            if family == "gbdt":
                try:
                    import xgboost
                except ImportError as e:
                    raise ImportError("rmens: tree members need xgboost (Debian: python3-xgboost)") from e
                booster = xgboost.Booster()
                booster.load_model(bytearray(np.asarray(g["xgboost_json"][()], dtype=np.uint8).tobytes()))
                out.append(TreeMember(m, a, views, booster, mean, std))
                continue
            if family != "mlp":
                raise ValueError(f"rmens.load_members: /{name} has family {family!r}: not one this package knows")
            if torch is None:
                raise ImportError("rmens: MLP members need torch (Debian: python3-torch)")
            if a.get("activation", "relu") != "relu":
                raise ValueError(f"rmens.load_members: /{name} has activation {a['activation']!r}: only relu is known")
            hidden_layers = len(np.atleast_1d(a.get("hidden", [])))
            if "trunk" in a:  # a shared trunk's head: its body is the trunk's, built once
                key = a["trunk"]
                if key not in trunks:
                    trunks[key] = _body(f[key], hidden_layers)
                body = trunks[key]
            else:
                body = _body(g, hidden_layers)
            out.append(MLPMember(m, a, views, body, _linear(g, hidden_layers), mean, std))
    return out
