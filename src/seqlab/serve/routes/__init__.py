"""The endpoints of ``seqlab serve``, one module per area; each has ``add_routes(app, ...)``."""
