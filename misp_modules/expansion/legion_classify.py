"""legion-misp message classifier (MISP expansion and hover module). The work is in legion_misp.mispmod.classify.

Needs legion-misp installed in the misp-modules environment: pip install 'legion-misp[modules]'.
"""

try:
    from legion_misp.mispmod.classify import (  # noqa: F401 - the misp-modules contract
        dict_handler,
        handler,
        introspection,
        mispattributes,
        moduleconfig,
        moduleinfo,
        version,
    )
except Exception as exc:  # a non-ImportError at import time would crash the whole server
    raise ImportError(f"legion_classify needs legion-misp installed in this environment: {exc}") from exc
