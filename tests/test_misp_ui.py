"""tests/support/misp_ui.py without a MISP: the page reading that replays MISP's moduleResultsSubmit (misp.js)."""

from __future__ import annotations

from tests.support.misp_ui import collected_results, form_fields, jquery_data, parse_html

RESULT_PAGE = """
<form action="/events/handleModuleResults/3" class="mainForm hidden" method="post"><div style="display:none;">
<input type="hidden" name="_method" value="POST"/><input type="hidden" name="data[_Token][key]" value="k1"/></div>
<input type="hidden" name="data[Event][data]" value="{&quot;Object&quot;:[]}" id="EventData"/>
<input name="data[Event][JsonObject]" value="" type="text"/><input type="checkbox" name="unticked"/>
<input name="data[_Token][fields]" value="abc%3AEvent.data" type="hidden"/></form>
<table><tbody class="MISPObject"><tr><td><input type="checkbox" class="ImportMISPObject" checked></td>
<td><span class="ObjectName">legion-verdict</span><span class="ObjectUUID">u-1</span>
<span class="ObjectMetaCategory">misc</span><span class="TemplateUUID">t-1</span>
<span class="ObjectReference"><span class="Relationship">annotates</span>
<span class="ReferencedUUID">e-1</span></span></td>
<td><textarea class="ObjectComment">our &amp; comment</textarea></td>
<td><select class="ObjectDistribution"><option value="0">Org</option>
<option value="5" selected>Inherit</option></select>
<select class="ObjectSharingGroup"><option value="1">sg</option></select></td></tr>
<tr class="ObjectAttribute"><td><input type="checkbox" class="ImportMISPObjectAttribute" checked></td>
<td class="ObjectCategory">Other</td>
<td><span class="ObjectRelation">score</span><span class="AttributeType">float</span></td>
<td class="AttributeValue" data-value="0.25">0.25</td><td class="AttributeUuid">a-1</td>
<td><span class="objectAttributeTagContainer"><span class="objectAttributeTag" data-local="0"
 style="background-color:#0088CC;" title='legion:verdict="clean"'>clean</span></span></td>
<td><input type="checkbox" class="AttributeToIds"></td>
<td><input type="checkbox" class="AttributeDisableCorrelation" checked></td>
<td><textarea class="AttributeComment"></textarea></td>
<td><select class="AttributeDistribution"><option value="5" selected>Inherit</option></select>
<select class="AttributeSharingGroup"><option value="1">sg</option></select></td></tr>
<tr class="ObjectAttribute"><td><input type="checkbox" class="ImportMISPObjectAttribute"></td>
<td class="AttributeValue" data-value="dropped"></td><td><input type="checkbox" class="AttributeToIds"></td>
<td><input type="checkbox" class="AttributeDisableCorrelation"></td></tr></tbody></table>
"""


def test_jquery_data_converts_as_jquery_does():
    assert jquery_data("0.999872") == 0.999872 and jquery_data("12") == 12 and jquery_data("-3") == -3
    for unchanged in ("0.50", "1.0E-5", "05383de4", "007", "", "1e3", "clean"):
        assert jquery_data(unchanged) == unchanged  # +x + "" would print them differently: jQuery keeps strings
    assert jquery_data("true") is True and jquery_data("null") is None and jquery_data('{"a": 1}') == {"a": 1}


def test_form_serialised_as_a_browser_does():
    page = parse_html(RESULT_PAGE)
    fields = form_fields(page.descendants("form")[0])
    assert [name for name, _ in fields] == ["_method", "data[_Token][key]", "data[Event][data]",
                                             "data[Event][JsonObject]", "data[_Token][fields]"]  # unticked box left out
    assert dict(fields)["data[Event][data]"] == '{"Object":[]}'  # entities decoded: the CSRF hash covers the value


def test_result_rows_collected_as_module_results_submit_does():
    collected = collected_results(parse_html(RESULT_PAGE))
    (obj,) = collected["Object"]
    assert obj["name"] == "legion-verdict" and obj["comment"] == "our & comment" and obj["distribution"] == "5"
    assert obj["sharing_group_id"] == "0" and obj["template_uuid"] == "t-1" and "id" not in obj
    assert obj["ObjectReference"] == [{"object_uuid": "u-1", "referenced_uuid": "e-1",
                                       "relationship_type": "annotates"}]
    (attribute,) = obj["Attribute"]  # the unticked row is not imported
    assert attribute["value"] == 0.25 and attribute["uuid"] == "a-1" and attribute["disable_correlation"]
    assert attribute["category"] == ""  # misp.js reads .AttributeCategory, which object rows do not have
    assert attribute["Tag"] == [{"name": 'legion:verdict="clean"', "colour": "#0088cc", "local": 0}]
