"""How a classification agent decides with its example bank.

The engine sends the bank's nearest examples with the step (:mod:`agents.retrieval` ranks
them) and each label's score against all of its examples (the label's centroid); the model
reads the closest example in its prompt and answers under the schema's grammar. The label is
then the neighbours' similarity-weighted vote, mixed with the label scores by the step's
``centroid_weight`` (the vote alone follows a few close neighbours, which a shared phrase can
mislead), and that with the model's answer by its ``model_weight``. The weights are set from
``idara eval`` figures on the tune split, not assumed: on the embedded 135M model the examples
route best alone (docs/evaluation.md), so its procedures give the model weight 0 and the
model's answer is kept as evidence and for the fields the bank does not label (the urgency).
"""

from __future__ import annotations

from typing import Any

from agents.retrieval import Example, Neighbour, vote

PROMPT_EXAMPLES = 1
"""Examples shown to the model: each costs prompt tokens (a small model reads Arabic script in
many), and with model_weight 0 the model decides only the urgency; 3 made classify 1.79 times
as slow as v1 (p50), 1 keeps it within the 1.5 target (docs/evaluation.md)."""
EXAMPLE_CHARS = 160
EVIDENCE_NEIGHBOURS = 5


def neighbours_of(examples: list[dict[str, Any]]) -> list[Neighbour]:
    return [
        Neighbour(
            Example(str(e["text"]), str(e["label"]), str(e.get("language", "")), e.get("id")),
            float(e.get("score", 0.0)),
        )
        for e in examples
    ]


def decide_label(
    model_label: str | None,
    examples: list[dict[str, Any]],
    model_weight: float,
    label_scores: dict[str, float] | None = None,
    centroid_weight: float = 0.0,
) -> tuple[str | None, dict[str, Any]]:
    """The label and its evidence: the vote's shares, the label scores, the model's answer,
    the neighbours."""
    neighbours = neighbours_of(examples)
    shares = vote(neighbours)
    centroids = label_scores or {}
    if not centroids:
        centroid_weight = 0.0
    bank = {
        label: (1.0 - centroid_weight) * shares.get(label, 0.0)
        + centroid_weight * centroids.get(label, 0.0)
        for label in {*shares, *centroids}
    }
    scores = {label: (1.0 - model_weight) * value for label, value in bank.items()}
    if model_label is not None:
        scores[model_label] = scores.get(model_label, 0.0) + model_weight
    if not scores or max(scores.values()) <= 0:
        label, method = model_label, "model"
    else:
        label = max(scores, key=lambda name: (scores[name], name == model_label))
        method = "+".join(
            part
            for part, used in (("vote", True), ("labels", centroid_weight), ("model", model_weight))
            if used
        )
    evidence = {
        "method": method,
        "vote": dict(sorted(shares.items(), key=lambda item: -item[1])[:3]),
        "labels": dict(sorted(centroids.items(), key=lambda item: -item[1])[:3]),
        "model": model_label,
        "neighbours": [
            {
                "id": n.example.id,
                "label": n.example.label,
                "language": n.example.language,
                "score": n.score,
            }
            for n in neighbours[:EVIDENCE_NEIGHBOURS]
        ],
    }
    return label, evidence


def render_examples(examples: list[dict[str, Any]], clean: Any) -> str:
    """The closest examples as the model reads them: ``clean`` strips what could pass for a
    delimiter (the same cleaning as the citizen's own text)."""
    lines = []
    for example in examples[:PROMPT_EXAMPLES]:
        text = " ".join(str(example["text"]).split())[:EXAMPLE_CHARS]
        lines.append(f"- {clean(text)} => {example['label']}")
    return "\n".join(lines) if lines else "- (none)"
