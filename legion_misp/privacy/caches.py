"""The detection's caches (values repeat across events), and one call to empty them (benchmarks, tests)."""

from __future__ import annotations


def clear_caches() -> None:
    """Empty every module-level cache of the detection (folded needles, views, decoded tokens)."""
    from . import encodings, normalize

    for function in (normalize.views, normalize.plain, normalize.skeleton, encodings.decoded_tokens,
                     encodings.base64_texts):
        function.cache_clear()
