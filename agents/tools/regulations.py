"""``lookup_regulation``: find the articles of a local reference text that answer a query.

Each Markdown file of ``<documents_dir>/<collection>/`` is split into articles at its ``## ``
headings. Matching is plain token overlap: deterministic, explainable, and good enough for
texts of a few dozen articles.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.tools.base import Tool, ToolContext, ToolError, documents_root, inside

EXCERPT_CHARS = 400
_HEADING = "## "
_WORD = re.compile(r"\w+")
_TATWEEL = "\u0640"
# Alef maksura reads as yeh, teh marbuta as heh: spellings vary between writers.
_ARABIC_FOLDS = str.maketrans({"\u0649": "\u064a", "\u0629": "\u0647"})
_STOP_WORDS_RAW = """
les des une pour par avec dans sur est sont aux que qui quoi quel quelle quels quelles comment
mon mes vous nous votre vos cette ces son ses leur leurs pas plus etre avoir fait faire tout
tous elle ils elles entre sans sous chez comme mais donc
the and for with what which who how are was were this that these those from into about does
have has can your you our not any all there their its
على الى إلى هذا هذه ذلك تلك التي الذي الذين كيف ماذا متى أين لماذا هناك كان كانت مع عند
"""


def normalise(text: str) -> str:
    """Lower-case; fold accents and Arabic diacritics, hamza seats and tatweel away."""
    decomposed = unicodedata.normalize("NFKD", text.lower()).replace(_TATWEEL, "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.translate(_ARABIC_FOLDS)


def _fold_plural(token: str) -> str:
    # "restaurants" and "restaurant" must meet; Arabic words never end in a Latin "s".
    return token[:-1] if len(token) > 4 and token.endswith("s") else token


_STOP_WORDS = frozenset(normalise(word) for word in _STOP_WORDS_RAW.split())


def tokens(text: str) -> set[str]:
    """Distinct normalised tokens of at least 3 characters, stop words left out."""
    words = _WORD.findall(normalise(text))
    return {_fold_plural(w) for w in words if len(w) >= 3 and w not in _STOP_WORDS}


@dataclass(frozen=True)
class Article:
    source: str
    heading: str
    body: str

    def score(self, query: set[str]) -> float:
        """Share of the query's tokens found in the article, those in its heading counting twice."""
        if not query:
            return 0.0
        in_heading = len(query & tokens(self.heading))
        in_article = len(query & (tokens(self.heading) | tokens(self.body)))
        return round((in_article + in_heading) / (2 * len(query)), 4)


def split_articles(source: str, text: str) -> list[Article]:
    """One article per ``## `` heading; what comes before the first heading is left out."""
    articles: list[Article] = []
    heading: str | None = None
    body: list[str] = []
    for line in [*text.splitlines(), _HEADING]:
        if not line.startswith(_HEADING):
            body.append(line)
            continue
        if heading is not None:
            articles.append(Article(source, heading, "\n".join(body).strip()))
        heading, body = line[len(_HEADING) :].strip(), []
    return articles


def _collections(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.md")))


def _collection_dir(root: Path, collection: str) -> Path:
    folder = inside(root, collection)
    if not folder.is_dir() or not any(folder.glob("*.md")):
        known = ", ".join(_collections(root)) or "none"
        raise ToolError(f"unknown collection {collection!r}; available: {known}")
    return folder


def _read_articles(root: Path, folder: Path) -> list[Article]:
    articles: list[Article] = []
    for path in sorted(folder.glob("*.md")):
        safe = inside(root, str(path.relative_to(root)))
        try:
            text = safe.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ToolError(f"reference file {path.name} cannot be read: {exc}") from exc
        articles.extend(split_articles(path.name, text))
    return articles


def lookup_regulation(args: dict[str, Any], context: ToolContext) -> dict[str, Any]:
    root = documents_root(context)
    folder = _collection_dir(root, args["collection"])
    query = tokens(args["query"])
    scored = [
        (article.score(query), i, article) for i, article in enumerate(_read_articles(root, folder))
    ]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))
    return {
        "matches": [_match(score, article) for score, _, article in ranked[: args.get("limit", 1)]]
    }


def _match(score: float, article: Article) -> dict[str, Any]:
    return {
        "source": article.source,
        "article": article.heading,
        "excerpt": " ".join(article.body.split())[:EXCERPT_CHARS],  # unwrapped lines
        "score": score,
    }


TOOL = Tool(
    name="lookup_regulation",
    description=(
        "Find the articles of a local reference text (a collection of Markdown files) that best "
        "match a query; returns each article's heading, source file, an excerpt and a score."
    ),
    args_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "collection": {"type": "string", "pattern": "^[a-z0-9-]+$", "maxLength": 100},
            "query": {"type": "string", "minLength": 1, "maxLength": 500},
            "limit": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        },
        "required": ["collection", "query"],
        "additionalProperties": False,
    },
    run=lookup_regulation,
)
