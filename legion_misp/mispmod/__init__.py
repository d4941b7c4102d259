"""The work behind legion-misp's MISP modules (the files under ``misp_modules/`` are thin shims over these).

Each module exposes the misp-modules contract (``mispattributes``, ``moduleinfo``, ``moduleconfig``, ``handler``,
``dict_handler``, ``introspection``, ``version``); :mod:`.common` turns every failure into a short
``{"error": ...}`` answer so a module never crashes the misp-modules server.
"""
