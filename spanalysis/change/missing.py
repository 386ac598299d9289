"""Missing follow-ups: multiple imputation (the primary analysis of change), completers and
baseline observation carried forward beside it, a tipping-point (delta-adjusted) analysis, and
who was lost to follow-up.

Every function takes a :class:`~spanalysis.study.Study`, one questionnaire scale
(``instrument``, ``scale``) and the two time points (``pre``, ``post``: None for the first
and the last, checked by :func:`spanalysis.change.outcomes.time_pair`), and returns a tidy
DataFrame.

Who is analysed
---------------
Everyone with a score on the scale at ``pre`` (the people whose change the evaluation wants
to know: as for baseline observation carried forward). People with a ``post`` score are the
completers; the others have their ``post`` score imputed. People with no ``pre`` score are
not analysed (their change has no starting point).

Multiple imputation by chained equations
----------------------------------------
``statsmodels.imputation.mice.MICEData`` (van Buuren & Groothuis-Oudshoorn 2011; the
statsmodels implementation) runs the chain: each incomplete variable is imputed from all the
others, in turn, each from its own linear model on the rows where it is observed. How each
missing value is drawn (``imputation``):

* ``norm`` (default): Bayesian linear regression, a *proper* draw (Rubin 1987 p.167; van
  Buuren 2018, FIMD algorithm 3.1; R's ``mice.impute.norm``): sigma*^2 = RSS /
  chi^2_{n-p}, beta* ~ N(beta_hat, sigma*^2 (X'X)^-1), y* = X beta* + N(0, sigma*^2)
  (:func:`draw_norm`, put in MICEData's ``impute`` hook). Imputed scores are not rounded
  or clipped to the scale's range (that would bias the mean; van Buuren 2018 section 6.3).
* ``pmm``: statsmodels' own predictive mean matching (coefficients drawn from their normal
  approximation, then one of the ``k_pmm = 5`` completers with the nearest predicted mean
  gives their score; 5 is R's ``mice`` default). PMM cannot extrapolate: when the people
  lost are concentrated where completers are few (few sessions, low baseline: the demo's
  pattern), the donors are pulled towards the completers and so is the estimate
  (``tests/test_missing_data.py`` shows it on simulated data). Hence ``norm`` by default.

The model of the follow-up score holds the baseline score,
site and the demographics and sessions found in the participants table
(:data:`AUXILIARIES`): sessions attended and site predict both dropping out and the outcome,
which is what makes missing at random (MAR) plausible. Categorical auxiliaries enter as
factors; a level with fewer than :data:`MIN_LEVEL` completers is merged into one
"(other)" level, a blank one is its own level "(not recorded)". A missing numeric auxiliary
(sessions) is imputed in the same chain.

With one incomplete variable (the follow-up score: the usual case) every cycle is an
independent draw, so the ``m`` imputations are ``m`` consecutive cycles without burn-in;
with more (missing sessions too) the chain is run ``BURN_IN = 10`` cycles first and
``SKIP = 3`` cycles are dropped between imputations (statsmodels' ``MICE.fit`` defaults).
The random generator is ``numpy.random.default_rng([seed, crc32(instrument/scale/pre/post)])``:
the same seed gives the same numbers, in every process.

Each imputed data set gives the mean change Q_j = mean(post - pre) with U_j = s_j^2 / n;
they are pooled by Rubin's rules (:func:`rubin_pool`).

Rubin's rules (Rubin 1987; Barnard & Rubin 1999)
-----------------------------------------------
Q_bar = mean(Q_j); W_bar = mean(U_j); B = var(Q_j) (m - 1 denominator);
T = W_bar + (1 + 1/m) B; r = (1 + 1/m) B / W_bar (relative increase in variance);
lambda = (1 + 1/m) B / T; nu_old = (m - 1) / lambda^2;
nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lambda);
nu = nu_old * nu_obs / (nu_old + nu_obs) (Barnard-Rubin df, nu_com = n - 1 here);
fmi = (r + 2 / (nu + 3)) / (1 + r) (as R's ``mice::pool``); the interval is
Q_bar +/- t_{nu, 1 - alpha/2} sqrt(T). Formulas as in van Buuren (2018) FIMD sections
2.3.2-2.3.6 and R ``mice::pool``.

Tipping point (delta adjustment)
--------------------------------
Each imputed follow-up score is moved ``delta`` points towards no change (worse, when the
change under MAR is an improvement), observed scores are left alone, and the results pooled
again (a delta-adjusted pattern-mixture analysis: van Buuren 2018 FIMD section 9.2; Cro,
Carpenter, Morris & Kahan 2020, Stat Med 39:2815). Shifting the imputed values after
imputation is the same as shifting inside the chain here, because no other imputed variable
is predicted from the follow-up score unless sessions are missing too. The pooled estimate
falls by delta x (share imputed) exactly; the tipping points are the delta at which the
interval first includes 0 and the delta at which the estimate itself is 0.

References
----------
Rubin DB (1987). Multiple Imputation for Nonresponse in Surveys. Wiley.
Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation.
    Biometrika 86:948-955.
van Buuren S, Groothuis-Oudshoorn K (2011). mice: multivariate imputation by chained
    equations in R. J Stat Softw 45(3).
van Buuren S (2018). Flexible Imputation of Missing Data, 2nd ed. CRC Press.
White IR, Royston P, Wood AM (2011). Multiple imputation using chained equations: issues and
    guidance for practice. Stat Med 30:377-399 (m at least the percentage of incomplete cases).
Austin PC (2009). Balance diagnostics for comparing the distribution of baseline covariates
    between treatment groups. Commun Stat Simul Comput 38:1228-1234 (standardised differences).
"""
from __future__ import annotations

