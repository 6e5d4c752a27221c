"""What leaves the tool: the text table, CSV and JSON (``tables``), the
grant justification paragraph (``justification``), the document model shared
by the HTML, Markdown and Word reports (``document``, ``word``), the figures
(``figures``) and writing the output directory safely (``outputs``)."""
