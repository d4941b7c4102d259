"""legion-misp federation import (MISP import module). The work is in legion_misp.mispmod.federation_import.

Needs legion-misp installed in the misp-modules environment: pip install 'legion-misp[modules]'.
"""

try:
    from legion_misp.mispmod.federation_import import (  # noqa: F401 - the misp-modules contract
        dict_handler,
        handler,
        introspection,
        mispattributes,
        moduleconfig,
        moduleinfo,
        version,
    )
except Exception as exc:  # a non-ImportError at import time would crash the whole server
    raise ImportError(f"legion_federation_import needs legion-misp installed in this environment: {exc}") from exc
