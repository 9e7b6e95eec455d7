"""`asgiforge dev`'s two process models: a reload supervisor forking a worker per change, or one.

`reload` is the supervisor, `worker` the forked child it replaces on every save, `single` the
``--no-reload`` process, and `options` what all three read. Nothing here is imported until
`asgiforge.server.run` picks this model, so ``asgiforge dev --help`` stays light.
"""
