"""Who is acting, and may they. Routes declare one permission (``orchestrator.auth.deps``:
``FileCase``, ``ReadCases``, …) and get the signed-in :class:`Actor`; services scope by it."""
