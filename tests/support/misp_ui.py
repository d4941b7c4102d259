"""MISP 2.5.1's web interface driven over HTTP exactly as a browser does, for what MISP offers only there.

Object enrichment is one such path. Over the API, ``GET /events/queryEnrichment/<object id>/<module>/Enrichment/
Object`` queries the module and then dies in ``EventsController::__queryObjectEnrichment``
(app/Controller/EventsController.php line 5486, ``$this->render('resolved_misp_format')``): a JSON request looks for
``View/Events/json/resolved_misp_format.ctp``, which MISP does not ship (HTTP 500, MissingViewException). The
browser gets the HTML page instead, and its JavaScript (``moduleResultsSubmit`` in app/webroot/js/misp.js) turns the
rows the analyst kept into JSON and posts it with the form's CSRF tokens to ``/events/handleModuleResults/<event>``,
which saves it. :class:`MispBrowser` does the same: session login through the login form, the module chooser
(an XHR), the result page, and the submission built from the page the way ``moduleResultsSubmit`` builds it.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import requests

VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
XHR = {"X-Requested-With": "XMLHttpRequest"}  # what jQuery's $.ajax adds; MISP renders ajax/ views for it


class MispUiError(RuntimeError):
    """MISP's web interface answered something a browser would show as an error."""