import inspect
import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from spanalysis.change.pairs import check_confidence
from spanalysis.errors import InputError

__all__ = ["AUXILIARIES", "IMPUTATION_METHODS", "draw_norm", "DEFAULT_IMPUTATIONS", "DEFAULT_SEED", "METHODS", "Imputations",
           "rubin_pool", "scale_data", "impute_followup", "missing_comparison",
           "change_by_missing", "tipping_point", "lost_to_follow_up", "clear_cache", "missing_sentence"]

#: participants' columns used as auxiliaries when present (categorical first, then numeric)
AUXILIARIES = ("site", "age_band", "gender", "ethnicity", "imd_quintile", "sessions_attended")
_CATEGORICAL = ("site", "age_band", "gender", "ethnicity")
DEFAULT_IMPUTATIONS = 20
DEFAULT_SEED = 2301
K_PMM = 5
#: how each missing value is drawn (:func:`impute_followup`), the default first
IMPUTATION_METHODS = ("norm", "pmm")
BURN_IN, SKIP = 10, 3
MIN_LEVEL = 5
MIN_COMPLETERS = 10
#: the three ways of handling missing follow-ups (``--missing``), the primary first
METHODS = ("mi", "completers", "bocf")
_ANALYSIS = {"mi": "multiple imputation (missing at random)",
             "completers": "completers",
             "bocf": "baseline observation carried forward"}
_ASSUMPTION = {
    "mi": "people without follow-up would have scored like completers with the same "
          "baseline score, site, demographics and sessions (missing at random)",
    "completers": "people without follow-up would have changed like those with it "
                  "(missing completely at random)",
    "bocf": "people without follow-up did not change at all since baseline; conservative "
            "for the mean, and it understates variability"}
_NOT_RECORDED, _OTHER = "(not recorded)", "(other)"


