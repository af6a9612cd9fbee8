"""Text out of documents: plain text, Markdown, HTML and PDF, as paragraphs with a title.

    doc = extract_text(entry)        # DocText: title, format, paragraphs (text, page), page_count

- `.txt`: UTF-8 (a BOM is dropped; UTF-16 with a BOM is read too). Paragraphs are separated by blank
  lines; hard-wrapped lines inside a paragraph are joined.
- `.md`/`.markdown`: front matter, code fences, HTML tags, link targets, images, emphasis, list and
  quote markers and table pipes are removed; headings become paragraphs of their own; the title is the
  front matter's `title:` or the first `#` heading.
- `.html`/`.htm`: the visible text (no script, style, template, svg; of the head only the title); block elements end
  paragraphs; the title is `<title>`, else the first `<h1>`. UTF-8, or the `charset` the page declares.
- `.pdf`: the text layer through pypdfium2, page by page (a paragraph records its page); words broken
  by a hyphen at a line end are joined. Scanned pages without a text layer give no paragraphs.

A file that cannot be read raises `SkipFile` with a one-line reason (not UTF-8, binary, empty, broken PDF).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from workbench.chunking import Paragraph
from workbench.images import FileEntry, SkipFile, read_file

TEXT_EXTENSIONS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".html": "html",
                   ".htm": "html", ".pdf": "pdf"}
TITLE_MAX = 300


@dataclass
class DocText:
    """A document's text: format ("txt", "md", "html", "pdf"), title, paragraphs; pages for PDFs."""

    format: str
    title: str | None
    paragraphs: list[Paragraph] = field(default_factory=list)
    page_count: int = 0


