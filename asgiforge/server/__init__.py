"""Process models, and `run()`: the one place that picks which of them serves the options.

The package shows its two process models, each in its own subpackage, over the pieces they share:

* `asgiforge.server.dev`: `DevOptions` with ``reload`` set run the reload supervisor
  (`dev.reload`), which forks a fresh worker (`dev.worker`) per change; without ``reload``, one
  process imports and serves (`dev.single`);
* `asgiforge.server.serve`: `ServeOptions` run the multi-worker master (`serve.master`, workers in
  `serve.worker`); with ``fresh_interpreter`` (what `asgiforge serve` asks for) the process is first
  replaced by a fresh interpreter that loads the master only (`serve.master_exec`), so the workers
  it forks do not carry the caller's modules;
* shared by both: listening sockets (`sockets`), the HTTP options both accept (`options`), the
  protocol classes that enforce them (`protocols`), the one module touching uvicorn's internals
  (`_uvicorn`), the report pipe's codec (`pipes`) and the forked children's toolkit (`children`).

The CLI commands call `run()` only. The modules behind it are imported on demand so that building
options (and answering ``--help``) never loads uvicorn or watchfiles.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    from asgiforge.server.dev.options import DevOptions, DevReporter
    from asgiforge.server.options import AppTarget
    from asgiforge.server.serve.options import ServeOptions

__all__ = ["run"]


@overload
def run(options: DevOptions, *, reporter: DevReporter) -> int: ...


@overload
def run(
    options: ServeOptions,
    *,
    retarget: Callable[[], AppTarget] | None = None,
    fresh_interpreter: bool = False,
) -> int: ...


def run(
    options: DevOptions | ServeOptions,
    *,
    reporter: DevReporter | None = None,
    retarget: Callable[[], AppTarget] | None = None,
    fresh_interpreter: bool = False,
) -> int:
    """Serve `options` with the process model they call for until stopped; the exit status.

    `reporter` renders what `dev` says (banner, reloads, load errors); `retarget` is `serve`'s
    SIGHUP hook, resolving the app afresh before the workers are replaced. `fresh_interpreter`
    (`serve` only) does not return where an interpreter can be started: the process goes on,
    same PID, as the master alone, configuring logging and reporting errors as the CLI does;
    `retarget` must then be picklable (a `functools.partial` of `resolve_target` is).
    """
    from asgiforge.server.dev.options import DevOptions

    if not isinstance(options, DevOptions):
        if fresh_interpreter:
            from asgiforge.server.serve import master_exec

            return master_exec.serve(options, retarget=retarget)
        from asgiforge.server.serve import master

        return master.serve(options, retarget=retarget)
    if reporter is None:
        raise TypeError("run(DevOptions) needs a reporter")
    # Tells the app's StaticFiles (imported after this) to check and read files on every
    # request, so a saved asset is served at once (see asgiforge.runtime.staticfiles.DEV_ENV).
    previous = os.environ.get("ASGIFORGE_DEV")
    os.environ["ASGIFORGE_DEV"] = "1"
    try:
        if options.reload is None:
            from asgiforge.server.dev import single

            return single.serve(options, reporter)
        from asgiforge.server.dev import reload as reload_supervisor

        return reload_supervisor.supervise(options, options.reload, reporter)
    finally:
        if previous is None:
            os.environ.pop("ASGIFORGE_DEV", None)
        else:
            os.environ["ASGIFORGE_DEV"] = previous
