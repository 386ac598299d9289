"""Offline, accessible HTML reports from executed notebooks.

Reports are read outside the research team, often on locked-down NHS machines without
internet access, by people who are not programmers. So a report is **one self-contained
file**: no code, no prompts, no scripts, nothing fetched from outside the file (no CDN,
require.js, MathJax, Mermaid, widget scripts, web fonts or external CSS), images embedded as
``data:`` URIs, a table of contents, a provenance footer and the basics of accessibility
(``lang``, ``<title>``, ``<main>``, skip link, ordered headings, ``<th scope>``, alt text on
every image, dark text on a light background).

Rendering uses one reused in-process nbconvert ``HTMLExporter`` with the project template
``spanalysis/templates/spanalysis`` (about 0.1 s per report, against about 3 s for the
``jupyter nbconvert`` command; see ``jupyter-pipeline.md``), then one pass over the result
with BeautifulSoup (a dependency of nbconvert) that enforces the rules above.

Layout (issue 22, 5)
--------------------
One ``<h1>`` per page, the report's title: a notebook's own first ``# Title`` that repeats
(or begins) it is dropped and any other top-level heading becomes an ``<h2>``. An "Other
reports" navigation links to the index and, for whole-study reports, to the reports before
and after (``index_href``, ``related``; :mod:`spanalysis.report.execution` works them out).
Every table sits in its own focusable, labelled box that scrolls sideways on a narrow
screen, so the page itself never does; numeric cells (and the headers of all-numeric
columns) are right-aligned, all other text and quotes left-aligned. The provenance is folded
(``<details>``). The print stylesheet is A4: navigation hidden, folded content printed open
(``details::details-content``), tables fit the page (smaller type, words may break), a
table's header row repeats on each page, and pages break between rows, never inside a
figure. ``tests/test_browser.py`` checks all this in Chromium at 1280 px, 390 px and print.

Figures
-------
:func:`figure_image` (used by :func:`spanalysis.report.display.show_figure`) saves a figure as
SVG (vector, text as paths: sharp when zoomed on a phone or printed, no fonts needed) or as a
200 dpi PNG; the report embeds it as a ``data:`` image scaled to the page's width. Colours
come from the colour-blind-safe palette in :mod:`spanalysis.plotting`.

Alt text for figures
--------------------
In a notebook, show a figure with :func:`figure_image` (``figure_image(fig, "Bar chart of
...")``) or ``IPython.display.Image(data, alt="...")``: the alt text travels in the output's
metadata (``{"image/svg+xml": {"alt": ...}}``, or ``image/png``). It should give the
numbers the figure shows. nbconvert 7.17's lab template writes no ``alt`` at
all (the exporter then adds "No description has been provided for this image"), so the
project template writes it from the metadata. Without one, the cell's metadata ``alt`` or
``caption`` is used, else "Figure N in section ..." and a :class:`ReportWarning`.

Cell tags: ``remove-cell`` (drop the cell), ``remove-output`` (drop its outputs),
``remove-input`` (drop its code; all code is hidden anyway). On a markdown cell that starts
a section, ``hide-if-empty`` drops the section (up to the next heading of its level or
higher) when none of its code cells shows anything: a section with nothing to show for this
study (report 03 of a study with no qualitative material) is left out of the HTML, and of its
contents list, instead of standing as a heading and a method with nothing under them. The
executed notebook keeps every cell.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import platform
import re
import subprocess
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from spanalysis.errors import InputError

__all__ = ["ReportWarning", "notebook_to_html", "collect_provenance", "write_html_atomic",
           "figure_image", "svg_text", "external_references", "check_heading_order",
           "KEY_PACKAGES", "TEMPLATE_DIR"]

#: folder holding the nbconvert template ``spanalysis``
TEMPLATE_DIR = Path(__file__).parent / "templates"
#: packages whose versions the provenance footer lists
KEY_PACKAGES = ("pandas", "numpy", "scipy", "pingouin", "statsmodels", "seaborn", "matplotlib",
                "nltk", "papermill", "nbconvert")
REMOVE_CELL_TAGS = ("remove-cell",)
REMOVE_OUTPUT_TAGS = ("remove-output",)
REMOVE_INPUT_TAGS = ("remove-input",)
HIDE_IF_EMPTY_TAG = "hide-if-empty"
_IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_RESERVED_IDS = {"main", "contents", "contents-title", "report-title", "provenance",
                 "provenance-parameters", "provenance-inputs", "provenance-packages"}
# Attributes through which a browser fetches or navigates to something.
_URL_ATTRS = ("src", "href", "data", "action", "formaction", "poster", "background", "srcset",
              "xlink:href", "cite", "longdesc", "ping", "manifest", "codebase", "archive",
              "lowsrc", "dynsrc", "imagesrcset")
_ACTIVE_TAGS = ("iframe", "object", "embed", "applet", "frame", "frameset", "base", "link",
                "meta", "form", "portal", "audio", "video", "source", "track")
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.\-]*:|//|\\\\)", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)(?!\s*data:)[^)]*\1\s*\)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
_CSS_EXPRESSION = re.compile(r"expression\s*\(", re.IGNORECASE)
_LANG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


class ReportWarning(UserWarning):
    """Something in a notebook makes its report less accessible or less complete."""


# ---------------------------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:        # streamed in blocks, never read whole
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def collect_provenance(input_files: Iterable[str | os.PathLike], parameters: Mapping | None,
                       repo_dir: str | os.PathLike | None = None,
                       run_date: str | None = None) -> dict:
    """Facts a reviewer needs to trust and reproduce a report.

    Parameters
    ----------
    input_files : iterable of path
        Data files the report was computed from. Each is hashed (SHA-256, streamed).
    parameters : mapping or None
        The notebook's parameters (as given to papermill).
    repo_dir : path, optional
        Folder inside the code's git repository. The commit is read with
        ``git rev-parse HEAD``; outside a repository, or without git, it is ``None``.
    run_date : str, optional
        The render time to show (ISO 8601, UTC); default
        :func:`spanalysis.report.clock.iso_time`, which honours ``SOURCE_DATE_EPOCH``. The
        report runner passes the run's one time to every report.

    Returns
    -------
    dict
        ``spanalysis_version``, ``git_commit`` (str or None), ``git_dirty`` (True when
        tracked files have uncommitted changes, None when unknown), ``run_date`` (UTC,
        ISO 8601), ``python``, ``platform``, ``packages`` ({name: version or None} for
        :data:`KEY_PACKAGES` plus nbformat), ``parameters`` (dict) and ``input_files``
        (list of {``path``, ``sha256``, ``bytes``}).

    Raises
    ------
    InputError
        An input file is missing or unreadable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "a.csv").write_text("x\\n1\\n")
    4
    >>> p = collect_provenance([folder / "a.csv"], {"site": "Riverside"}, repo_dir=folder)
    >>> import hashlib
    >>> p["input_files"][0]["sha256"] == hashlib.sha256(b"x\\n1\\n").hexdigest()
    True
    >>> p["git_commit"] is None        # a temporary folder is not a git repository
    True
    """
    from importlib import metadata

    from spanalysis.report import clock
    from spanalysis.version import __version__

    files = []
    for name in input_files:
        path = Path(name)
        try:
            files.append({"path": str(name), "sha256": _sha256(path),
                          "bytes": path.stat().st_size})
        except FileNotFoundError:
            raise InputError("input file not found", file=str(name),
                             expected="an existing file") from None
        except OSError as exc:
            raise InputError(f"input file cannot be read ({exc.strerror})", file=str(name),
                             expected="a readable file") from None
    packages = {}
    for name in (*KEY_PACKAGES, "nbformat"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    where = Path(repo_dir) if repo_dir is not None else Path.cwd()
    commit = _git(["rev-parse", "HEAD"], where) if where.is_dir() else None
    dirty = None
    if commit:
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = None if status is None else bool(status)
    return {
        "spanalysis_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "run_date": run_date if run_date is not None else clock.iso_time(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()}".strip(),
        "packages": packages,
        "parameters": dict(parameters or {}),
        "input_files": files,
    }


def _show_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _provenance_view(prov: Mapping) -> dict:
    """Turn a provenance dict into rows of text for the template (escaped there)."""
    prov = dict(prov or {})
    labels = [("spanalysis_version", "spanalysis version"), ("git_commit", "Code version (git commit)"),
              ("run_date", "Run date (UTC)"), ("python", "Python"), ("platform", "Platform")]
    facts = []
    for key, name in labels:
        if key not in prov:
            continue
        value = prov[key]
        if key == "git_commit":
            value = value or "not available (not run from a git repository)"
            if prov.get("git_dirty"):
                value += " (with uncommitted changes)"
        facts.append((name, _show_value(value)))
    known = {k for k, _ in labels} | {"git_dirty", "parameters", "input_files", "packages"}
    facts += [(str(k), _show_value(v)) for k, v in prov.items() if k not in known]
    params = [(str(k), _show_value(v)) for k, v in dict(prov.get("parameters") or {}).items()]
    files = [{"path": str(f.get("path", "")), "sha256": str(f.get("sha256", "")),
              "bytes": "" if f.get("bytes") is None else str(f.get("bytes"))}
             for f in prov.get("input_files") or []]
    packages = [(str(k), "not installed" if v is None else str(v))
                for k, v in dict(prov.get("packages") or {}).items()]
    return {"facts": facts, "parameters": params, "input_files": files, "packages": packages}


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def figure_image(fig, alt: str, *, format: str = "svg", dpi: int = 200, close: bool = True):
    """A matplotlib figure as an image that carries its alt text into the report.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    alt : str
        What the figure shows, with its numbers, for people who cannot see it (required,
        non-empty).
    format : {"svg", "png"}, default "svg"
        SVG is vector: it stays sharp when a reader zooms in on a phone, and prints sharp.
        Text is drawn as paths (``svg.fonttype = "path"``), so no font is needed on the
        reader's machine; ids are derived from a fixed salt and the date is left out, so the
        same figure gives the same bytes. PNG (at ``dpi``) is for figures with very many
        marks, whose SVG would be large.
    dpi : int, default 200
        Resolution of a PNG (twice a typical screen's, for zooming and print).
    close : bool, default True
        Close the figure so the inline backend does not display it a second time.

    Returns
    -------
    IPython.display.SVG or IPython.display.Image
        Display it (or leave it as a cell's last expression). Its output metadata is
        ``{"image/svg+xml": {"alt": alt}}`` (or ``image/png``), which
        :func:`notebook_to_html` writes as the ``<img>``'s ``alt``. The report embeds it as
        a ``data:`` image scaled to the width of the page (never wider than drawn).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> img = figure_image(fig, "An empty chart")
    >>> data, md = img._repr_svg_()
    >>> md["alt"], data.lstrip().startswith("<svg")
    ('An empty chart', True)
    """
    import io

    from IPython.display import SVG, Image

    if not isinstance(alt, str) or not alt.strip():
        raise InputError("a figure needs alt text describing what it shows", value=alt,
                         expected="a non-empty description")
    if format not in ("svg", "png"):
        raise InputError("unknown figure format", value=format, expected="'svg' or 'png'")
    if format == "svg":
        text = svg_text(fig, bbox_inches="tight", facecolor="white")
    else:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    if close:
        import matplotlib.pyplot as plt
        plt.close(fig)
    if format == "png":
        return Image(data=buffer.getvalue(), format="png", alt=alt.strip())
    return SVG(data=text, metadata={"alt": alt.strip()})


#: rcParams under which figures are saved as SVG: text as paths (no fonts needed), and ids
#: (of clip paths, glyphs, markers) hashed with a fixed salt instead of a random one, so the
#: same figure gives the same bytes in every run (issue 24, 2)
SVG_RC = {"svg.fonttype": "path", "svg.hashsalt": "spanalysis"}


def svg_text(fig, **savefig_kw) -> str:
    """A matplotlib figure as SVG text that is the same bytes for the same figure.

    Ids come from a fixed salt (:data:`SVG_RC`), the ``Date`` metadata is left out
    (matplotlib otherwise writes the clock's time, or ``SOURCE_DATE_EPOCH``'s), and so is
    the rest of the ``<metadata>`` block and the XML prolog: the text starts at ``<svg``.
    ``savefig_kw`` go to ``fig.savefig`` (e.g. ``bbox_inches="tight"``). Use it for any
    figure embedded in a page (:func:`figure_image`, the index's figure).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); _ = ax.plot([0, 1], [1, 0])
    >>> svg_text(fig) == svg_text(fig), svg_text(fig).startswith("<svg")
    (True, True)
    """
    import io

    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(SVG_RC):
        fig.savefig(buffer, format="svg", **{**savefig_kw, "metadata": {"Date": None}})
    text = buffer.getvalue().decode("utf-8")
    text = text[text.index("<svg"):]          # no XML prolog or DOCTYPE: the image is the <svg>
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.DOTALL)


def _image_alt(output, cell) -> str | None:
    """Alt text set by the notebook: output metadata, else the cell's ``alt``/``caption``."""
    md = output.get("metadata") or {}
    for mime in _IMAGE_TYPES:
        if mime in output.get("data", {}):
            alt = (md.get(mime) or {}).get("alt") or md.get("alt")
            if isinstance(alt, str) and alt.strip():
                return alt.strip()
    for key in ("alt", "caption"):
        value = cell.get("metadata", {}).get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _prepare(nb) -> tuple[Any, list[str]]:
    """A copy of ``nb`` whose image outputs all carry alt text; notes on missing ones."""
    nb = copy.deepcopy(nb)
    notes: list[str] = []
    section = None
    figure_no = 0
    # Cell ids are random for cells papermill inserts; numbering them by position makes two
    # renderings of the same results byte-identical (apart from the run date).
    for number, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{number}"
    nb.cells = _without_empty_sections(nb.cells)
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            found = _MD_HEADING.findall(cell.get("source", ""))
            if found:
                section = found[-1][1]
            continue
        if "remove-cell" in _tags(cell):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if not any(m in data for m in _IMAGE_TYPES):
                continue
            figure_no += 1
            alt = _image_alt(output, cell)
            if alt is None:
                where = f" in section '{section}'" if section else ""
                alt = f"Figure {figure_no}{where} (no description was provided)"
                notes.append(f"figure {figure_no}{where} has no alt text")
            md = output.setdefault("metadata", {})
            for mime in _IMAGE_TYPES:
                if mime in data:
                    entry = dict(md.get(mime) or {})
                    entry["alt"] = alt
                    md[mime] = entry
    return nb, notes


def _tags(cell) -> list:
    return cell.get("metadata", {}).get("tags", [])


def _shows_something(cell) -> bool:
    """Whether a code cell has an output the HTML keeps."""
    if any(t in _tags(cell) for t in REMOVE_CELL_TAGS + REMOVE_OUTPUT_TAGS):
        return False
    return bool(cell.get("outputs"))


def _heading_level(cell) -> int | None:
    """The level of the first heading a cell writes (``##`` = 2): in a markdown cell's
    source, or in a code cell's markdown output (the glossary); None without one."""
    if cell.get("cell_type") == "markdown":
        texts = [cell.get("source", "")]
    else:
        texts = [output.get("data", {}).get("text/markdown", "")
                 for output in cell.get("outputs", [])]
    for text in texts:
        found = _MD_HEADING.search("".join(text) if isinstance(text, list) else text)
        if found:
            return len(found.group(1))
    return None


def _without_empty_sections(cells: list) -> list:
    """``cells`` without each section whose heading cell is tagged ``hide-if-empty`` and
    whose code cells (at least one) show nothing. A section runs from its heading to the
    next heading of the same or a higher level, in a markdown cell or a code cell's output."""
    kept, i = [], 0
    while i < len(cells):
        cell = cells[i]
        if cell.get("cell_type") != "markdown" or HIDE_IF_EMPTY_TAG not in _tags(cell):
            kept.append(cell)
            i += 1
            continue
        level = _heading_level(cell) or 7
        end = i + 1
        while end < len(cells) and (_heading_level(cells[end]) or 7) > level:
            end += 1
        code = [c for c in cells[i + 1:end] if c.get("cell_type") == "code"]
        if code and not any(_shows_something(c) for c in code):
            i = end       # the whole section is left out
        else:
            kept.append(cell)
            i += 1        # the section stays; a tagged subsection in it is judged on its own
    return kept


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _exporter():
    """One HTMLExporter per process, configured once (creating one costs ~0.2 s)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.HTMLExporter.template_name = "spanalysis"
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATE_DIR)]
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    c.HTMLExporter.exclude_anchor_links = True   # ids are assigned after rendering
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
    c.TagRemovePreprocessor.remove_all_outputs_tags = set(REMOVE_OUTPUT_TAGS)
    c.TagRemovePreprocessor.remove_input_tags = set(REMOVE_INPUT_TAGS)
    # Never choose JavaScript, widget or Mermaid representations: they need scripts.
    c.NbConvertBase.display_data_priority = ["text/html", "text/markdown", "image/svg+xml",
                                             "image/png", "image/jpeg", "text/latex",
                                             "text/plain"]
    return HTMLExporter(config=c)


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "-", text.casefold(), flags=re.UNICODE).strip("-")
    return slug or "section"


def _clean_css(text: str) -> str:
    text = _CSS_IMPORT.sub("", text)
    text = _CSS_URL.sub("none", text)
    return _CSS_EXPRESSION.sub("none(", text)


def _is_external(value: str) -> bool:
    value = value.strip()
    return bool(_EXTERNAL.match(value)) and not value.lower().startswith("data:")


def check_heading_order(levels: Iterable[int]) -> list[str]:
    """Problems in a sequence of heading levels: a jump of more than one level down.

    Parameters
    ----------
    levels : iterable of int
        Heading levels in document order (1 for h1, ...).

    Returns
    -------
    list of str
        One message per jump, e.g. "heading 3 (h4) follows an h2"; empty when ordered.
        Going back up any number of levels is fine (WCAG 2.2 technique G141).

    Examples
    --------
    >>> check_heading_order([1, 2, 3, 2, 4])
    ['heading 5 (h4) follows an h2']
    """
    problems = []
    previous = None
    for n, level in enumerate(levels, start=1):
        if previous is not None and level > previous + 1:
            problems.append(f"heading {n} (h{level}) follows an h{previous}")
        previous = level
    return problems


def _finalise(html: str, title: str = "") -> tuple[str, list[str]]:
    """Enforce offline-only content, accessibility, the layout and the table of contents."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    notes: list[str] = []
    _neutralise_active_content(soup, notes)
    for tag in soup.find_all(True):
        _clean_attributes(soup, tag, notes)
    _label_images_and_tables(soup, notes)
    _one_h1(soup, title, notes)
    _scroll_boxes_and_alignment(soup)
    _figure_floors(soup)
    _number_headings_and_fill_toc(soup, notes)
    return str(soup), notes


def _neutralise_active_content(soup, notes: list[str]) -> None:
    """Step 1. Scripts never run: a <script> in an output (e.g. a Styler that did not escape
    free text) is shown as the text it is. Other active elements are dropped."""
    from bs4 import NavigableString

    head = soup.head
    for tag in soup.find_all("script"):
        notes.append("a <script> element in the notebook's output was shown as text")
        tag.replace_with(NavigableString(str(tag)))
    for tag in soup.find_all(_ACTIVE_TAGS):
        if head is not None and tag.name == "meta" and tag.find_parent("head") is head:
            continue
        notes.append(f"a <{tag.name}> element was removed (reports do not load content)")
        tag.decompose()
    for tag in soup.find_all("style"):
        if tag.string:
            cleaned = _clean_css(tag.string)
            if cleaned != tag.string:
                notes.append("an external reference in CSS was removed")
                tag.string.replace_with(cleaned)


def _clean_attributes(soup, tag, notes: list[str]) -> None:
    """Step 2, one element: no event handlers, no javascript:, nothing fetched from outside."""
    from bs4 import NavigableString

    for attr in list(tag.attrs):
        value = tag.attrs[attr]
        if attr.lower().startswith("on"):
            del tag.attrs[attr]
            continue
        if attr.lower() == "style" and isinstance(value, str):
            tag.attrs[attr] = _clean_css(value)
            continue
        if attr.lower() not in _URL_ATTRS:
            continue
        text = " ".join(value) if isinstance(value, list) else str(value)
        if text.strip().lower().startswith("data:") and tag.name == "img" and attr == "src":
            continue
        if tag.name == "a" and attr == "href":
            stripped = text.strip().lower()
            if stripped.startswith("#") or not (_is_external(text)
                                                or stripped.startswith("data:")):
                continue    # in-page anchor or relative link (e.g. another report)
            if re.match(r"^\s*https?://", text, re.IGNORECASE):
                # A link would try the network: keep the words, show the address.
                label = tag.get_text(" ", strip=True)
                shown = label if label == text.strip() else f"{label} ({text.strip()})"
                tag.replace_with(NavigableString(shown))
            else:   # javascript:, file:, ...
                del tag.attrs[attr]
            return
        if tag.name == "img" and attr == "src":
            alt = tag.get("alt") or "image"
            notes.append(f"image '{text[:80]}' is not embedded and was left out")
            span = soup.new_tag("span", attrs={"class": "sp-missing"})
            span.string = f"[Image not included in this offline report: {alt}]"
            tag.replace_with(span)
            return
        if _is_external(text) or attr.lower() != "href":
            del tag.attrs[attr]


def _label_images_and_tables(soup, notes: list[str]) -> None:
    """Steps 3 and 4: every image has non-empty alt text; table headers say what they head."""
    for n, img in enumerate(soup.find_all("img"), start=1):
        if not (img.get("alt") or "").strip():
            notes.append(f"image {n} has no alt text")
            img["alt"] = f"Image {n} (no description was provided)"

    for th in soup.find_all("th"):
        if th.get("scope"):
            continue
        row = th.find_parent("tr")
        cells = row.find_all(["td", "th"], recursive=False) if row else []
        in_head = th.find_parent("thead") is not None
        if in_head or (cells and all(c.name == "th" for c in cells)):
            th["scope"] = "colgroup" if str(th.get("colspan", "1")) not in ("1", "") else "col"
        else:
            th["scope"] = "rowgroup" if str(th.get("rowspan", "1")) not in ("1", "") else "row"



def _words(text: str) -> str:
    return " ".join(text.casefold().split())


def _one_h1(soup, title: str, notes: list[str]) -> None:
    """Step 5. One H1 per page: the header's title. A notebook's own first "# Title" that
    repeats the report's title (or begins it: "Site report" in "Site report: Riverside PCN")
    is dropped; any other H1 of the body becomes an H2, with a note."""
    main = soup.find("main")
    if main is None:
        return
    want = _words(title)
    for n, h in enumerate(main.find_all("h1")):
        text = _words(h.get_text(" ", strip=True))
        if n == 0 and text and (want == text or (want.startswith(text)
                                                 and not want[len(text)].isalnum())):
            h.decompose()
            continue
        notes.append(f"a second top-level heading ('{h.get_text(' ', strip=True)[:60]}') "
                     "was shown as a section heading (h2): a page has one H1, its title")
        h.name = "h2"


#: a table cell that holds a number, a range or a withheld count ("<5", "[c]")
_NUMBER_CELL = re.compile(r"^[\d\s.,%+\-−–—<>≤≥=±()\[\]/:×]*$")


def _is_number_cell(text: str) -> bool:
    """Whether a cell is numeric (right-aligned in tables): "41.38", "-0.82", "1,234",
    "12%", "< 0.001", "<5", "[c]", "0.45 (0.31 to 0.59)", "1.2e-05", "—".

    >>> [_is_number_cell(t) for t in ("41.38", "< 0.001", "[c]", "2 (1 to 3)", "total", "")]
    [True, True, True, True, False, False]
    """
    t = " ".join(text.split())
    if not t:
        return False
    if t in ("[c]", "—", "–", "-", "n/a", "NA"):
        return True
    if not re.search(r"\d", t):
        return False
    t = re.sub(r"(?<=\d)[eE](?=[-+]?\d)", "", t)
    t = re.sub(r"\b(?:to|p|n)\b|\[c\]", " ", t)
    return bool(_NUMBER_CELL.match(t))


def _scroll_boxes_and_alignment(soup) -> None:
    """Step 6. Every table sits in its own focusable, labelled box that scrolls sideways on a
    narrow screen (the page never does); numeric cells, and the headers of columns that
    hold only numbers, are marked ``sp-num`` (right-aligned); all other text is left-aligned."""
    for n, table in enumerate(soup.find_all("table"), start=1):
        if table.find_parent("table") is not None:
            continue
        _mark_number_cells(table)
        parent = table.parent
        if parent is not None and "sp-table-scroll" in (parent.get("class") or []):
            continue
        caption = table.find("caption")
        label = caption.get_text(" ", strip=True) if caption is not None else ""
        box = soup.new_tag("div", attrs={"class": "sp-table-scroll", "role": "region",
                                         "tabindex": "0",
                                         "aria-label": (label or f"Table {n}")[:160]})
        table.wrap(box)


#: a figure is never shown smaller than this fraction of its drawn size (10 pt text stays
#: 10 * 96/72 * 0.65 = 8.7 CSS px): a wider one scrolls sideways in its own box on a phone
MIN_FIGURE_SCALE = 0.65
_SVG_WIDTH = re.compile(r'<svg\b[^>]*?\swidth="([\d.]+)(pt|px)?"')


def _figure_floors(soup) -> None:
    """Step 6b. An SVG figure drawn wider than a phone's screen keeps at least
    :data:`MIN_FIGURE_SCALE` of its size (``min-width``) so that its labels stay legible;
    its box then scrolls sideways (focusable and labelled, like a table's). Print ignores the
    floor: there it fits the page."""
    import base64
    import binascii

    for n, img in enumerate(soup.find_all("img"), start=1):
        src = img.get("src") or ""
        if not src.startswith("data:image/svg+xml;base64,"):
            continue
        try:
            head = base64.b64decode(src.split(",", 1)[1][:1400]).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        found = _SVG_WIDTH.search(head)
        if not found:
            continue
        width_px = float(found.group(1)) * (96 / 72 if found.group(2) != "px" else 1)
        floor = round(width_px * MIN_FIGURE_SCALE)
        if floor <= 320:          # fits the narrowest phones (320 px) as it is
            continue
        img["style"] = f"min-width: {floor}px"
        box = img.parent
        if box is not None and box.name == "div":
            box["class"] = [*(box.get("class") or []), "sp-figure-scroll"]
            box["tabindex"] = "0"
            box["role"] = "region"
            box["aria-label"] = f"Figure {n} (scrolls sideways on a narrow screen)"


def _mark_number_cells(table) -> None:
    def add(cell):
        cell["class"] = [*(cell.get("class") or []), "sp-num"]

    columns: dict[int, list[bool]] = {}
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table or row.find_parent("thead") is not None:
            continue
        col = 0
        for cell in row.find_all(["td", "th"], recursive=False):
            span = int(cell.get("colspan", 1)) if str(cell.get("colspan", 1)).isdigit() else 1
            if cell.name == "td":
                text = cell.get_text(" ", strip=True)
                numeric = _is_number_cell(text)
                if numeric:
                    add(cell)
                if text and span == 1:
                    columns.setdefault(col, []).append(numeric)
            col += span
    head = table.find("thead")
    rows = head.find_all("tr") if head is not None else []
    if rows:        # the last header row names the columns
        col = 0
        for cell in rows[-1].find_all(["td", "th"], recursive=False):
            span = int(cell.get("colspan", 1)) if str(cell.get("colspan", 1)).isdigit() else 1
            if span == 1 and columns.get(col) and all(columns[col]):
                add(cell)
            col += span


def _number_headings_and_fill_toc(soup, notes: list[str]) -> None:
    """Step 7. Headings: unique ids, order check, table of contents (h1-h3 of the body)."""
    from bs4 import BeautifulSoup, Comment

    main = soup.find("main")
    used = set(_RESERVED_IDS)
    for tag in soup.find_all(id=True):      # ids of other elements (cells, Styler cells, ...)
        if tag.name not in ("h1", "h2", "h3", "h4", "h5", "h6"):
            used.add(tag["id"])
    headings = main.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]) if main else []
    for h in headings:
        for a in h.find_all("a", class_="anchor-link"):
            a.decompose()
        base = h.get("id") or _slug(h.get_text(" ", strip=True))
        ident, n = base, 1
        while ident in used:
            n += 1
            ident = f"{base}-{n}"
        h["id"] = ident
        used.add(ident)
    title = soup.find(id="report-title")
    levels = ([1] if title else []) + [int(h.name[1]) for h in headings]
    for problem in check_heading_order(levels):
        notes.append(f"headings out of order: {problem}")
    footer_h2 = soup.find(id="provenance")
    entries = [(int(h.name[1]), h["id"], h.get_text(" ", strip=True)) for h in headings
               if h.name in ("h1", "h2", "h3")]
    if footer_h2 is not None:
        entries.append((2, "provenance", footer_h2.get_text(" ", strip=True)))
    toc = _toc_html(entries)
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment) and s == "sp-toc"):
        comment.replace_with(BeautifulSoup(toc, "html.parser"))


