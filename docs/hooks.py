"""MkDocs hooks for the documentation site.

The docstrings are numpydoc with Sphinx roles (``:func:`load```), which mkdocstrings
renders verbatim as ``:func:<code>load</code>``; this hook shows them as code, with the
title of ``title <target>`` and the last part of ``~a.b.c``.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:py:)?(?:func|meth|class|data|attr|mod|exc|obj|const|ref|term|math):<code>([^<]*)</code>"
)


def _role(match: re.Match[str]) -> str:
    text = match.group(1)
    title, sep, _target = text.partition(" &lt;")
    if sep:
        return f"<code>{title.strip()}</code>"
    if text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    return f"<code>{text}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Render Sphinx roles left in docstrings as code."""
    return _ROLE.sub(_role, html)


#: nbconvert's loader of mermaid diagrams imports its library from a CDN (only when a
#: page holds a diagram; ours hold none): the pages must never need the network.
_MERMAID_LOADER = re.compile(
    r'<script type="module">(?:(?!</script>).)*?cdnjs\.cloudflare\.com(?:(?!</script>).)*?'
    r"</script>", re.DOTALL)


def on_post_page(output: str, **kwargs: Any) -> str:
    """Drop any script that would fetch from a CDN (the notebooks' mermaid loader)."""
    return _MERMAID_LOADER.sub("", output)
