"""The ticket's HTML to PDF with WeasyPrint, imported only when a PDF is asked for.

WeasyPrint installs from PyPI but needs the Pango library from the operating
system. Where Pango is missing, importing WeasyPrint fails with a long cffi
"cannot load library" message; `render_pdf` turns that into one
`PdfEngineError` (exit 6) carrying the install command for each platform, so
the CLI can still write the HTML and say what to install.
"""

from __future__ import annotations

from active_cli.errors import PdfEngineError

INSTALL_PANGO = (
    "Debian/Ubuntu: sudo apt install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; "
    "macOS: brew install pango; "
    "Windows: install MSYS2, run pacman -S mingw-w64-x86_64-pango and set "
    "WEASYPRINT_DLL_DIRECTORIES=C:\\msys64\\mingw64\\bin"
)


def render_pdf(html: str) -> bytes:
    """The PDF of `html` (self-contained: no base URL, nothing fetched)."""
    try:
        import weasyprint
    except ImportError as e:
        raise PdfEngineError(
            "no PDF: WeasyPrint is not installed", hint="pip install weasyprint"
        ) from e
    except OSError as e:  # cffi could not load Pango / GObject
        raise PdfEngineError(
            f"no PDF: the Pango library WeasyPrint needs is missing ({_short(e)}); "
            f"install it: {INSTALL_PANGO}",
            hint="the HTML ticket was written; open it in a browser and print to PDF meanwhile",
        ) from e
    # Nothing in the ticket refers outside it (photos are data: URIs); fetching
    # nothing else keeps a hostile string from making the renderer open a URL or a file.
    document = weasyprint.HTML(string=html, url_fetcher=_data_only_fetcher(weasyprint))
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def _data_only_fetcher(weasyprint: object) -> object:
    fetcher_class = getattr(weasyprint, "URLFetcher", None)
    if fetcher_class is not None:  # WeasyPrint >= 68
        return fetcher_class(allowed_protocols=("data",))
    default = getattr(weasyprint, "default_url_fetcher")  # noqa: B009 (older WeasyPrint)

    def fetch(url: str, *args: object, **kwargs: object) -> object:
        if not url.startswith("data:"):
            raise ValueError(f"the ticket loads nothing from outside: {url[:60]!r}")
        return default(url, *args, **kwargs)

    return fetch


def _short(error: OSError) -> str:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:120]
