"""`asgiforge serve`'s process model: a master that forks and supervises N prefork workers.

`master` is the supervisor, `worker` the forked child serving the shared sockets, `master_exec`
the fresh interpreter the master runs in, and `options` what they read. Nothing here is imported
until `asgiforge.server.run` picks this model, so ``asgiforge serve --help`` stays light.
"""