# --------------------------------------------------------------------------------------------
# Rubin's rules
# --------------------------------------------------------------------------------------------
def rubin_pool(estimates, variances, df_complete: float = math.inf,
               confidence: float = 0.95) -> dict:
    """Pool ``m`` estimates and their squared standard errors by Rubin's rules.

    Returns a dict: ``estimate`` (Q_bar), ``within`` (W_bar), ``between`` (B), ``total`` (T),
    ``se`` (sqrt T), ``riv`` (r), ``lambda``, ``df`` (Barnard-Rubin; the large-sample
    ``nu_old`` when ``df_complete`` is infinite), ``fmi``, ``ci_low``, ``ci_high``, ``t``,
    ``p`` (two-sided), ``m``. Formulas in the module docstring.

    >>> r = rubin_pool([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], df_complete=10)
    >>> round(r["total"], 4), round(r["df"], 4)
    (2.3333, 2.2778)
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    if q.ndim != 1 or q.shape != u.shape or q.size < 2:
        raise InputError("Rubin's rules need at least two estimates with one variance each",
                         value=f"{q.size} estimates, {u.size} variances",
                         expected="two or more of each, the same number")
    confidence = check_confidence(confidence)
    m = q.size
    qbar, wbar = float(q.mean()), float(u.mean())
    b = float(q.var(ddof=1))
    total = wbar + (1 + 1 / m) * b
    riv = (1 + 1 / m) * b / wbar if wbar > 0 else math.inf
    lam = (1 + 1 / m) * b / total if total > 0 else 0.0
    df_old = (m - 1) / lam ** 2 if lam > 0 else math.inf
    if math.isinf(df_complete):
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        df = df_obs if math.isinf(df_old) else df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2 / (df + 3)) / (1 + riv) if math.isfinite(riv) else 1.0
    se = math.sqrt(total)
    crit = stats.t.ppf(1 - (1 - confidence) / 2, df)
    t = qbar / se if se > 0 else math.nan
    p = float(2 * stats.t.sf(abs(t), df)) if se > 0 else math.nan
    return {"estimate": qbar, "within": wbar, "between": b, "total": total, "se": se,
            "riv": riv, "lambda": lam, "df": float(df), "fmi": fmi,
            "ci_low": float(qbar - crit * se), "ci_high": float(qbar + crit * se), "t": t,
            "p": p, "m": m}


# --------------------------------------------------------------------------------------------
# the data of one scale
# --------------------------------------------------------------------------------------------
def scale_data(study, instrument: str, scale: str, pre=None, post=None) -> pd.DataFrame:
    """One row per participant with a ``pre`` score on the scale: ``participant_id, pre,
    post`` (NaN when not followed up), ``completer`` and the :data:`AUXILIARIES` present in
    ``study.participants``. An InputError when the scale is not scored in the study."""
    from spanalysis.change.outcomes import time_pair

    pre, post = time_pair(study, pre, post)
    scores = study.scores
    one = scores[(scores["instrument"] == instrument) & (scores["scale"] == scale)]
    if one.empty:
        info = study.scale_info
        known = ", ".join(f"{i} {s}" for i, s in zip(info["instrument"], info["scale"]))
        raise InputError("scale not scored in this study", column="instrument/scale",
                         value=f"{instrument} {scale}", expected=f"one of: {known}")
    wide = one.pivot_table(index="participant_id", columns="timepoint", values="score",
                           observed=True).reindex(columns=[pre, post])
    wide.columns = ["pre", "post"]
    wide.index = wide.index.astype(str)
    wide = wide[wide["pre"].notna()]
    people = study.participants.copy()
    people["participant_id"] = people["participant_id"].astype(str)
    aux = [c for c in AUXILIARIES if c in people.columns]
    out = wide.join(people.set_index("participant_id")[aux], how="left")
    out.insert(2, "completer", out["post"].notna())
    return out.reset_index().rename(columns={"index": "participant_id"})


def _design(data: pd.DataFrame, auxiliaries) -> tuple[pd.DataFrame, str, list[str]]:
    """The numeric frame MICEData imputes (safe column names), the right-hand side of the
    follow-up model and the incomplete numeric auxiliaries."""
    frame = pd.DataFrame({"pre": data["pre"].to_numpy(float),
                          "post": data["post"].to_numpy(float)})
    terms, used = ["pre"], []
    done = data["completer"].to_numpy(bool)
    for k, col in enumerate(auxiliaries):
        if col not in data.columns:
            continue
        name = f"a{k}"
        if col in _CATEGORICAL or not pd.api.types.is_numeric_dtype(data[col]):
            values = data[col].astype(object).where(data[col].notna(), _NOT_RECORDED)
            values = values.astype(str)
            counts = values[done].value_counts()
            rare = set(values) - set(counts[counts >= MIN_LEVEL].index)
            values = values.where(~values.isin(rare), _OTHER)
            if values.nunique() < 2:
                continue
            frame[name] = pd.Categorical(values).codes.astype(float)
            terms.append(f"C({name})")
        else:
            x = pd.to_numeric(data[col], errors="coerce").astype(float).to_numpy()
            if np.isnan(x).all() or np.nanstd(x) == 0:
                continue
            frame[name] = x
            terms.append(name)
        used.append(name)
    incomplete = [c for c in frame.columns if c != "post" and frame[c].isna().any()]
    return frame, " + ".join(terms), incomplete


@dataclass(frozen=True)
class Imputations:
    """The imputed follow-up scores of one scale: ``data`` as :func:`scale_data`,
    ``post`` an ``n x m`` array (observed scores repeated, imputed ones drawn), and the
    settings that made them."""

    data: pd.DataFrame
    post: np.ndarray
    m: int
    seed: int
    auxiliaries: tuple[str, ...]
    pre: str
    post_timepoint: str

    def subset(self, ids) -> "Imputations":
        """The same imputations for the participants ``ids`` only (a site of the study)."""
        keep = self.data["participant_id"].isin(set(map(str, ids))).to_numpy()
        return Imputations(self.data[keep].reset_index(drop=True), self.post[keep], self.m,
                           self.seed, self.auxiliaries, self.pre, self.post_timepoint)


_CACHE: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
_CACHE_SIZE = 64


def clear_cache() -> None:
    """Forget the imputations kept in this process."""
    _CACHE.clear()


def _fingerprint(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame, index=False).sum())


def _rng(seed: int, *names) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32("/".join(names).encode())])


def _norm_imputer():
    """statsmodels' MICEData with the Bayesian linear regression draw (``norm``) in place of
    predictive mean matching: MICEData's ``impute`` is its hook for other methods."""
    from statsmodels.imputation.mice import MICEData

    class NormMICEData(MICEData):
        def perturb_params(self, vname):       # the draw below perturbs its own parameters
            pass

        fixed = False       # set when no other variable is imputed: the design never changes
        _split = None

        def impute(self, vname):
            if self.fixed and self._split is not None:
                y, x_obs, x_mis = self._split
            else:
                y, x_obs, x_mis = self.get_split_data(vname)[:3]
                self._split = (y, x_obs, x_mis)
            y = np.asarray(y, dtype=float).ravel()
            x_obs, x_mis = np.asarray(x_obs, dtype=float), np.asarray(x_mis, dtype=float)
            values = draw_norm(y, x_obs, x_mis, self.norm_rng)
            ix = self.ix_miss[vname]
            if len(ix):
                self.data.iloc[ix, self.data.columns.get_loc(vname)] = values

    return NormMICEData


