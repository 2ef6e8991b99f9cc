"""Public variant browser of a release: a static site built from the public summary and the VAT.

``callset browser build --release DIR --out SITE`` writes the site (:mod:`callset.browser.build`);
``callset browser serve SITE`` serves it on 127.0.0.1 (:mod:`callset.browser.serve`). The site works
served or opened from disk (``SITE/index.html``): its data are JavaScript files loaded by ``<script>``
tags, which ``file://`` pages may load (``fetch()`` they may not).

Only what ``public/variant_summary.tsv.bgz`` shows reaches the site: counts are copied as the summary
writes them (a hidden count stays ``<=20``/``>20``, shown as "≤ 20"/"> 20"); the VAT gives annotations
only (gene, consequences, ClinVar, filters, variant type, rsID), never its exact counts.
"""

from callset.errors import CallsetError


class BrowserError(CallsetError):
    """The site cannot be built (missing or malformed public summary / VAT)."""