def decode_text(data: bytes, what: str = "text") -> str:
    """Bytes as text: UTF-8 (BOM dropped) or UTF-16 with a BOM; SkipFile saying where it is not."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise SkipFile(f"broken UTF-16 {what} (at byte {e.start})") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    if b"\x00" in data[:65536]:
        raise SkipFile(f"binary file (contains NUL bytes), not {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SkipFile(f"not UTF-8 {what}: invalid byte 0x{data[e.start]:02x} at offset {e.start}; "
                       "save the file as UTF-8") from None


def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks, each with its lines joined by spaces."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [" ".join(b.split()) for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


def _short_title(text: str | None) -> str | None:
    if not text:
        return None
    t = " ".join(text.split())
    return (t[: TITLE_MAX - 3] + "...") if len(t) > TITLE_MAX else (t or None)


def plain_text(text: str) -> DocText:
    blocks = _blocks(text)
    first = blocks[0] if blocks else ""
    return DocText("txt", _short_title(first) if len(first) <= 120 else None, [Paragraph(b) for b in blocks])


# --- Markdown -----------------------------------------------------------------------------
_MD_SUBS = [
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<(https?://[^>]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),  # inline HTML
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])[*_](?!\s)(.+?)(?<!\s)[*_](?![\w*])"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
]
_MD_LINE = [
    (re.compile(r"^\s{0,3}>\s?"), ""),  # quotes
    (re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?"), ""),  # list items, task boxes
    (re.compile(r"^\s*\|?(?:\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*$"), ""),  # table rules
]


def markdown_text(text: str) -> DocText:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = None
    fm = re.match(r"^---\n(.*?)\n(?:---|\.\.\.)\n", text, re.S)
    if fm:
        m = re.search(r"^title:\s*['\"]?(.+?)['\"]?\s*$", fm.group(1), re.M)
        title = m.group(1) if m else None
        text = text[fm.end():]
    out_lines: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
                out_lines.append("")
            else:
                out_lines.append(line)
            continue
        m = re.match(r"^(`{3,}|~{3,})", stripped)
        if m:
            fence = m.group(1)
            out_lines.append("")
            continue
        if re.match(r"^\s{0,3}\[[^\]]+\]:\s*\S+", line) or re.match(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$", line):
            out_lines.append("")  # link definitions, horizontal rules
            continue
        h = re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if h:
            title = title or (h.group(2) if len(h.group(1)) == 1 else None)
            out_lines += ["", h.group(2), ""]
            continue
        if re.match(r"^\s{0,3}(=+|-+)\s*$", line) and out_lines and out_lines[-1].strip():
            out_lines.append("")  # setext heading underline
            continue
        for pat, rep in _MD_LINE:
            line = pat.sub(rep, line)
        out_lines.append(line.replace("|", " "))
    body = "\n".join(out_lines)
    for pat, rep in _MD_SUBS:
        body = pat.sub(rep, body)
    doc = plain_text(body)
    doc.format = "md"
    doc.title = _short_title(title) or doc.title
    return doc


# --- HTML ---------------------------------------------------------------------------------
_HIDDEN = {"script", "style", "template", "svg", "noscript", "iframe", "object", "canvas", "math"}
_BLOCK = {"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
          "section", "article", "aside", "header", "footer", "nav", "main", "blockquote", "pre", "figure",
          "figcaption", "hr", "form", "fieldset", "address", "details", "summary", "caption", "body", "html"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.parts: list[str] = []
        self.title: list[str] = []
        self.h1: list[str] = []
        self.in_title = self.in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in _HIDDEN:
            self.hidden += 1
        if tag == "h1" and not self.h1:
            self.in_h1 = True
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        if tag == "h1":
            self.in_h1 = False
        if tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
            return
        if self.hidden:
            return
        if self.in_h1:
            self.h1.append(data)
        self.parts.append(data)


def html_text(data: bytes) -> DocText:
    try:
        text = decode_text(data, "HTML")
    except SkipFile as first:
        m = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", data[:4096], re.I)
        if not m:
            raise SkipFile(f"{first}, and the page declares no charset") from None
        enc = m.group(1).decode("ascii")
        try:
            text = data.decode(enc)
        except LookupError:
            raise SkipFile(f"HTML declares an unknown charset {enc!r}") from None
        except UnicodeDecodeError as e:
            raise SkipFile(f"HTML is not valid {enc} (as it declares) at offset {e.start}") from None
    p = _Visible()
    try:
        p.feed(text)
        p.close()
    except Exception as e:  # html.parser is lenient; this is a last resort
        raise SkipFile(f"cannot parse HTML: {e}") from None
    body = "".join(p.parts)
    blocks = [" ".join(b.split()) for b in re.split(r"\n\s*\n", body) if b.strip()]
    title = _short_title("".join(p.title)) or _short_title("".join(p.h1))
    return DocText("html", title, [Paragraph(b) for b in blocks])


# --- PDF ----------------------------------------------------------------------------------
def pdf_page_paragraphs(text: str, page: int) -> list[Paragraph]:
    """A page's text layer as paragraphs (blank-line separated), hyphenated line breaks joined."""
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text.replace("\r\n", "\n").replace("\r", "\n"))
    return [Paragraph(b, page) for b in _blocks(text)]


def pdf_text(entry: FileEntry, digest: str | None = None) -> DocText:
    """The text layer of every page (nothing rendered)."""
    from workbench.pdfs import OpenPdf

    with OpenPdf(entry, digest=digest) as pdf:
        paragraphs = [p for number, text in pdf.page_texts() for p in pdf_page_paragraphs(text, number)]
        return DocText("pdf", pdf.data.title, paragraphs, pdf.data.page_count)


def extract_text(entry: FileEntry, data: bytes | None = None) -> DocText:
    """The paragraphs of a .txt, .md, .html or .pdf file; SkipFile when it cannot be used."""
    fmt = TEXT_EXTENSIONS.get(entry.path.suffix.lower())
    if fmt is None:
        raise SkipFile(f"unsupported file type {entry.path.suffix or '(no extension)'}")
    if fmt == "pdf":
        return pdf_text(entry)
    data = read_file(entry.path) if data is None else data
    if not data:
        raise SkipFile("empty file (0 bytes)")
    if fmt == "html":
        doc = html_text(data)
    else:
        text = decode_text(data)
        doc = markdown_text(text) if fmt == "md" else plain_text(text)
    return doc
