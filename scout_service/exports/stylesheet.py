"""The inline stylesheet of the HTML export, also used for the PDF.

Only locally installed font families, no url() anywhere: the page must
render the same offline, and WeasyPrint must have nothing to fetch. The
print part adds page breaks between reports, running footers and, in the
PDF, page numbers in the table of contents (WeasyPrint's target-counter;
browsers ignore it).
"""

from typing import Final

STYLESHEET: Final = """
:root { color-scheme: light; }
html { font-family: "DejaVu Sans", "Liberation Sans", "Segoe UI", Helvetica, Arial,
  sans-serif; font-size: 15px; line-height: 1.55; color: #1c2430; background: #fff; }
body { margin: 0 auto; max-width: 52rem; padding: 2rem 1.5rem 4rem; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; color: #0f2f57; break-after: avoid; }
h1 { font-size: 2rem; margin: 0.2rem 0 0.4rem; string-set: dossier-title content(); }
h2 { font-size: 1.5rem; margin: 0 0 0.6rem; padding-bottom: 0.3rem;
  border-bottom: 2px solid #d5deea; }
h3 { font-size: 1.2rem; margin: 1.6rem 0 0.5rem; }
h4 { font-size: 1.05rem; margin: 1.3rem 0 0.4rem; }
h5, h6 { font-size: 1rem; margin: 1.1rem 0 0.3rem; }
a { color: #1d5fb4; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.08em; font-size: 0.8rem;
  color: #5b6b80; margin: 0; }
.meta, .updated { color: #5b6b80; font-size: 0.9rem; margin: 0 0 1rem; }
header.cover { border-bottom: 1px solid #d5deea; margin-bottom: 1.5rem; }
nav.toc ol { padding-left: 1.4rem; }
nav.toc li { margin: 0.25rem 0; }
section.report { margin: 2.5rem 0; }
.table-wrap { margin: 0.8rem 0 1.2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #d5deea; padding: 0.35rem 0.55rem; text-align: left;
  vertical-align: top; }
th { background: #eef3f9; }
tr:nth-child(even) td { background: #f8fafc; }
pre, code { font-family: "DejaVu Sans Mono", "Liberation Mono", Consolas, monospace;
  font-size: 0.85em; }
pre { background: #f4f6f9; padding: 0.7rem 0.9rem; white-space: pre-wrap;
  overflow-wrap: break-word; }
blockquote { margin: 1rem 0; padding: 0.2rem 1rem; border-left: 4px solid #d5deea;
  color: #3c4a5c; }
.image-omitted { color: #5b6b80; font-style: italic; }
section.charts { margin: 2.5rem 0; }
figure.chart { margin: 1rem 0 2rem; }
figure.chart img { display: block; width: 100%; max-width: 100%; height: auto; }
figure.chart figcaption { font-size: 0.85rem; color: #3c4a5c; margin-top: 0.4rem; }

@media screen {
  .table-wrap, pre { overflow-x: auto; }
}

@page {
  size: A4;
  margin: 18mm 16mm 20mm;
  @bottom-left { content: string(dossier-title); font-size: 8pt; color: #5b6b80; }
  @bottom-right { content: counter(page) " / " counter(pages); font-size: 8pt;
    color: #5b6b80; }
}

@media print {
  html { font-size: 10.5pt; }
  body { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  section.report { margin: 0; break-before: page; }
  section.report.lead { break-before: auto; }
  section.charts { margin: 0; break-before: page; }
  figure.chart { break-inside: avoid; margin: 0.6rem 0 1.4rem; }
  figure.chart img { max-height: 230mm; object-fit: contain; }
  nav.toc.after-lead { break-before: page; }
  nav.toc a::after { content: leader(".") target-counter(attr(href), page); }
  table, pre, blockquote, tr, li { break-inside: avoid; }
  thead { display: table-header-group; }
  header.cover { margin-bottom: 1rem; }
}
"""
