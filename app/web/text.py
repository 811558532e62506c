"""Question text for pages: the small Markdown subset the banks use (paragraphs,
fenced code blocks, inline code, bold), escaped first so nothing else becomes HTML."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_FENCE = re.compile(r"^```[\w-]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")


def _inline(text: str) -> str:
    html = str(escape(text))
    html = _INLINE_CODE.sub(r"<code>\1</code>", html)
    return _BOLD.sub(r"<strong>\1</strong>", html)


def render_markdown(text: str | None) -> Markup:
    """`text` as safe HTML: fenced blocks become `<pre><code>`, blank lines separate
    paragraphs, backticks mark inline code."""
    if not text:
        return Markup("")
    parts: list[str] = []
    position = 0
    for match in _FENCE.finditer(text):
        parts.extend(_paragraphs(text[position : match.start()]))
        parts.append(f"<pre><code>{escape(match.group(1).rstrip())}</code></pre>")
        position = match.end()
    parts.extend(_paragraphs(text[position:]))
    return Markup("".join(parts))


def _paragraphs(text: str) -> list[str]:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return [f"<p>{_inline(' '.join(block.split()))}</p>" for block in blocks]
