"""What the console's and the portal's pages share: their security headers, their HTML
shell and the hashes under which their GraphQL documents are trusted."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def security_headers(connect: str = "'self'") -> dict[str, str]:
    """The headers of the console's and the portal's pages: no inline script or style,
    everything from /assets on this origin, the page may talk to ``connect`` only, and no
    other site may frame it, sniff it or learn where it was opened from."""
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {connect}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def page_shell(title: str, name: str, *, needs: str) -> str:
    """The static HTML shell of a page whose ES modules and stylesheet are gateway/static/<name>/."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/shared/base.css">
<link rel="stylesheet" href="/assets/{name}/{name}.css">
<script type="module" src="/assets/{name}/app.js"></script>
</head>
<body>
<div id="app"><noscript>{needs} needs JavaScript.</noscript></div>
</body>
</html>
"""


def by_hash(documents: Iterable[str]) -> dict[str, str]:
    """{sha256 hex: document}, the trusted-documents file format."""
    return {hashlib.sha256(text.encode()).hexdigest(): text for text in documents}
