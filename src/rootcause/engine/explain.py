"""Why a cause ranks where it does, and whether any listed cause fits at all.

Each known finding and timing fact gets a weight of evidence for a cause c:
    log P(x | c) − log P(x | not c),   P(x | not c) = Σ_{c'≠c} π(c') P(x | c') / Σ_{c'≠c} π(c'),
with π the case's prior. Positive weights argue for c, negative against. Every weight names
the references behind P(x | c).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np

from rootcause.engine.model import TIMING_VARIABLES, Array, IntArray, Model
from rootcause.engine.scoring import Encoded, stated_sum, timing_row

TIMING_FIELDS = {
    "onset": "leg_pain.onset_days",
    "assessed": "days_since_surgery",
    "relief": "leg_pain.relief_after_surgery",
    "speed": "leg_pain.onset_speed",
    "trend": "leg_pain.trend",
}


class EvidenceItem(msgspec.Struct, frozen=True):
    """One finding's or timing fact's weight for one cause, with the numbers as reported.

    Structs, not dataclasses: an explained assessment builds dozens per request. The numbers
    are rounded to 4 decimals once, for the whole explanation at a time; `direction` comes
    from the unrounded weight.
    """

    item: str  # finding id or timing field
    value: bool | str
    weight: float  # natural-log weight of evidence
    likelihood_ratio: float
    direction: str  # "for" if the weight is positive, else "against"
    p_given_condition: float
    p_given_others: float
    sources: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "item": self.item,
            "value": self.value,
            "weight": self.weight,
            "likelihood_ratio": self.likelihood_ratio,
            "direction": self.direction,
            "p_given_condition": self.p_given_condition,
            "p_given_others": self.p_given_others,
            "sources": self.sources,
        }


class Explanation(msgspec.Struct, frozen=True):
    condition: str
    probability: float
    prior: float
    prior_sources: list[str]
    evidence: list[EvidenceItem]

    def to_dict(self) -> dict[str, object]:
        return {
            "condition": self.condition,
            "probability": self.probability,
            "prior": round(self.prior, 5),
            "prior_sources": self.prior_sources,
            "for": [e.to_dict() for e in self.evidence if e.direction == "for"],
            "against": [e.to_dict() for e in self.evidence if e.direction == "against"],
        }


def _others_weights(prior: Array, top: list[int]) -> Array:
    """(k, C): for each explained cause, the prior over the other causes, renormalised."""
    w = np.repeat(prior[None, :], len(top), axis=0)
    w[np.arange(len(top)), top] = 0.0
    w /= np.maximum(w.sum(axis=1, keepdims=True), 1e-300)
    return w


def explain_case(
    model: Model,
    enc: Encoded,
    row: int,
    post_row: Array,
    prior_row: Array,
    procedure: str,
    state_labels: dict[str, str],
    top: list[int],
) -> list[Explanation]:
    """Explanations for the conditions in `top` for case `row` of an encoded batch.

    The arithmetic runs on (items, k) arrays at once; Python only assembles the items.
    """
    state = enc.state[row]
    known_true = (state > 0).nonzero()[0].tolist()
    known_false = (state < 0).nonzero()[0].tolist()
    findings = model.findings
    labels: list[tuple[str, bool | str, str]] = [(findings[i], True, findings[i]) for i in known_true] + [
        (findings[i], False, findings[i]) for i in known_false
    ]
    rows = [model.p_present[known_true], 1.0 - model.p_present[known_false]]
    for name, log_lik in timing_row(model, enc, row).items():
        if log_lik.any():
            rows.append(np.exp(log_lik)[None, :])
            labels.append((TIMING_FIELDS[name], state_labels.get(name, ""), f"timing.{name}"))
    probs = np.concatenate(rows, axis=0)  # (items, C): P(observed value | each cause)
    others = (probs @ _others_weights(prior_row, top).T).T  # (k, items)
    own = probs[:, top].T  # (k, items)
    weights = np.log(own) - np.log(others)
    # strongest first; stable, so equal weights keep the findings-then-timing order
    order = np.argsort(-np.abs(weights), axis=1, kind="stable")
    pick = (np.arange(len(top))[:, None], order)
    ranked = weights[pick]
    numbers = np.stack([ranked, np.exp(ranked), own[pick], others[pick]])
    rounded, likelihood_ratio, own_ranked, others_ranked = np.round(numbers, 4).tolist()
    direction = np.where(ranked > 0, "for", "against").tolist()
    out: list[Explanation] = []
    sources = model.sources
    for j, c in enumerate(top):
        cid = model.conditions[c]
        items = [
            EvidenceItem(item, value, w, lr, d, p_own, p_others, sources.get((cid, key), []))
            for (item, value, key), w, lr, d, p_own, p_others in zip(
                [labels[i] for i in order[j].tolist()],
                rounded[j],
                likelihood_ratio[j],
                direction[j],
                own_ranked[j],
                others_ranked[j],
                strict=True,
            )
        ]
        out.append(
            Explanation(
                cid,
                float(post_row[c]),
                float(prior_row[c]),
                sources.get((cid, f"prior.{procedure}"), []),
                items,
            )
        )
    return out


@dataclass(frozen=True)
class Fit:
    z: float
    n_items: int
    poor: bool


def fit_scores(model: Model, enc: Encoded, best: IntArray, loglik: Array) -> tuple[Array, Array]:
    """(z, n_items) per case: how typical the evidence is of the leading cause.

    Compares the observed log-likelihood under the leading cause with its expectation and
    variance over that cause's own presentations of the same known items.
    """
    rows = np.arange(enc.n)
    n_c = model.n_conditions
    # (n, 2C): Σ over known items of mean, then of variance
    summed = stated_sum(enc, model.fit_moments, model.fit_moments)
    expected = summed[rows, best]
    variance = summed[rows, n_c + best]
    stated = np.stack([getattr(enc, name) for name in TIMING_VARIABLES], axis=1) >= 0  # (n, T)
    moments = model.timing_moments[enc.procedure, best]  # (n, 2, T)
    expected += (moments[:, 0] * stated).sum(axis=1)
    variance += (moments[:, 1] * stated).sum(axis=1)
    items = np.count_nonzero(enc.state, axis=1) + stated.sum(axis=1)
    observed = loglik[rows, best]
    z = (observed - expected) / np.sqrt(np.maximum(variance, 1e-9))
    return z, items