@dataclass
class Node:
    """One HTML element: enough of a DOM for jQuery-style ``find``/``text``/``val`` on MISP's pages."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, css_class: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if css_class in child.classes:
                    found.append(child)
                found.extend(child.find_all(css_class))
        return found

    def first(self, css_class: str) -> Node | None:
        matches = self.find_all(css_class)
        return matches[0] if matches else None

    def has(self, css_class: str) -> bool:
        return self.first(css_class) is not None

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def descendants(self, tag: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag:
                    found.append(child)
                found.extend(child.descendants(tag))
        return found

    def val(self) -> str:
        """jQuery ``.val()``: an input's value, a textarea's text, a select's selected (else first) option."""
        if self.tag == "textarea":
            return self.text()
        if self.tag == "select":
            options = self.descendants("option")
            chosen = [o for o in options if "selected" in o.attrs] or options[:1]
            return chosen[0].attrs.get("value", chosen[0].text()) if chosen else ""
        return self.attrs.get("value", "")

    @property
    def checked(self) -> bool:
        return "checked" in self.attrs


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v if v is not None else "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v if v is not None else "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):  # tolerate unclosed elements, as browsers do
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_html(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def jquery_data(raw: str) -> Any:
    """What jQuery's ``.data('value')`` makes of a ``data-value`` attribute (it converts numbers, booleans, JSON)."""
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    if re.fullmatch(r"-?(0|[1-9]\d*)(\.\d*[1-9])?", raw):  # the strings a JS number prints back unchanged
        return float(raw) if "." in raw else int(raw)
    if re.fullmatch(r"\s*[\[{].*", raw, re.S):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _hex_colour(style: str) -> str | None:
    match = re.search(r"background-color:\s*(#[0-9a-fA-F]{6})", style)
    return match.group(1).lower() if match else None


def _tags(row: Node, css_class: str) -> list[dict[str, Any]]:
    return [{"name": tag.attrs.get("title", ""), "colour": _hex_colour(tag.attrs.get("style", "")),
             "local": jquery_data(tag.attrs.get("data-local", "0"))} for tag in row.find_all(css_class)]


def _text(node: Node, css_class: str) -> str:
    found = node.first(css_class)
    return found.text() if found is not None else ""  # jQuery: .text() of nothing is ""


def _val(node: Node, css_class: str) -> str:
    found = node.first(css_class)
    return found.val() if found is not None else ""


def _checked(node: Node, css_class: str) -> bool:
    found = node.first(css_class)
    if found is None:
        raise MispUiError(f"the result page has a row without its {css_class} checkbox")
    return found.checked


def _object_attribute(row: Node) -> dict[str, Any] | None:
    attribute = {
        "import_attribute": _checked(row, "ImportMISPObjectAttribute"),
        "object_relation": _text(row, "ObjectRelation"),
        "category": _text(row, "AttributeCategory"),  # misp.js reads .AttributeCategory; the row has ObjectCategory
        "type": _text(row, "AttributeType"),
        "value": jquery_data(row.first("AttributeValue").attrs.get("data-value", "")),
        "uuid": _text(row, "AttributeUuid"),
        "to_ids": _checked(row, "AttributeToIds"),
        "disable_correlation": _checked(row, "AttributeDisableCorrelation"),
        "comment": _val(row, "AttributeComment"),
        "distribution": _val(row, "AttributeDistribution"),
        "sharing_group_id": _val(row, "AttributeSharingGroup"),
    }
    if not attribute["import_attribute"]:
        return None
    if attribute["distribution"] != "4":
        attribute["sharing_group_id"] = "0"
    if row.has("objectAttributeTagContainer"):
        attribute["Tag"] = _tags(row, "objectAttributeTag")
    return attribute


def _object(block: Node) -> dict[str, Any] | None:
    object_uuid = _text(block, "ObjectUUID")
    found = {
        "uuid": object_uuid, "import_object": _checked(block, "ImportMISPObject"), "name": _text(block, "ObjectName"),
        "meta_category": _text(block, "ObjectMetaCategory"), "distribution": _val(block, "ObjectDistribution"),
        "sharing_group_id": _val(block, "ObjectSharingGroup"), "comment": _val(block, "ObjectComment"),
    }
    if not found["import_object"]:
        return None
    if found["distribution"] != "4":
        found["sharing_group_id"] = "0"
    for key, css_class in (("id", "ObjectID"), ("description", "ObjectDescription"),
                           ("template_version", "TemplateVersion"), ("template_uuid", "TemplateUUID"),
                           ("first_seen", "ObjectFirstSeen"), ("last_seen", "ObjectLastSeen")):
        if block.has(css_class):
            found[key] = _text(block, css_class)
    if block.has("ObjectReference"):
        found["ObjectReference"] = [{"object_uuid": object_uuid, "referenced_uuid": _text(ref, "ReferencedUUID"),
                                     "relationship_type": _text(ref, "Relationship")}
                                    for ref in block.find_all("ObjectReference")]
    if block.has("ObjectAttribute"):
        found["Attribute"] = [a for a in map(_object_attribute, block.find_all("ObjectAttribute")) if a is not None]
    return found


def _attribute(row: Node) -> dict[str, Any] | None:
    category = _val(row, "AttributeCategorySelect") if row.has("AttributeCategorySelect") else _text(
        row, "AttributeCategory")
    kind = _val(row, "AttributeTypeSelect") if row.has("AttributeTypeSelect") else _text(row, "AttributeType")
    attribute = {
        "import_attribute": _checked(row, "ImportMISPAttribute"), "category": category, "type": kind,
        "value": jquery_data(row.first("AttributeValue").attrs.get("data-value", "")),
        "uuid": _text(row, "AttributeUuid"), "to_ids": _checked(row, "AttributeToIds"),
        "disable_correlation": _checked(row, "AttributeDisableCorrelation"), "comment": _val(row, "AttributeComment"),
        "distribution": _val(row, "AttributeDistribution"), "sharing_group_id": _val(row, "AttributeSharingGroup"),
    }
    if not attribute["import_attribute"]:
        return None
    if attribute["distribution"] != "4":
        attribute["sharing_group_id"] = "0"
    if row.has("attributeTagContainer"):
        attribute["Tag"] = _tags(row, "attributeTag")
    return attribute


def collected_results(page: Node) -> dict[str, Any]:
    """The JSON ``moduleResultsSubmit`` (misp.js) posts for a result page: every row left ticked."""
    if page.has("MISPEventReport"):
        raise MispUiError("event reports in enrichment results are not driven here")
    collected: dict[str, Any] = {}
    meta = page.first("meta_table")
    if meta is not None and meta.has("tag"):
        collected["Tag"] = [{"name": tag.text()} for tag in meta.find_all("tag")]
    if page.has("MISPObject"):
        collected["Object"] = [o for o in map(_object, page.find_all("MISPObject")) if o is not None]
    if page.has("MISPAttribute"):
        collected["Attribute"] = [a for a in map(_attribute, page.find_all("MISPAttribute")) if a is not None]
    return collected


def form_fields(form: Node) -> list[tuple[str, str]]:
    """jQuery ``.serialize()`` of a form: its named inputs, textareas and selects in document order."""
    fields = []

    def walk(node: Node) -> None:
        for child in node.children:
            if not isinstance(child, Node):
                continue
            name = child.attrs.get("name")
            if name and child.tag in ("input", "textarea", "select") and "disabled" not in child.attrs:
                kind = child.attrs.get("type", "text")
                if kind not in ("checkbox", "radio", "submit", "button", "file") or child.checked:
                    fields.append((name, child.val()))
            walk(child)

    walk(form)
    return fields


def _form(page: Node, predicate) -> Node:
    for form in page.descendants("form"):
        if predicate(form):
            return form
    raise MispUiError("the page has no such form")


class MispBrowser:
    """A logged-in browser session on MISP's web interface (a user's e-mail and password, no API key)."""

    def __init__(self, url: str, email: str, password: str, *, verify_tls: bool = False, timeout: float = 120):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.verify = verify_tls
        self.timeout = timeout
        self._login(email, password)

    def get(self, path: str, *, xhr: bool = False) -> requests.Response:
        response = self.session.get(self._absolute(path), headers=XHR if xhr else None,
                                    timeout=self.timeout)
        self._check(response, path)
        return response

    def post(self, path: str, fields: list[tuple[str, str]], *, xhr: bool = False) -> requests.Response:
        response = self.session.post(self._absolute(path), data=fields, headers=XHR if xhr else None,
                                     timeout=self.timeout)
        self._check(response, path)
        return response

    def _absolute(self, path: str) -> str:
        """A path, or a form's action (MISP writes some absolute, with its base URL)."""
        if path.startswith(self.url + "/"):
            return path
        if re.match(r"https?://", path):
            raise MispUiError(f"refusing to follow a form to another site: {path}")
        return f"{self.url}/{path.lstrip('/')}"

    @staticmethod
    def _check(response: requests.Response, path: str) -> None:
        if response.status_code != 200:
            raise MispUiError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")

    def _login(self, email: str, password: str) -> None:
        page = parse_html(self.get("users/login").text)
        form = _form(page, lambda f: f.attrs.get("id") == "UserLoginForm")
        fields = [(k, v) for k, v in form_fields(form) if k not in ("data[User][email]", "data[User][password]")]
        fields += [("data[User][email]", email), ("data[User][password]", password)]
        response = self.post(form.attrs["action"], fields)
        if "UserLoginForm" in response.text or "/users/change_pw" in response.url:
            raise MispUiError(f"MISP did not log {email} in (wrong password, or a password change is required)")

    # ---- enrichment ------------------------------------------------------------------------------------------

    def enrichment_offered(self, event_id: int | str, element_id: int | str, model: str = "Object") -> bool:
        """Whether the event page shows the element's "Add enrichment" button (row_object.ctp, row_attribute.ctp)."""
        page = self.get(f"events/view/{event_id}").text
        return f"/events/queryEnrichment/{element_id}/0/Enrichment/{model}" in page

    def enrichment_choices(self, element_id: int | str, model: str = "Object") -> list[str]:
        """The modules MISP's chooser pop-up offers (ajax/enrichmentChoice.ctp)."""
        page = self.get(f"events/queryEnrichment/{element_id}/0/Enrichment/{model}", xhr=True).text
        targets = re.findall(r"/events/queryEnrichment/([^';]+)';", page)
        return [target.split("/")[1] for target in targets]

    def enrich(self, element_id: int | str, module: str, model: str = "Object") -> str:
        """Click the module in the chooser, then "Submit" on the result page; MISP's message is returned.
        ``model`` is "Object" (an object's button) or "Attribute"."""
        response = self.get(f"events/queryEnrichment/{element_id}/{module}/Enrichment/{model}")
        page = parse_html(response.text)
        flash = page.first("alert-error")
        if flash is not None:
            raise MispUiError(f"MISP reported: {flash.text().strip()}")
        form = _form(page, lambda f: "mainForm" in f.classes)
        collected = collected_results(page)
        fields = [(k, json.dumps(collected) if k == "data[Event][JsonObject]" else v) for k, v in form_fields(form)]
        answer = self.post(form.attrs["action"], fields, xhr=True)  # misp.js: xhr({type: "post", ...})
        text = html.unescape(answer.text)  # RestResponse::viewData with the HTML response type: escaped JSON
        try:
            return str(json.loads(text)["message"])
        except (ValueError, KeyError, TypeError):
            return text

    def hover(self, attribute_id: int | str) -> Node:
        """The popover MISP shows on hovering an attribute (AttributesController::hoverEnrichment)."""
        return parse_html(self.get(f"attributes/hoverEnrichment/{attribute_id}", xhr=True).text)

    # ---- objects ---------------------------------------------------------------------------------------------

    def object_editor(self, object_id: int | str) -> tuple[str, list[str], Node]:
        """Open an object's *Edit* page: the URL MISP ends on, its flash messages and the page."""
        response = self.get(f"objects/edit/{object_id}")
        page = parse_html(response.text)
        flashes = [" ".join(alert.text().replace("×", " ").split()) for alert in page.find_all("alert")]
        return response.url.removeprefix(self.url), flashes, page