def _toc_html(entries: list[tuple[int, str, str]]) -> str:
    """Nested lists of links; levels are relative to the shallowest heading present."""
    from html import escape

    if not entries:
        return "<p>This report has no sections.</p>"
    top = min(level for level, _, _ in entries)
    out, depth = [], 0
    for level, ident, text in entries:
        want = level - top + 1
        while depth < want:
            out.append("<ul>")
            depth += 1
        while depth > want:
            out.append("</li></ul>")
            depth -= 1
        if out and out[-1] not in ("<ul>",):
            out.append("</li>")
        out.append(f'<li><a href="#{escape(ident, quote=True)}">{escape(text)}</a>')
    while depth > 0:
        out.append("</li></ul>")
        depth -= 1
    return "".join(out)


def external_references(html: str) -> list[str]:
    """Everything in ``html`` that a browser would fetch from outside the file.

    Parameters
    ----------
    html : str

    Returns
    -------
    list of str
        Descriptions such as ``"<script src=https://...>"``: ``src``/``href``/... attributes
        that are absolute (``http:``, ``https:``, ``//``, ``file:`` ...) other than ``data:``
        images, ``<a href>`` to anything but ``#...`` or a relative path, any ``<script>``,
        ``<link>`` or ``<iframe>``, and ``@import`` / ``url(...)`` other than ``data:`` in
        CSS. Empty for a self-contained report.

    Examples
    --------
    >>> external_references('<img src="https://x.org/a.png" alt="a">')
    ['<img src=https://x.org/a.png>']
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    found = []
    for tag in soup.find_all(["script", "link", "iframe", "object", "embed", "base"]):
        found.append(f"<{tag.name}>")
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if attr.lower() in _URL_ATTRS:
                if text.strip().lower().startswith("data:") and tag.name == "img":
                    continue
                if tag.name == "a" and attr == "href" and not _is_external(text):
                    continue
                if _is_external(text) or attr.lower() == "src":
                    found.append(f"<{tag.name} {attr}={text[:100]}>")
            elif attr.lower() == "style" and (_CSS_URL.search(text) or "@import" in text):
                found.append(f"<{tag.name} style={text[:100]}>")
    for tag in soup.find_all("style"):
        css = tag.string or ""
        if _CSS_URL.search(css) or re.search(r"@import", css, re.IGNORECASE):
            found.append("<style> with @import or url()")
    return found


def notebook_to_html(nb, *, title: str, provenance: Mapping, lang: str = "en-GB",
                     subtitle: str | None = None, base_dir: str | os.PathLike | None = None,
                     index_href: str | None = None,
                     related: Sequence[tuple[str, str, str]] = ()) -> str:
    """Render an executed notebook as one self-contained, accessible HTML report.

    Parameters
    ----------
    nb : nbformat.NotebookNode or path
        The executed notebook (not modified). A path is read with nbformat.
    title : str
        Report title: ``<title>`` and the page's one ``<h1>``. The notebook's own first
        ``# heading``, when it repeats (or begins) the title, is left out; any other
        top-level heading of the notebook is shown as a section (``<h2>``).
    provenance : mapping
        Usually :func:`collect_provenance`'s dict; rendered in the footer.
    lang : str, default "en-GB"
        Language of the report (BCP 47 tag), written as ``<html lang>``.
    subtitle : str, optional
        A line under the title (e.g. the site and date).
    base_dir : path, optional
        Folder that relative markdown image paths are resolved against (default: the
        notebook's folder when ``nb`` is a path). Such images are embedded as ``data:``.
    index_href : str, optional
        Relative address of the index of reports (e.g. ``"../index.html"``): the first link
        of the page's "Other reports" navigation.
    related : sequence of (relation, title, href)
        Further links there, e.g. ``("Next report", "Outcome change",
        "02_outcome_change.html")``. Addresses must be relative (reports work offline).

    Returns
    -------
    str
        The HTML document.

    Warns
    -----
    ReportWarning
        Images without alt text, headings that skip a level, and content that was removed
        or neutralised (scripts, external images or stylesheets).

    Notes
    -----
    No code or prompts are shown; cells tagged ``remove-cell`` / ``remove-output`` /
    ``remove-input`` are honoured. Markdown math stays as text (no MathJax). External
    hyperlinks become their text followed by the address in brackets, so nothing in the
    file points outside it. ``<script>`` inside an output (for example a pandas Styler
    with ``escape=None`` and free text containing ``<script>``) is shown as text.
    """
    import nbformat

    if isinstance(nb, (str, os.PathLike)):
        path = Path(nb)
        try:
            nb = nbformat.read(path, as_version=4)
        except FileNotFoundError:
            raise InputError("notebook not found", file=str(path),
                             expected="an executed notebook (.ipynb)") from None
        base_dir = path.parent if base_dir is None else base_dir
    if not isinstance(title, str) or not title.strip():
        raise InputError("a report needs a title", value=title, expected="a non-empty title")
    if not isinstance(lang, str) or not _LANG.match(lang):
        raise InputError("unknown report language", value=lang,
                         expected="a language tag such as en-GB")
    links = [tuple(str(part) for part in link) for link in related]
    for href in [index_href, *(link[2] for link in links if len(link) == 3)]:
        if href is not None and (_is_external(href) or href.strip().startswith("#")
                                 or not href.strip()):
            raise InputError("a link between reports must be a relative address",
                             value=href, expected="e.g. ../index.html")
    if any(len(link) != 3 for link in links):
        raise InputError("a related report is (relation, title, address)", value=related,
                         expected='e.g. ("Next report", "Outcome change", "02.html")')
    prepared, notes = _prepare(nb)
    resources = {
        "metadata": {"name": title, "path": str(base_dir) if base_dir is not None else ""},
        "sp": {"title": title.strip(), "subtitle": subtitle, "lang": lang,
               "provenance": _provenance_view(provenance), "index_href": index_href,
               "related": links},
    }
    html, _ = _exporter().from_notebook_node(prepared, resources=resources)
    html, more = _finalise(html, title.strip())
    notes += more
    for note in dict.fromkeys(notes):
        warnings.warn(f"{title}: {note}", ReportWarning, stacklevel=2)
    left = external_references(html)
    if left:   # _finalise removes all of these; reaching this is a bug, not a user error
        raise RuntimeError(f"report still refers outside itself: {left[:5]}")
    return html


def write_html_atomic(html: str, path: str | os.PathLike) -> Path:
    """Write ``html`` to ``path`` so that readers never see a partial file.

    The text goes to a temporary file in the same folder, is flushed to disk, then
    renamed over ``path`` with ``os.replace`` (atomic on POSIX and Windows). If anything
    fails, the temporary file is removed and an existing ``path`` is left untouched.

    Parameters
    ----------
    html : str
        The document (encoded as UTF-8, as its ``<meta charset>`` says).
    path : path
        Destination. Its folder is created if needed.

    Returns
    -------
    Path
        ``path``.
    """
    from spanalysis.io import atomic_write

    data = html.encode("utf-8")             # fails before anything is written
    with atomic_write(path, mode="wb") as handle:
        handle.write(data)
    return Path(path)
