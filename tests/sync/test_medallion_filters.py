"""The linear-time medallion filters the embedded server installs give the same answers as medallion's own."""

from __future__ import annotations

import copy
import datetime as dt
import random

from legion_misp.demo.medallion_compat import _ORIGINAL, fix_find_att, fix_slow_filters


def _stamp(seconds: int) -> str:
    return (dt.datetime(2026, 1, 1) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_linear_filters_match_medallion():
    fix_find_att()
    fix_slow_filters()
    from medallion.filters.basic_filter import BasicFilter

    assert BasicFilter.sort_and_paginate is not _ORIGINAL["sort_and_paginate"]
    generator = random.Random(7)
    for _ in range(40):
        data, manifest = [], []
        for i in range(generator.randint(1, 60)):
            stix_id, version = f"indicator--{generator.randint(0, 20)}", _stamp(generator.randint(0, 50))
            data.append({"id": stix_id, "type": "indicator", "modified": version, "_date_added": _stamp(100 + i),
                         "spec_version": generator.choice(["2.1", "2.0"])})
            manifest.append({"id": stix_id, "version": version, "date_added": _stamp(100 + i)})
        basic = BasicFilter({})
        for limit in (None, 1, 5, 1000):
            expected = _ORIGINAL["sort_and_paginate"](basic, copy.deepcopy(data), limit, copy.deepcopy(manifest))
            assert basic.sort_and_paginate(copy.deepcopy(data), limit, copy.deepcopy(manifest)) == expected
        after = _stamp(generator.randint(90, 170))
        assert (BasicFilter.filter_by_added_after(data, manifest, after)
                == _ORIGINAL["filter_by_added_after"](data, manifest, after))
        assert BasicFilter.filter_by_spec_version(data, None) == _ORIGINAL["filter_by_spec_version"](data, None)
