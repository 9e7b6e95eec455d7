"""`asgiforge update [PATH]`: merge a newer template version into a generated project.

A thin shell over `asgiforge.updater`: one core call plans every change (renders the recorded and
the new template version, merges three-way with the project), then the plan is shown and, unless
`--dry-run`, written all or nothing. Files left with conflict markers are listed and the command
exits non-zero (`UpdateConflictError`, mapped to its exit code in `asgiforge.cli`).

`--json` prints {"schema": 1, "project", "source", "old_commit", "new_commit", "dry_run",
"new_questions": [...], "changes": [{"path", "action", "note"}], "conflicts": [...]}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from asgiforge.errors import UpdateConflictError

if TYPE_CHECKING:
    from asgiforge.updater import UpdatePlan

JSON_SCHEMA_VERSION = 1
_STYLES = {
    "add": "green",
    "update": "cyan",
    "merge": "cyan",
    "delete": "red",
    "conflict": "bold red",
    "kept": "yellow",
}


def update_command(
    path: Annotated[
        Path, typer.Argument(help="The project to update (holds .asgiforge-answers.toml).")
    ] = Path(),
    vcs_ref: Annotated[
        str | None,
        typer.Option(
            "--vcs-ref",
            help="The template version (tag, branch or commit) to update to; default: HEAD.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Run even with uncommitted changes in the work tree.")
    ] = False,
    no_input: Annotated[
        bool,
        typer.Option("--no-input", help="Never prompt: new questions take --data or defaults."),
    ] = False,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", help="Answer (or change the answer to) a question, KEY=VALUE (repeatable)."
        ),
    ] = None,
    data_file: Annotated[
        Path | None,
        typer.Option("--data-file", help="Answers from a TOML file.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Bring a generated project forward to a newer version of its template, keeping your edits.

    Conflicting edits are left as conflict markers, listed, and the exit status is 1.
    """
    from asgiforge import scaffold, updater

    options = scaffold.read_data_file(data_file) if data_file is not None else {}
    options.update(scaffold.parse_options(data or []))
    interactive = not no_input and not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    from asgiforge.cli.new import _ask

    plan = updater.plan_update(
        path,
        vcs_ref=vcs_ref,
        options=options,
        ask=_ask if interactive else None,
        force=force,
    )
    if not dry_run:
        updater.apply(plan)
    if as_json:
        _print_json(plan, dry_run)
    else:
        _print_table(plan, dry_run)
    if plan.conflicts and not dry_run:
        listed = ", ".join(str(p) for p in plan.conflicts)
        raise UpdateConflictError(
            f"{len(plan.conflicts)} file(s) have conflicts to resolve: {listed}"
        )


def _print_json(plan: UpdatePlan, dry_run: bool) -> None:
    document = {
        "schema": JSON_SCHEMA_VERSION,
        "project": os.fspath(plan.project),
        "source": plan.source.display,
        "old_commit": plan.old_commit,
        "new_commit": plan.new_commit,
        "dry_run": dry_run,
        "new_questions": list(plan.new_questions),
        "changes": [
            {"path": str(c.path), "action": c.action, "note": c.note} for c in plan.changes
        ],
        "conflicts": [str(p) for p in plan.conflicts],
    }
    print(json.dumps(document, indent=2))


def _print_table(plan: UpdatePlan, dry_run: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from asgiforge.cli.output import out

    console = out()
    versions = f"{plan.old_commit[:12] or 'recorded'} → {plan.new_commit[:12] or 'current'}"
    if not plan.changes:
        console.print(Text(f"Up to date ({versions}): nothing to change.", style="green"))
        return
    title = f"{'Would update' if dry_run else 'Updated'} {plan.project} ({versions})"
    table = Table(title=title, title_justify="left")
    table.add_column("File", no_wrap=True)
    table.add_column("Change")
    table.add_column("Note", style="dim")
    for change in plan.changes:
        table.add_row(
            Text(str(change.path)),
            Text(change.action, style=_STYLES.get(change.action, "")),
            Text(change.note),
        )
    console.print(table)
    if dry_run:
        console.print(Text("Dry run: nothing was written.", style="yellow"))


def register(app: typer.Typer) -> None:
    """Attach `update` to the root command."""
    app.command("update")(update_command)
