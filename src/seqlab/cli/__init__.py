"""The ``seqlab`` command line: one module per command group, assembled in
:mod:`seqlab.cli.main` (the console script calls :func:`seqlab.cli.main.main`).

>>> from seqlab.cli.main import cli
>>> sorted(cli.commands)[:3]
['classify', 'data', 'demo']
"""

__all__: list[str] = []


def __dir__() -> list[str]:
    # PEP 562: dir() shows the public names, not the helpers this module imports.
    return list(__all__)
