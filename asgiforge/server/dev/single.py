"""`asgiforge dev --no-reload`: the app imported and served in this very process.

Nothing watches the files, so nothing could pick up a fix: unlike the reload supervisor's
workers, a load error is fatal here and propagates to the CLI as a one-line error.
"""

from __future__ import annotations

import contextlib

from asgiforge.server.dev.options import DevOptions, DevReporter, StartInfo

__all__ = ["serve"]


def serve(options: DevOptions, reporter: DevReporter) -> int:
    """Import the app, bind, serve until interrupted; returns the exit status."""
    from asgiforge.importer import load_app, load_env_file
    from asgiforge.server import proctitle, sockets
    from asgiforge.server.dev import worker as dev_worker

    proctitle.set_title(proctitle.dev_title(options.target.import_string, options.url))
    if options.target.env_file is not None:
        load_env_file(options.target.env_file)
    app = load_app(options.target)
    routes = dev_worker.count_routes(app)
    if options.debug and hasattr(app, "debug"):
        with contextlib.suppress(Exception):
            app.debug = True
    sock = sockets.bind(options.address)
    try:
        info = StartInfo(options.target.import_string, options.url, routes, (), True, None)
        server = dev_worker.make_server(app, options, lambda: reporter.started(info))
        server.run(sockets=[sock])
    finally:
        sockets.close_all([sock])
    return 0
