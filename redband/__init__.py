"""The redband application: the ``redband`` command (one module per command group), the files people keep
(operators, broker files, cities) and the wiring of the engine's processes. Not a layer of logic: a command
parses, calls into ``actors/`` or ``simulation/``, prints."""