def draw_norm(y: np.ndarray, x_obs: np.ndarray, x_mis: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """One proper draw of the missing values of ``y`` from its normal linear model on the
    observed rows (Rubin 1987, p.167; van Buuren 2018, FIMD algorithm 3.1, R's
    ``mice.impute.norm``): sigma*^2 = RSS / chi^2_{n-p}; beta* ~ N(beta_hat,
    sigma*^2 (X'X)^-1); y* = X_mis beta* + N(0, sigma*^2)."""
    beta_hat, *_ = np.linalg.lstsq(x_obs, y, rcond=None)
    resid = y - x_obs @ beta_hat
    rank = np.linalg.matrix_rank(x_obs)
    sigma2 = float(resid @ resid) / rng.chisquare(max(len(y) - rank, 1))
    beta = rng.multivariate_normal(beta_hat, sigma2 * np.linalg.pinv(x_obs.T @ x_obs),
                                   method="eigh")
    return x_mis @ beta + rng.normal(0.0, math.sqrt(sigma2), len(x_mis))


def _mice(frame: pd.DataFrame, formula: str, incomplete: list[str], m: int,
          rng: np.random.Generator, method: str = "norm") -> np.ndarray:
    """``len(frame) x m`` follow-up scores from statsmodels' MICEData."""
    from statsmodels.imputation.mice import MICEData

    klass = _norm_imputer() if method == "norm" else MICEData
    kwargs = {"k_pmm": K_PMM}
    if "rng" in inspect.signature(MICEData.__init__).parameters:
        kwargs["rng"] = rng
    else:                                   # statsmodels < 0.15 draws from numpy's global state
        np.random.seed(int(rng.integers(2 ** 31)))
    data = klass(frame, **kwargs)
    data.norm_rng = rng
    # every incomplete variable is imputed from all the others (the follow-up score too)
    terms = formula.split(" + ")
    for var in ["post"] + incomplete:
        rhs = [t for t in terms if t not in (var, f"C({var})")]
        data.set_imputer(var, formula=" + ".join(rhs + (["post"] if var != "post" else [])))
    chained = bool(incomplete)
    data.fixed = not chained
    if chained:
        data.update_all(BURN_IN)
    out = np.empty((len(frame), m))
    for j in range(m):
        data.update_all(SKIP + 1 if chained else 1)
        out[:, j] = data.data["post"].to_numpy(float)
    return out


def impute_followup(study, instrument: str, scale: str, pre=None, post=None,
                    m: int = DEFAULT_IMPUTATIONS, seed: int = DEFAULT_SEED,
                    auxiliaries=None, whole=None, imputation: str = "norm") -> Imputations:
    """``m`` imputations of the missing ``post`` scores of one scale (module docstring).

    ``whole``: the whole study when ``study`` is one of its sites (``Study.for_site``): the
    imputation model is the whole study's (fitted once, kept) and only the site's people are
    returned, so a person's imputed scores are the same in every report.
    ``auxiliaries``: participants' columns to condition on (default :data:`AUXILIARIES`).
    Kept in this process by content (the same data, scale, time points, ``m``, seed and
    auxiliaries are imputed once)."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise InputError("the number of imputations must be a whole number of 2 or more",
                         column="imputations", value=m, expected="a whole number, 20 or more "
                         "recommended (White, Royston & Wood 2011)")
    if imputation not in IMPUTATION_METHODS:
        raise InputError("unknown imputation method", column="imputation", value=imputation,
                         expected="'norm' (Bayesian linear regression, the default) or 'pmm' "
                                  "(predictive mean matching)")
    if whole is not None and whole is not study:
        full = impute_followup(whole, instrument, scale, pre, post, m, seed, auxiliaries,
                               imputation=imputation)
        return full.subset(study.participants["participant_id"].astype(str))
    from spanalysis.change.outcomes import time_pair

    base, final = time_pair(study, pre, post)
    data = scale_data(study, instrument, scale, base, final)
    present = list(study.participants.columns)
    aux = tuple(a for a in AUXILIARIES if a in present) if auxiliaries is None \
        else tuple(auxiliaries)
    unknown = [a for a in aux if a not in present]
    if unknown:
        raise InputError("auxiliary variable not in the participants table",
                         column="auxiliaries", value=unknown[0],
                         expected="columns of participants: " +
                                  ", ".join(map(str, study.participants.columns)))
    frame, formula, incomplete = _design(data, aux)
    observed = frame["post"].notna().to_numpy()
    if observed.all() or observed.sum() < MIN_COMPLETERS:
        draws = np.repeat(frame["post"].to_numpy(float)[:, None], m, axis=1)
        return Imputations(data, draws, int(m), int(seed), aux, base, final)
    key = (_fingerprint(frame), formula, instrument, scale, base, final, int(m), int(seed),
           imputation)
    if key not in _CACHE:
        _CACHE[key] = _mice(frame, formula, incomplete, int(m),
                            _rng(seed, instrument, scale, base, final), imputation)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return Imputations(data, _CACHE[key].copy(), int(m), int(seed), aux, base, final)


# --------------------------------------------------------------------------------------------
# change under each handling of the missing follow-ups
# --------------------------------------------------------------------------------------------
#: the columns of :func:`missing_comparison` and :func:`change_by_missing`
COLUMNS = ["instrument", "scale", "method", "analysis", "pre", "post", "n_analysed",
           "n_completers", "n_missing_post", "pre_mean", "post_mean", "change_mean", "se",
           "ci_low", "ci_high", "df", "t", "p", "fmi", "m", "seed", "direction",
           "improvement", "small_group", "assumption", "confidence"]
_STATS = ["pre_mean", "post_mean", "change_mean", "se", "ci_low", "ci_high", "df", "t", "p",
          "fmi"]


def _direction(study, instrument: str, scale: str) -> str:
    info = study.scale_info
    row = info[(info["instrument"] == instrument) & (info["scale"] == scale)]
    return str(row["direction"].iloc[0]) if len(row) else "higher"


def _t_row(diff: np.ndarray, confidence: float) -> dict:
    """Mean of ``diff`` with its t interval and test (n - 1 df)."""
    n = diff.size
    if n < 2:
        return dict.fromkeys(["change_mean", "se", "ci_low", "ci_high", "df", "t", "p"],
                             math.nan)
    mean, se = float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(n))
    crit = stats.t.ppf(1 - (1 - confidence) / 2, n - 1)
    t = mean / se if se > 0 else math.nan
    p = float(2 * stats.t.sf(abs(t), n - 1)) if se > 0 else math.nan
    return {"change_mean": mean, "se": se, "ci_low": mean - crit * se,
            "ci_high": mean + crit * se, "df": float(n - 1), "t": t, "p": p}


def _pool_imputed(pre: np.ndarray, post: np.ndarray, confidence: float) -> dict:
    """Rubin's rules over the columns of ``post`` (n x m) for the mean change."""
    diff = post - pre[:, None]
    n = diff.shape[0]
    pooled = rubin_pool(diff.mean(axis=0), diff.var(axis=0, ddof=1) / n, n - 1, confidence)
    return {"pre_mean": float(pre.mean()), "post_mean": float(post.mean()),
            "change_mean": pooled["estimate"], "se": pooled["se"],
            "ci_low": pooled["ci_low"], "ci_high": pooled["ci_high"], "df": pooled["df"],
            "t": pooled["t"], "p": pooled["p"], "fmi": pooled["fmi"]}


def _verdict(row: dict, direction: str) -> str | None:
    if row["small_group"] or not np.isfinite(row["ci_low"]):
        return None
    sign = 1 if direction == "higher" else -1
    if row["ci_low"] > 0 or row["ci_high"] < 0:
        return "improved" if sign * row["change_mean"] > 0 else "worsened"
    return "no clear change"


def missing_comparison(study, instrument: str, scale: str, pre=None, post=None,
                       confidence: float = 0.95, m: int = DEFAULT_IMPUTATIONS,
                       seed: int = DEFAULT_SEED, methods=METHODS, whole=None,
                       auxiliaries=None, imputation: str = "norm") -> pd.DataFrame:
    """The mean change of one scale under each handling of the missing follow-ups, side by
    side: one row per method of ``methods`` (:data:`METHODS`: ``mi`` the primary analysis,
    ``completers``, ``bocf``), columns :data:`COLUMNS`.

    ``n_analysed``: people in the analysis (everyone with a ``pre`` score for ``mi`` and
    ``bocf``, the completers for ``completers``); ``se, df``: for ``mi`` Rubin's total
    variance and the Barnard-Rubin df, else the paired t-test's; ``fmi``: the fraction of
    missing information (``mi`` only); ``improvement``: 'improved', 'worsened' or 'no clear
    change' by the interval and the scale's direction. Statistics are withheld (NaN,
    ``small_group``) when fewer than the study's minimum cell size are analysed.
    ``whole``: the whole study when ``study`` is one of its sites (imputation model of the
    whole study, :func:`impute_followup`)."""
    from spanalysis.change.outcomes import time_pair

    confidence = check_confidence(confidence)
    methods = _check_methods(methods)
    base, final = time_pair(study, pre, post)
    imp = (impute_followup(study, instrument, scale, base, final, m, seed, auxiliaries, whole,
                           imputation) if "mi" in methods else None)
    data = imp.data if imp is not None else scale_data(study, instrument, scale, base, final)
    x, y = data["pre"].to_numpy(float), data["post"].to_numpy(float)
    done = ~np.isnan(y)
    direction = _direction(study, instrument, scale)
    k = study.min_cell_size
    rows = []
    for method in methods:
        row = {"instrument": instrument, "scale": scale, "method": method,
               "analysis": _ANALYSIS[method], "pre": base, "post": final,
               "n_completers": int(done.sum()), "n_missing_post": int((~done).sum()),
               "fmi": math.nan, "m": math.nan, "seed": math.nan}
        if method == "completers":
            row.update(n_analysed=int(done.sum()), pre_mean=_mean(x[done]),
                       post_mean=_mean(y[done]), **_t_row(y[done] - x[done], confidence))
        elif method == "bocf":
            filled = np.where(done, y, x)
            row.update(n_analysed=x.size, pre_mean=_mean(x), post_mean=_mean(filled),
                       **_t_row(filled - x, confidence))
        else:
            row.update(n_analysed=x.size, m=imp.m, seed=imp.seed)
            if done.sum() >= MIN_COMPLETERS and x.size >= 2:
                row.update(_pool_imputed(x, imp.post, confidence))
            else:
                row.update(dict.fromkeys(_STATS, math.nan))
        row["small_group"] = row["n_analysed"] < k
        if row["small_group"]:
            row.update(dict.fromkeys(_STATS, math.nan))
        row.update(direction=direction, assumption=_ASSUMPTION[method], confidence=confidence)
        row["improvement"] = _verdict(row, direction)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


def _check_methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = [methods]
    methods = tuple(str(x) for x in methods)
    for method in methods:
        if method not in METHODS:
            raise InputError("unknown way of handling missing follow-ups", column="missing",
                             value=method, expected="one of " + ", ".join(METHODS) +
                             " (mi: multiple imputation, the primary analysis)")
    return methods


def change_by_missing(study, instruments=None, missing: str = "mi", confidence: float = 0.95,
                      pre=None, post=None, m: int = DEFAULT_IMPUTATIONS,
                      seed: int = DEFAULT_SEED, whole=None,
                      sensitivity: bool = False) -> pd.DataFrame:
    """:func:`missing_comparison` with one method (``missing``: ``mi``, ``completers`` or
    ``bocf``) for every questionnaire scale of ``instruments`` (None: all, as
    :func:`spanalysis.change.outcomes.questionnaire_scores`), one row per scale, columns
    :data:`COLUMNS` plus ``p_holm`` (Holm over the scales, within each method). With
    ``sensitivity`` the other two methods follow each scale's row (the chosen analysis
    first, then the sensitivity analyses beside it). For ``spanalysis change STUDY
    --missing``."""
    from spanalysis.change.effects import p_adjust_holm
    from spanalysis.change.outcomes import questionnaire_scores

    (missing,) = _check_methods(missing)
    methods = (missing,) + tuple(x for x in METHODS if x != missing) if sensitivity \
        else (missing,)
    scores = questionnaire_scores(study, instruments)
    keys = scores[["instrument", "scale"]].drop_duplicates()
    parts = [missing_comparison(study, str(i), str(s), pre, post, confidence, m, seed,
                                methods, whole)
             for i, s in zip(keys["instrument"], keys["scale"])]
    out = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS))
    out["p_holm"] = np.nan
    for method in methods:
        rows = out.index[out["method"] == method]
        if len(rows):
            out.loc[rows, "p_holm"] = p_adjust_holm(out.loc[rows, "p"].to_numpy(float))
    return out


