"""Why a cause ranks where it does, and whether any listed cause fits at all.

Each known finding and timing fact gets a weight of evidence for a cause c:
    log P(x | c) − log P(x | not c),   P(x | not c) = Σ_{c'≠c} π(c') P(x | c') / Σ_{c'≠c} π(c'),
with π the case's prior. Positive weights argue for c, negative against. Every weight names
the references behind P(x | c).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
import numpy as np

from rootcause.engine.model import Array, IntArray, Model
from rootcause.engine.scoring import Encoded, timing_terms

TIMING_FIELDS = {
    "onset": "leg_pain.onset_days",
    "assessed": "days_since_surgery",
    "relief": "leg_pain.relief_after_surgery",
    "speed": "leg_pain.onset_speed",
    "trend": "leg_pain.trend",
}


class EvidenceItem(msgspec.Struct, frozen=True):
    """Structs, not dataclasses: an explained assessment builds dozens per request."""

    item: str  # finding id or timing field
    value: bool | str
    weight: float  # natural-log weight of evidence
    p_given_condition: float
    p_given_others: float
    sources: list[str]

    @property
    def direction(self) -> str:
        return "for" if self.weight > 0 else "against"

    def to_dict(self) -> dict[str, object]:
        return {
            "item": self.item,
            "value": self.value,
            "weight": round(self.weight, 4),
            "likelihood_ratio": round(math.exp(self.weight), 4),
            "direction": self.direction,
            "p_given_condition": round(self.p_given_condition, 4),
            "p_given_others": round(self.p_given_others, 4),
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
            "for": [e.to_dict() for e in self.evidence if e.weight > 0],
            "against": [e.to_dict() for e in self.evidence if e.weight <= 0],
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
    """Explanations for the conditions in `top` for case `row` of an encoded batch."""
    terms = timing_terms(model, enc)
    known_true = np.flatnonzero(enc.x_true[row])
    known_false = np.flatnonzero(enc.x_false[row])
    labels: list[tuple[str, bool | str, str]] = [
        (model.findings[i], True, model.findings[i]) for i in known_true
    ] + [(model.findings[i], False, model.findings[i]) for i in known_false]
    rows = [model.p_present[known_true], 1.0 - model.p_present[known_false]]
    for name, term in terms.items():
        log_lik = term[row]
        if np.any(log_lik):
            rows.append(np.exp(log_lik)[None, :])
            labels.append((TIMING_FIELDS[name], state_labels.get(name, ""), f"timing.{name}"))
    probs = np.concatenate(rows, axis=0)  # (items, C): P(observed value | each cause)
    others = probs @ _others_weights(prior_row, top).T  # (items, k)
    own = probs[:, top]  # (items, k)
    weights = (np.log(own) - np.log(others)).T.tolist()
    own_by_cause, others_by_cause = own.T.tolist(), others.T.tolist()
    out: list[Explanation] = []
    for j, c in enumerate(top):
        cid = model.conditions[c]
        items = [
            EvidenceItem(item, value, w, p_own, p_others, model.sources.get((cid, key), []))
            for (item, value, key), w, p_own, p_others in zip(
                labels, weights[j], own_by_cause[j], others_by_cause[j], strict=True
            )
        ]
        items.sort(key=lambda e: -abs(e.weight))
        out.append(
            Explanation(
                cid,
                float(post_row[c]),
                float(prior_row[c]),
                model.sources.get((cid, f"prior.{procedure}"), []),
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
    known = enc.known.astype(np.float64)
    n_c = model.n_conditions
    summed = known @ model.fit_moments  # (n, 2C): Σ over known items of mean, then of variance
    expected = summed[rows, best]
    variance = summed[rows, n_c + best]
    items = known.sum(axis=1)
    moments = model.timing_moments
    for (mean, var), index in (
        (moments["onset"], enc.onset),
        (moments["assessed"], enc.assessed),
        (moments["relief"], enc.relief),
        (moments["speed"], enc.speed),
        (moments["trend"], enc.trend),
    ):
        has = index >= 0
        at = (enc.procedure, best) if mean.ndim == 2 else (best,)
        expected += np.where(has, mean[at], 0.0)
        variance += np.where(has, var[at], 0.0)
        items += has
    observed = loglik[rows, best]
    z = (observed - expected) / np.sqrt(np.maximum(variance, 1e-9))
    return z, items
