"""`bench/RESULTS.md` holds several tools' figures; each tool owns one marked section of it.

A section is the text between `<!-- NAME:start -->` and `<!-- NAME:end -->`. Rewriting one
section leaves every other byte of the file as it was, so `bench/run.py` and
`bench/serve_faults.py` can be rerun independently without erasing each other's results.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["markers", "write_section"]


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(path: Path, name: str, body: str, *, first: bool = False) -> None:
    """Replace section `name` of `path` with `body` (markers added), or add it.

    A new section goes at the end of the file, or at the top with `first=True`.
    """
    start, end = markers(name)
    section = f"{start}\n{body.strip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text.partition(start)[2]:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + section + after
    elif not text.strip():
        text = section + "\n"
    elif first:
        text = section + "\n\n" + text.lstrip()
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)