# --------------------------------------------------------------------------------------------
# tipping point
# --------------------------------------------------------------------------------------------
#: the columns of the first table :func:`tipping_point` returns
TIPPING_COLUMNS = ["delta", "delta_sd", "change_mean", "ci_low", "ci_high", "p",
                   "includes_zero"]
#: the columns of its second table (one row)
TIPPING_SUMMARY = ["instrument", "scale", "pre", "post", "n_analysed", "n_missing_post",
                   "change_mean_mar", "ci_low_mar", "ci_high_mar", "shift", "baseline_sd",
                   "mid", "tipping_delta_ci", "tipping_delta_estimate", "small_group",
                   "sentence", "confidence"]


def _delta_pool(x, draws, missing, delta, sign, confidence):
    shifted = draws - sign * delta * missing[:, None]
    return _pool_imputed(x, shifted, confidence)


def tipping_point(study, instrument: str, scale: str, pre=None, post=None,
                  confidence: float = 0.95, m: int = DEFAULT_IMPUTATIONS,
                  seed: int = DEFAULT_SEED, deltas=None, whole=None,
                  auxiliaries=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How much worse the missing follow-ups would have to be to remove the change found
    under MAR (delta adjustment, module docstring). Returns ``(grid, summary)``.

    ``grid``: one row per ``delta`` (points each imputed follow-up is moved towards no
    change; default 0 to 1.25 x the delta that makes the estimate 0, in 21 steps), with
    ``delta_sd`` (delta over the baseline SD), the pooled ``change_mean, ci_low, ci_high, p``
    and ``includes_zero``. ``summary`` (one row, :data:`TIPPING_SUMMARY`): the MAR result;
    ``shift`` ('lower' or 'higher': the way imputed scores are moved, 'worse' for an
    improvement); ``mid`` (the scale's minimal important difference, NaN when none);
    ``tipping_delta_ci``: the smallest delta at which the interval includes 0 (0 when it
    already does under MAR); ``tipping_delta_estimate``: the delta at which the pooled change
    is 0, = change / (share of people imputed), exactly; and a plain ``sentence``. Withheld
    (NaN, ``small_group``) below the study's minimum cell size, and NaN when nobody, or too
    few people (fewer than :data:`MIN_COMPLETERS` completers), need imputing."""
    from spanalysis.change.outcomes import time_pair

    confidence = check_confidence(confidence)
    base, final = time_pair(study, pre, post)
    imp = impute_followup(study, instrument, scale, base, final, m, seed, auxiliaries, whole)
    x = imp.data["pre"].to_numpy(float)
    missing = imp.data["post"].isna().to_numpy()
    sd = float(x.std(ddof=1)) if x.size > 1 else math.nan
    info = study.scale_info
    row = info[(info["instrument"] == instrument) & (info["scale"] == scale)]
    mid = float(row["mid"].iloc[0]) if len(row) and "mid" in row else math.nan
    summary = {"instrument": instrument, "scale": scale, "pre": base, "post": final,
               "n_analysed": int(x.size), "n_missing_post": int(missing.sum()),
               "baseline_sd": sd, "mid": mid, "confidence": confidence,
               "small_group": x.size < study.min_cell_size}
    usable = (not summary["small_group"] and missing.any()
              and (~missing).sum() >= MIN_COMPLETERS)
    if not usable:
        summary.update(change_mean_mar=math.nan, ci_low_mar=math.nan, ci_high_mar=math.nan,
                       shift=None, tipping_delta_ci=math.nan,
                       tipping_delta_estimate=math.nan,
                       sentence=_no_tipping(summary, missing))
        return (pd.DataFrame(columns=TIPPING_COLUMNS),
                pd.DataFrame([summary], columns=TIPPING_SUMMARY))
    mar = _pool_imputed(x, imp.post, confidence)
    sign = 1.0 if mar["change_mean"] >= 0 else -1.0     # move towards no change
    share = missing.mean()
    zero_at = abs(mar["change_mean"]) / share
    ci_at = _ci_tipping(x, imp.post, missing, sign, confidence, mar, zero_at)
    if deltas is None:
        deltas = np.linspace(0, 1.25 * zero_at, 21)
    rows = []
    for d in np.asarray(deltas, dtype=float):
        r = _delta_pool(x, imp.post, missing, d, sign, confidence)
        rows.append({"delta": d, "delta_sd": d / sd if sd > 0 else math.nan,
                     "change_mean": r["change_mean"], "ci_low": r["ci_low"],
                     "ci_high": r["ci_high"], "p": r["p"],
                     "includes_zero": bool(r["ci_low"] <= 0 <= r["ci_high"])})
    up = sign > 0
    summary.update(change_mean_mar=mar["change_mean"], ci_low_mar=mar["ci_low"],
                   ci_high_mar=mar["ci_high"], shift="lower" if up else "higher",
                   tipping_delta_ci=ci_at, tipping_delta_estimate=zero_at)
    summary["sentence"] = _tipping_sentence(summary, _direction(study, instrument, scale))
    return (pd.DataFrame(rows, columns=TIPPING_COLUMNS),
            pd.DataFrame([summary], columns=TIPPING_SUMMARY))


def _ci_tipping(x, draws, missing, sign, confidence, mar, zero_at) -> float:
    """The smallest delta at which the pooled interval includes 0 (0 if it does at 0)."""
    def bound(d):   # the end of the interval nearest 0, signed so that > 0 excludes 0
        r = _delta_pool(x, draws, missing, d, sign, confidence)
        return r["ci_low"] if sign > 0 else -r["ci_high"]

    if bound(0.0) <= 0:
        return 0.0
    return float(optimize.brentq(bound, 0.0, zero_at, xtol=1e-6))


def _no_tipping(summary: dict, missing: np.ndarray) -> str:
    if summary["small_group"]:
        return "Too few people to show this analysis."
    if not missing.any():
        return "Everyone was followed up, so there are no missing follow-ups to vary."
    return "Too few people were followed up to impute the others."


def _tipping_sentence(s: dict, direction: str) -> str:
    def f(v):
        return f"{v:.1f}".replace("-", "\u2212")

    worse = (s["shift"] == "lower") == (direction == "higher")
    word = "worse" if worse else "better"
    if s["tipping_delta_ci"] == 0:
        return ("Under missing at random the change is already not distinguishable from "
                "no change, so there is no effect for the missing follow-ups to remove.")
    mid = (f" (the minimal important difference is {f(s['mid'])} points)"
           if np.isfinite(s["mid"]) else "")
    return (f"The change stays clear of zero unless the people not followed up scored, on "
            f"average, more than {f(s['tipping_delta_ci'])} points {word} at follow-up than "
            f"similar people who were followed up{mid}; they would have to score "
            f"{f(s['tipping_delta_estimate'])} points {word} for the average change to "
            f"vanish altogether.")


# --------------------------------------------------------------------------------------------
# who was lost
# --------------------------------------------------------------------------------------------
#: the columns of :func:`lost_to_follow_up`
LOST_COLUMNS = ["characteristic", "level", "kind", "completers_n", "completers_mean",
                "completers_sd", "completers_percent", "non_completers_n",
                "non_completers_mean", "non_completers_sd", "non_completers_percent",
                "std_difference", "small_group"]


def lost_to_follow_up(study, instrument: str, scale: str, pre=None, post=None,
                      characteristics=None) -> pd.DataFrame:
    """Baseline comparison of completers (a ``post`` score on the scale) and non-completers
    (a ``pre`` score only): one row per characteristic and level, columns
    :data:`LOST_COLUMNS`.

    Rows: ``people`` (the two group sizes), the ``pre`` score (``kind`` 'mean': n, mean,
    SD), each numeric auxiliary (sessions, IMD quintile: 'mean') and each level of each
    categorical one (site, age band, gender, ethnicity: ``kind`` 'count': n and percent of
    the group; a blank is '(not recorded)'). ``std_difference``: completers minus
    non-completers over the pooled SD, sqrt((s1^2 + s2^2) / 2), or for a level
    (p1 - p2) / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2) (Austin 2009); |d| > 0.1 is the usual
    sign of imbalance. Disclosure: percentages and differences of a level with a count
    below the study's minimum cell size in either group are withheld (NaN) and the row is
    ``small_group``; its counts stay in the table for the report's own disclosure control
    (``report.display.show_counts``), which must show them."""
    data = scale_data(study, instrument, scale, pre, post)
    chosen = [c for c in (AUXILIARIES if characteristics is None else characteristics)
              if c in data.columns]
    done = data["completer"].to_numpy(bool)
    k = study.min_cell_size
    n1, n0 = int(done.sum()), int((~done).sum())
    rows = [_row("people", "", "count", n1, n0, n1, n0, k)]
    for col in ["pre"] + chosen:
        if col != "pre" and (col in _CATEGORICAL or
                             not pd.api.types.is_numeric_dtype(data[col])):
            values = data[col].astype(object).where(data[col].notna(), _NOT_RECORDED)
            values = values.astype(str)
            for level in sorted(set(values)):
                hit = (values == level).to_numpy()
                rows.append(_row(col, level, "count", int((hit & done).sum()),
                                 int((hit & ~done).sum()), n1, n0, k))
        else:
            x = pd.to_numeric(data[col], errors="coerce").astype(float).to_numpy()
            rows.append(_mean_row(col, x[done], x[~done], k))
    out = pd.DataFrame(rows, columns=LOST_COLUMNS)
    out.loc[out["characteristic"] == "pre", "characteristic"] = \
        f"{instrument} {scale} ({_pre_label(study, pre, post)})"
    return out


def _pre_label(study, pre, post) -> str:
    from spanalysis.change.outcomes import time_pair

    return time_pair(study, pre, post)[0]


def _row(name, level, kind, c1, c0, n1, n0, k) -> dict:
    """A count row: ``c1`` of ``n1`` completers, ``c0`` of ``n0`` non-completers."""
    small = bool(0 < c1 < k or 0 < c0 < k or n1 < k or n0 < k)
    p1 = c1 / n1 if n1 else math.nan
    p0 = c0 / n0 if n0 else math.nan
    pooled = math.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2) if n1 and n0 else math.nan
    d = (p1 - p0) / pooled if pooled and np.isfinite(pooled) else math.nan
    if level == "" and name == "people":
        d, p1, p0 = math.nan, math.nan, math.nan
    row = {"characteristic": name, "level": level, "kind": kind, "completers_n": c1,
           "completers_mean": math.nan, "completers_sd": math.nan,
           "completers_percent": 100 * p1, "non_completers_n": c0,
           "non_completers_mean": math.nan, "non_completers_sd": math.nan,
           "non_completers_percent": 100 * p0, "std_difference": d,
           "small_group": small and name != "people"}
    if row["small_group"]:
        row.update(completers_percent=math.nan, non_completers_percent=math.nan,
                   std_difference=math.nan)
    return row


def _mean_row(name, x1: np.ndarray, x0: np.ndarray, k: int) -> dict:
    x1, x0 = x1[~np.isnan(x1)], x0[~np.isnan(x0)]
    small = x1.size < k or x0.size < k
    m1, m0 = _mean(x1), _mean(x0)
    s1 = float(x1.std(ddof=1)) if x1.size > 1 else math.nan
    s0 = float(x0.std(ddof=1)) if x0.size > 1 else math.nan
    pooled = math.sqrt((s1 ** 2 + s0 ** 2) / 2)
    row = {"characteristic": name, "level": "", "kind": "mean", "completers_n": int(x1.size),
           "completers_mean": m1, "completers_sd": s1, "completers_percent": math.nan,
           "non_completers_n": int(x0.size), "non_completers_mean": m0,
           "non_completers_sd": s0, "non_completers_percent": math.nan,
           "std_difference": (m1 - m0) / pooled if pooled > 0 else math.nan,
           "small_group": small}
    if small:
        row.update(completers_mean=math.nan, completers_sd=math.nan,
                   non_completers_mean=math.nan, non_completers_sd=math.nan,
                   std_difference=math.nan)
    return row


def missing_sentence(table: pd.DataFrame) -> str | None:
    """One plain sentence comparing the handlings of missing follow-ups in ``table`` (the
    rows of :func:`missing_comparison` for one scale, the chosen analysis first), or None
    when the first row's change is withheld.

    >>> t = pd.DataFrame({"method": ["mi", "completers", "bocf"],
    ...                   "change_mean": [5.79, 5.34, 3.31], "ci_low": [4.79, 4.47, 2.71],
    ...                   "ci_high": [6.80, 6.21, 3.91], "confidence": 0.95})
    >>> print(missing_sentence(t))
    Allowing for the people not followed up by multiple imputation, the mean change is 5.8 points (95% CI 4.8 to 6.8); among completers only it is 5.3 points, and counting everyone lost as unchanged (baseline carried forward) 3.3 points.
    """
    if table.empty or not np.isfinite(table["change_mean"].iloc[0]):
        return None
    words = {"mi": "allowing for the people not followed up by multiple imputation",
             "completers": "among completers only",
             "bocf": "counting everyone lost as unchanged (baseline carried forward)"}

    def num(x):
        return f"{x:.1f}".replace("-", "\u2212")

    first = table.iloc[0]
    level = f"{float(first['confidence']):.0%}"
    text = (f"{words[first['method']][:1].upper()}{words[first['method']][1:]}, the mean "
            f"change is {num(first['change_mean'])} points ({level} CI "
            f"{num(first['ci_low'])} to {num(first['ci_high'])})")
    rest = [f"{words[r.method]} {'it is ' if j == 0 else ''}{num(r.change_mean)} points"
            for j, r in enumerate(table.iloc[1:].itertuples()) if np.isfinite(r.change_mean)]
    if rest:
        text += "; " + ", and ".join(rest)
    return text + "."
