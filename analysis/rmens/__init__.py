"""rmens from Python: the members, results and stores an rmens run writes.

    import rmens
    members = rmens.load_members("runs/demo")        # members.h5: torch.nn.Module per MLP
                                                     # member or shared-trunk head, an
                                                     # xgboost.Booster-backed callable per tree
    store = rmens.Store("runs/demo/store.h5")        # lazy h5py access to splits, views, pairs
    z = members[0].score(store, "test")              # [N, K] = results.h5 /predictions[0]
    results = rmens.load_results("runs/demo")        # results.json (dict-like) + results.h5

Every member takes its raw input (its store views' features concatenated, as stored),
applies the input standardisation rmens recorded (members.h5 /inputs, model.inputs) and
returns rmens's *standardised* score z = (r(x) - score_mean) / score_std, the scores of
results.h5 /predictions and the ones every aggregator works on; `member.raw(x)` is r(x)
itself (the logit under objective clf; eval's calibration uses sigmoid(r_a - r_b)).

Figures: `python3 -m rmens.plot_run RUN_DIR` (and rmens.report, rmens.plots, rmens.merge,
rmens.plot_active) run the analysis/ scripts of the same name.

Needs numpy and h5py; torch for MLP members, xgboost for tree members (imported only
when such a member is loaded), matplotlib for the figures.
"""
from .results import Results, load_results
from .store import Store

__version__ = "0.1.0"
__all__ = ["load_members", "load_results", "Results", "Store", "__version__"]


def load_members(path, members=None):
    """The members of a members.h5 (or of the run directory holding one), in member order.

    members: None (all) or an iterable of member indices. MLP members and shared-trunk
    heads are rmens.members.MLPMember (torch.nn.Module; the heads of one trunk share its
    layers), tree members rmens.members.TreeMember (callables around an xgboost.Booster).
    Each has .index, .views (the store views its input concatenates), .attrs (its
    members.h5 group's attributes), .score_mean, .score_std, .raw(x), .score(store, split)."""
    from .members import load_members as _load
    return _load(path, members)
