"""The deliver step's documents: official HTML and PDF, in French, Arabic and English."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from orchestrator.documents import render
from orchestrator.documents.render import (
    Block,
    DocumentError,
    DocumentInput,
    RenderedDocument,
    render_document,
    render_html,
    render_pdf,
    split_body,
)

REFERENCE = "IDR-20261123-1A2B3C4D"

FRENCH = DocumentInput(
    template="letter",
    language="fr",
    reference=REFERENCE,
    procedure_title="Demande d'acte de naissance",
    subject="Votre acte de naissance",
    body=(
        "Madame, Monsieur,\n\n"
        "Nous avons le plaisir de vous transmettre votre acte de naissance.\n"
        "Pièces jointes :\n"
        "- copie intégrale\n"
        "- extrait avec filiation\n\n"
        "Veuillez agréer nos salutations distinguées."
    ),
    issued_on="2026-11-23",
    approved_by="Amina Benali",
    approved_at="2026-11-23T10:15:00+01:00",
)

ARABIC = DocumentInput(
    template="letter",
    language="ar",
    reference=REFERENCE,
    procedure_title="طلب شهادة الميلاد",
    subject="شهادة الميلاد الخاصة بكم",
    body=(
        "سيدتي، سيدي،\n\n"
        "يسعدنا أن نرسل إليكم شهادة الميلاد المطلوبة.\n"
        "- نسخة كاملة\n"
        "- مستخرج\n\n"
        "وتفضلوا بقبول فائق الاحترام."
    ),
    issued_on="2026-11-23",
    approved_by="أمينة بنعلي",
    approved_at="2026-11-23T10:15:00+01:00",
)


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


@pytest.fixture(scope="module")
def french(tmp_path_factory: pytest.TempPathFactory) -> RenderedDocument:
    return render_document(FRENCH, tmp_path_factory.mktemp("fr") / "deliver", "letter-fr")


@pytest.fixture(scope="module")
def arabic(tmp_path_factory: pytest.TempPathFactory) -> RenderedDocument:
    return render_document(ARABIC, tmp_path_factory.mktemp("ar"), "letter-ar")


def test_french_letter_renders_as_html_and_pdf(french: RenderedDocument) -> None:
    assert french.html_path.name == "letter-fr.html"
    assert french.pdf_path.name == "letter-fr.pdf"
    pdf = french.pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert french.pdf_pages >= 1
    assert french.pdf_pages == len(PdfReader(french.pdf_path).pages)
    assert french.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    assert french.html_sha256 == hashlib.sha256(french.html_path.read_bytes()).hexdigest()

    text = pdf_text(french.pdf_path)
    assert REFERENCE in text
    assert "Nous avons le plaisir de vous transmettre votre acte de naissance." in text
    assert "Approuvé par Amina Benali le 23 novembre 2026 à 10:15" in text


def test_french_html_uses_french_labels(french: RenderedDocument) -> None:
    html = french.html_path.read_text(encoding="utf-8")
    assert '<html lang="fr" dir="ltr">' in html
    for label in ("Référence", "Procédure", "Objet", "L&#39;administration", "23 novembre 2026"):
        assert label in html
    assert "Document généré par idara" in html
    assert "<li>copie intégrale</li><li>extrait avec filiation</li>" in html


def test_arabic_letter_is_right_to_left(arabic: RenderedDocument) -> None:
    html = arabic.html_path.read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in html
    assert "يسعدنا أن نرسل إليكم شهادة الميلاد المطلوبة." in html
    assert "الإدارة" in html  # the default authority
    assert "المرجع" in html and "الموضوع" in html

    pdf = arabic.pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert arabic.pdf_pages >= 1
    text = pdf_text(arabic.pdf_path)
    assert REFERENCE in text
    assert "شهادة الميلاد" in text  # Arabic glyphs made it into the PDF, as text


def test_english_letter_names_the_given_authority(tmp_path: Path) -> None:
    doc = dataclasses.replace(
        FRENCH, language="en", authority="City of Example", approved_at=None, body="Hello."
    )
    result = render_document(doc, tmp_path, "letter-en")
    html = result.html_path.read_text(encoding="utf-8")
    assert '<html lang="en" dir="ltr">' in html
    assert "City of Example" in html and "The administration" not in html
    assert "23 November 2026" in html
    assert "Approved by Amina Benali<" in html  # no date: approved_at was not given


def test_body_is_shown_literally_never_run_as_template_code_or_markup(tmp_path: Path) -> None:
    doc = dataclasses.replace(
        FRENCH,
        subject="<b>Urgent</b> {{ 6*6 }}",
        body="{{ 7*7 }} <script>alert(1)</script>\n\n{% for x in range(3) %}x{% endfor %}",
        approved_by="{{ config }}",
    )
    result = render_document(doc, tmp_path, "hostile")
    html = result.html_path.read_text(encoding="utf-8")
    assert "{{ 7*7 }}" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "49" not in html and "36" not in html
    assert "{% for x in range(3) %}x{% endfor %}" in html
    assert "&lt;b&gt;Urgent&lt;/b&gt;" in html
    assert "Approuvé par {{ config }}" in html
    assert "{{ 7*7 }} <script>alert(1)</script>" in pdf_text(result.pdf_path)


def test_body_is_split_into_paragraphs_and_bullet_lists() -> None:
    body = (
        "First line\nsecond line\n\n- one\n- two\n  continued\n\n- three\nAfter the list\r\n\r\n\n"
    )
    assert split_body(body) == [
        Block("paragraph", ("First line", "second line")),
        Block("list", ("one", "two continued", "three")),
        Block("paragraph", ("After the list",)),
    ]
    html = render_html(dataclasses.replace(FRENCH, body=body))
    assert "<p>First line<br>second line</p>" in html
    assert "<ul><li>one</li><li>two continued</li><li>three</li></ul>" in html


def test_every_language_has_every_label() -> None:
    labels = json.loads(render.LABELS_FILE.read_text(encoding="utf-8"))
    assert sorted(labels) == ["ar", "en", "fr"]
    for language, texts in labels.items():
        assert texts.keys() == labels["en"].keys(), language
        assert texts["direction"] == ("rtl" if language == "ar" else "ltr")
        assert len(texts["months"]) in (0, 12), language


@pytest.mark.parametrize("language", ["fr", "ar", "en"])
def test_html_never_refers_to_an_external_url(language: str) -> None:
    html = render_html(dataclasses.replace(FRENCH, language=language))
    assert "http://" not in html and "https://" not in html
    assert "url(" not in html and "src=" not in html and "@import" not in html


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"template": "invoice"}, "unknown document template 'invoice': use one of letter"),
        ({"template": "../templates/letter"}, "unknown document template"),
        ({"language": "de"}, "unknown document language 'de': use one of ar, en, fr"),
        ({"issued_on": "23/11/2026"}, "issued_on must be an ISO date like 2026-11-23"),
        ({"approved_at": "yesterday"}, "approved_at must be an ISO date and time"),
        ({"body": " \n\n "}, "the document body is empty"),
    ],
)
def test_invalid_input_is_refused_with_what_to_fix(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    with pytest.raises(DocumentError, match=re.escape(message)):
        render_document(dataclasses.replace(FRENCH, **change), tmp_path / "out", "doc")
    assert not (tmp_path / "out").exists()


def test_a_stem_cannot_escape_the_output_directory(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="invalid file name stem"):
        render_document(FRENCH, tmp_path, "../escaped")
    assert list(tmp_path.parent.glob("escaped*")) == []


def test_url_fetcher_refuses_every_url() -> None:
    fetcher = render._offline_fetcher()
    for url in ("http://example.org/x.png", "https://example.org/font.woff", "file:///etc/passwd"):
        with pytest.raises(DocumentError, match="documents may not load any URL") as refused:
            fetcher.fetch(url)
        assert url in str(refused.value)
    with pytest.raises(DocumentError, match=r"example\.org"):
        render.refuse_url("http://example.org/x.png")


def test_a_page_referring_to_a_url_stops_rendering_instead_of_fetching() -> None:
    with pytest.raises(DocumentError, match=r"http://example\.org/x\.png"):
        render_pdf('<p>Logo</p><img src="http://example.org/x.png">')


def test_rendering_again_replaces_the_files_with_the_same_document(tmp_path: Path) -> None:
    first = render_document(FRENCH, tmp_path, "case")
    second = render_document(FRENCH, tmp_path, "case")
    assert second.html_sha256 == first.html_sha256
    assert second.pdf_pages == first.pdf_pages
    assert pdf_text(second.pdf_path) == pdf_text(first.pdf_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["case.html", "case.pdf"]


def test_a_failed_write_keeps_the_previous_document_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = render_document(FRENCH, tmp_path, "case")

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    changed = dataclasses.replace(FRENCH, subject="A new subject")
    with pytest.raises(DocumentError, match="No space left on device"):
        render_document(changed, tmp_path, "case")
    assert hashlib.sha256(before.html_path.read_bytes()).hexdigest() == before.html_sha256
    assert hashlib.sha256(before.pdf_path.read_bytes()).hexdigest() == before.pdf_sha256
    assert sorted(path.name for path in tmp_path.iterdir()) == ["case.html", "case.pdf"]


def test_a_long_document_runs_over_several_pages(tmp_path: Path) -> None:
    paragraph = "Ce paragraphe est répété pour remplir plusieurs pages du document officiel. " * 4
    doc = dataclasses.replace(FRENCH, body="\n\n".join([paragraph] * 40))
    result = render_document(doc, tmp_path, "long")
    reader = PdfReader(result.pdf_path)
    assert result.pdf_pages == len(reader.pages) > 1
    # The footer, with the reference, is repeated on every page.
    assert all(REFERENCE in page.extract_text() for page in reader.pages)
