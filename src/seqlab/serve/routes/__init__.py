"""The endpoints of ``seqlab serve``, one module per area; each has ``add_routes(app, ...)``."""

__all__: list[str] = ["attention", "classify", "generate", "site", "vectors"]


def __dir__() -> list[str]:
    # PEP 562: dir() shows the route modules only.
    return list(__all__)
