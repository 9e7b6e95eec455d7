"""`asgiforge new NAME`: scaffold a project from a template.

A thin shell over `asgiforge.scaffold`: parse the options, make one core call to plan (validate +
render in memory, cloning a git template if asked), then either show the plan (`--dry-run`) or
write it, run the template's `tasks` if the user trusts them, and print the tree made and the next
commands. Prompts appear only on a TTY and never with `--no-input`.

`--list --json` and `--json` print stable documents (plain `print`, never rich):

    --list --json: {"schema": 1, "templates": [{"name", "summary", "features", "layout",
                    "options": [{"key", "prompt", "default", "choices"}]}]}
    --json:        {"schema": 1, "target", "template", "source", "commit", "package", "app",
                    "dry_run", "files": ["relative/path", ...], "overwritten": [...],
                    "tasks": [[argv...]], "next": [cmd, cmd]}
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any

import typer

from asgiforge.errors import UsageError

if TYPE_CHECKING:
    from asgiforge.scaffold import Plan, Question

JSON_SCHEMA_VERSION = 1


def new_command(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Project name, e.g. my-app (package my_app). Also the directory unless --dir.",
            show_default=False,
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            "-t",
            help="A built-in (minimal, api, realtime, full: see --list), a folder, a git "
            "repository path or git+URL[@REF]. See docs/templates.md.",
            show_default=False,
        ),
    ] = None,
    vcs_ref: Annotated[
        str | None,
        typer.Option(
            "--vcs-ref",
            help="Git templates: the tag, branch or commit to render.",
            show_default=False,
        ),
    ] = None,
    list_templates: Annotated[
        bool, typer.Option("--list", help="Describe the templates and exit.")
    ] = False,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            "-d",
            help="The project directory to create (default: ./NAME). Use '.' for here.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty directory (other files are kept) or replace a file or "
            "symlink (the link itself) at the target.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")
    ] = False,
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt: use --data values and defaults.")
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            "--option",
            "-o",
            help="Answer a template question, KEY=VALUE (repeatable), e.g. description=...",
            show_default=False,
        ),
    ] = None,
    data_file: Annotated[
        Path | None,
        typer.Option(
            "--data-file",
            help="Answers from a TOML file (key = value, or another project's answers file); "
            "--data wins over it.",
            show_default=False,
        ),
    ] = None,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust", help="Allow the template's tasks (commands) to run without asking."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (with --list: the templates).")
    ] = False,
) -> None:
    """Create a project from a template: a built-in one, a folder or a git repository.

    Renders in memory and writes through a staging directory, so a refusal or a failure leaves
    your files exactly as they were. The project records its template and answers in
    .asgiforge-answers.toml for `asgiforge update`.
    """
    from asgiforge import scaffold

    if list_templates:
        _print_templates(scaffold.list_templates(), as_json)
        return
    if name is None:
        raise UsageError("give the project name: asgiforge new NAME (see --list for templates)")
    options = scaffold.read_data_file(data_file) if data_file is not None else {}
    options.update(scaffold.parse_options(option or []))
    interactive = not no_input and not as_json and sys.stdin.isatty() and sys.stdout.isatty()
    if template is None:
        template = _ask_template() if interactive else scaffold.DEFAULT_TEMPLATE
    plan = scaffold.plan_project(
        name,
        template=template,
        vcs_ref=vcs_ref,
        target=directory,
        options=options,
        ask=_ask if interactive else None,
    )
    if dry_run:
        scaffold.inspect_target(plan.target, force=force)
        overwritten = scaffold.existing_paths(plan)
    else:
        trusted = trust or (interactive and bool(plan.template.tasks) and _confirm_tasks(plan))
        scaffold.require_trust(plan.template, trusted=trusted)
        overwritten = list(scaffold.write(plan, force=force).overwritten)
    next_steps = _next_commands(plan)
    if as_json:
        _print_json(plan, overwritten, next_steps, dry_run)
    else:
        _print_result(plan, overwritten, next_steps, dry_run)
    if not dry_run and plan.template.tasks:
        scaffold.run_tasks(plan.template, plan.target, output_to_stderr=as_json)


def _confirm_tasks(plan: Plan) -> bool:
    from rich.prompt import Confirm
    from rich.text import Text

    from asgiforge.cli.output import out

    console = out()
    console.print(Text(f"The template {plan.template.name} wants to run:", style="bold yellow"))
    for argv in plan.template.tasks:
        console.print(Text(f"  {shlex.join(argv)}"))
    return Confirm.ask("Run these commands in the new project?", default=False, console=console)


def _ask_template() -> str:
    from rich.prompt import Prompt

    from asgiforge import scaffold
    from asgiforge.cli.output import out

    for info in scaffold.list_templates():
        out().print(f"[bold]{info.name}[/bold]: {info.summary}", markup=True)
    return Prompt.ask(
        "Template",
        choices=scaffold.template_names(),
        default=scaffold.DEFAULT_TEMPLATE,
        console=out(),
    )


def _ask(question: Question) -> str:
    from rich.prompt import Prompt

    from asgiforge.cli.output import out

    return Prompt.ask(
        question.prompt,
        default=question.default,
        choices=list(question.choices) or None,
        console=out(),
    )


def _next_commands(plan: Plan) -> list[str]:
    """The commands to run next, with the path relative to here when it is below it.

    Built-in templates get the README's own install line (with `--find-links wheels` when a
    wheel of asgiforge was bundled); other templates get just the `cd`.
    """
    target = plan.target
    cwd = Path.cwd()
    try:
        shown = str(target.relative_to(cwd)) if target != cwd else "."
    except ValueError:
        shown = str(target)
    if plan.source is not None and plan.source.kind != "builtin":
        return [] if shown == "." else [f"cd {shlex.quote(shown)}"]
    links = plan.context.get("pip_find_links", "")
    setup = f"pip install {links} -e '.[dev]'" if links else "pip install -e '.[dev]'"
    first = setup if shown == "." else f"cd {shlex.quote(shown)} && {setup}"
    return [first, "asgiforge dev"]


def _tree_lines(paths: list[PurePosixPath]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for part in path.parts:
            node = node.setdefault(part, {})
    return tree


def _print_result(
    plan: Plan, overwritten: list[PurePosixPath], next_steps: list[str], dry_run: bool
) -> None:
    from rich.text import Text
    from rich.tree import Tree

    from asgiforge.cli.output import out

    console = out()
    replaced = set(overwritten)
    verb = "Would create" if dry_run else "Created"
    heading = Text(f"{verb} {plan.project.name} ", style="bold green") + Text(
        f"(template {plan.template.name}"
        + (f" at {plan.commit[:12]}" if plan.commit else "")
        + f", app {plan.app_target}) in {plan.target}"
    )
    root = Tree(Text(str(plan.target), style="bold"))
    sizes = {f.path: len(f.content) for f in plan.files}

    def add(branch: Tree, node: dict[str, Any], prefix: PurePosixPath) -> None:
        # Directories first, then files, each sorted: the order people scan a tree in.
        for key in sorted(node, key=lambda k: (not node[k], k)):
            path = prefix / key
            if node[key]:
                add(branch.add(Text(f"{key}/", style="blue")), node[key], path)
            else:
                label = Text(key)
                label.append(f"  {sizes.get(path, 0)} B", style="dim")
                if path in replaced:
                    label.append("  (overwrite)" if dry_run else "  (overwritten)", style="yellow")
                branch.add(label)

    add(root, _tree_lines([f.path for f in plan.files]), PurePosixPath())
    console.print(heading)
    console.print(root)
    if dry_run:
        console.print(Text("Dry run: nothing was written.", style="yellow"))
        return
    if not next_steps:
        return
    console.print(Text("Next:", style="bold"))
    for command in next_steps:
        console.print(Text(f"  {command}", style="cyan"))


def _print_json(
    plan: Plan, overwritten: list[PurePosixPath], next_steps: list[str], dry_run: bool
) -> None:
    document = {
        "schema": JSON_SCHEMA_VERSION,
        "target": os.fspath(plan.target),
        "template": plan.template.name,
        "source": plan.source.display if plan.source is not None else plan.template.name,
        "commit": plan.commit,
        "package": plan.project.package,
        "app": plan.app_target,
        "dry_run": dry_run,
        "files": [str(f.path) for f in plan.files],
        "overwritten": [str(p) for p in overwritten],
        "tasks": [list(argv) for argv in plan.template.tasks],
        "next": next_steps,
    }
    print(json.dumps(document, indent=2))


def _print_templates(templates: list[Any], as_json: bool) -> None:
    if as_json:
        document = {"schema": JSON_SCHEMA_VERSION, "templates": [t.as_dict() for t in templates]}
        print(json.dumps(document, indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    from asgiforge.cli.output import out

    table = Table(title="Templates for asgiforge new", title_justify="left", show_lines=True)
    table.add_column("Template", style="bold cyan", no_wrap=True)
    table.add_column("What you get")
    table.add_column("Questions (--data key=value)", style="dim")
    for info in templates:
        body = Text(info.summary) + Text("\n" + " · ".join(info.features), style="green")
        options = "\n".join(
            f"{q.key} (default {q.default!r}"
            + (f"; one of {', '.join(q.choices)}" if q.choices else "")
            + ")"
            for q in info.questions
        )
        table.add_row(Text(info.name), body, Text(options))
    out().print(table)


def register(app: typer.Typer) -> None:
    """Attach `new` to the root command."""
    app.command("new")(new_command)
