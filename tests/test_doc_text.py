"""Text extraction from .txt, .md, .html and .pdf files, and the reasons bad files give."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_fixtures import make_pdf

from workbench.doc_text import extract_text
from workbench.images import FileEntry, SkipFile


def entry(p: Path) -> FileEntry:
    st = p.stat()
    return FileEntry(p, st.st_size, st.st_mtime_ns)


def write(tmp_path: Path, name: str, data: bytes | str) -> FileEntry:
    p = tmp_path / name
    if isinstance(data, str):
        p.write_text(data, encoding="utf-8")
    else:
        p.write_bytes(data)
    return entry(p)


def texts(doc: object) -> list[str]:
    return [p.text for p in doc.paragraphs]  # type: ignore[attr-defined]


def test_plain_text_paragraphs_join_wrapped_lines(tmp_path: Path) -> None:
    doc = extract_text(write(tmp_path, "a.txt", "Title line\r\n\r\nFirst paragraph\nwrapped here.\n\n\n  Second.  \n"))
    assert doc.format == "txt" and doc.title == "Title line"
    assert texts(doc) == ["Title line", "First paragraph wrapped here.", "Second."]
    assert all(p.page == 0 for p in doc.paragraphs)


def test_utf8_bom_and_utf16_are_read(tmp_path: Path) -> None:
    assert texts(extract_text(write(tmp_path, "bom.txt", b"\xef\xbb\xbfcaf\xc3\xa9"))) == ["café"]
    assert texts(extract_text(write(tmp_path, "u16.txt", "naïve text".encode("utf-16")))) == ["naïve text"]


@pytest.mark.parametrize("name,data,reason", [
    ("latin1.txt", b"caf\xe9 au lait", "not UTF-8 text: invalid byte 0xe9 at offset 3; save the file as UTF-8"),
    ("bin.txt", b"abc\x00\x01\x02", "binary file (contains NUL bytes), not text"),
    ("empty.md", b"", "empty file (0 bytes)"),
    ("bad.html", b"<p>caf\xe9</p>", "not UTF-8 HTML: invalid byte 0xe9 at offset 6; save the file as UTF-8, "
                                    "and the page declares no charset"),
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "not a valid PDF (corrupt, truncated or not a PDF at all)"),
    ("notes.rtf", b"{\\rtf1}", "unsupported file type .rtf"),
])
def test_bad_files_have_reasons(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(SkipFile) as e:
        extract_text(write(tmp_path, name, data))
    assert str(e.value) == reason


def test_markdown_markup_is_stripped(tmp_path: Path) -> None:
    md = """---
title: "Front matter title"
tags: [a]
---
# Heading one

Some **bold**, _italic_ and `code` text with a [link](http://example.com) and ![an owl](owl.png).
<span>inline html</span>

- first item
- [x] done item
1. numbered

> quoted line

| col a | col b |
|-------|-------|
| x     | y     |

```python
def f():
    return 1
```

[ref]: http://example.com/ref
***
Setext heading
--------------
"""
    doc = extract_text(write(tmp_path, "n.md", md))
    assert doc.format == "md" and doc.title == "Front matter title"
    t = texts(doc)
    assert t[0] == "Heading one"
    assert t[1] == "Some bold, italic and code text with a link and an owl. inline html"
    assert "first item done item numbered" in t
    assert "quoted line" in t
    assert "col a col b x y" in " ".join(" ".join(t).split())
    assert any("def f(): return 1" == p for p in t)  # code kept as text, fences dropped
    joined = " ".join(t)
    assert "http" not in joined and "**" not in joined and "```" not in joined and "---" not in joined
    assert "Setext heading" in t


def test_markdown_title_falls_back_to_the_first_h1(tmp_path: Path) -> None:
    doc = extract_text(write(tmp_path, "n.md", "intro\n\n## Sub\n\n# Real title\n\ntext"))
    assert doc.title == "Real title"


def test_html_visible_text_only(tmp_path: Path) -> None:
    html = """<!doctype html><html><head><title>Page &amp; title</title><style>p {color: red}</style>
<script>var secret = 1;</script><meta name="x" content="hidden"></head>
<body><nav>Menu</nav><h1>Big heading</h1><p>First <b>para</b>graph &eacute;t&eacute;.</p>
<div>Second<br>line</div><template><p>not shown</p></template><svg><text>no</text></svg>
<ul><li>one</li><li>two</li></ul><noscript>enable js</noscript></body></html>"""
    doc = extract_text(write(tmp_path, "p.html", html))
    assert doc.format == "html" and doc.title == "Page & title"
    assert texts(doc) == ["Menu", "Big heading", "First paragraph été.", "Second", "line", "one", "two"]


def test_html_declared_charset_is_used(tmp_path: Path) -> None:
    page = '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><p>cr\xe8me</p></body>'
    doc = extract_text(write(tmp_path, "l.htm", page.encode("latin-1")))
    assert doc.title == "Café" and texts(doc) == ["crème"]


def test_html_title_falls_back_to_h1(tmp_path: Path) -> None:
    assert extract_text(write(tmp_path, "h.html", "<h1>Only <i>h1</i></h1><p>x</p>")).title == "Only h1"


def test_pdf_text_layer_per_page(tmp_path: Path) -> None:
    p = make_pdf(tmp_path / "d.pdf", ["Page one line one\nline two of page one", "", "Third page text"],
                 scanned=(1,))
    doc = extract_text(entry(p))
    assert doc.format == "pdf" and doc.page_count == 3
    assert [(x.page, x.text) for x in doc.paragraphs] == [
        (1, "Page one line one line two of page one"), (3, "Third page text")]


def test_pdf_hyphenated_line_breaks_are_joined() -> None:
    from workbench.doc_text import pdf_page_paragraphs

    paras = pdf_page_paragraphs("an exam-\nple of text\n\nnext para", 4)
    assert [(p.text, p.page) for p in paras] == [("an example of text", 4), ("next para", 4)]
