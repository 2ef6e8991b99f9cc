"""``callset browser build|serve``: the public variant browser of a release."""

from __future__ import annotations

import argparse


def _build(args: argparse.Namespace) -> int:
    from callset.browser.build import build_site

    meta = build_site(args.release, args.out, chunk_size=args.chunk_size)
    print(f"callset browser: release {meta['release']}: {meta['n_variants']} variants -> {args.out}/index.html")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from callset.browser.serve import serve

    serve(args.site, port=args.port)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from callset.browser.build import DEFAULT_CHUNK

    p = sub.add_parser("browser", help="public variant browser of a release (static site)")
    bsub = p.add_subparsers(dest="browser_command", required=True)
    b = bsub.add_parser("build", help="build the site from a release's public summary and VAT")
    b.add_argument("--release", required=True, help="release directory, e.g. results/releases/v1")
    b.add_argument("--out", required=True, help="site directory to write (replaced), e.g. results/browser/v1")
    b.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK,
                   help=f"variants per search chunk (default {DEFAULT_CHUNK})")
    b.set_defaults(func=_build)
    s = bsub.add_parser("serve", help="serve a built site on 127.0.0.1 (or open SITE/index.html from disk)")
    s.add_argument("site", help="site directory written by `callset browser build`")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    s.set_defaults(func=_serve)
