"""TLS verification on by default (a private CA is trusted only through ca_bundle), the [sync] config section,
and `quarantine retry`."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connectors.datastore import MemoryStixCollection
from connectors.publish import Publisher
from connectors.pull import Puller
from connectors.quarantine import retry_quarantine
from connectors.settings import CollectionSettings, SyncSettings
from connectors.state import SyncState
from connectors.transport import TaxiiClient
from legion_misp.errors import ConfigError, TransportError
from legion_misp.sections import parse_config
from legion_misp.stores import MemoryEventStore
from tests.support.events import make_event
from tests.support.servers import free_port

from .conftest import collection_for, settings_for
from .helpers import MEDIA


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "legion test CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "server.crt", tmp_path / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_verified_by_default_and_private_ca_by_bundle(tmp_path):
    cert_path, key_path = _self_signed(tmp_path)

    @Request.application
    def app(request):
        return Response(json.dumps({"objects": [], "more": False}), content_type=MEDIA)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = make_server("127.0.0.1", free_port(), app, threaded=True, ssl_context=context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_root = f"https://127.0.0.1:{server.server_port}/root/"
    try:
        default = collection_for(api_root, "c1", "orgB")
        assert default.verify_tls is True
        with pytest.raises(TransportError, match="TLS"):
            TaxiiClient(default, settings_for(tmp_path, "x")).get_page(limit=5)
        trusted = CollectionSettings(url=api_root, collection="c1", username="orgB", password=default.password,
                                     ca_bundle=str(cert_path))
        page = TaxiiClient(trusted, settings_for(tmp_path, "x")).get_page(limit=5)
        assert page.objects == [] and page.more is False
    finally:
        server.shutdown()


BASE = """
[organisation]
name = "Org"
pseudonym = "member-x"
"""


def test_sync_section_validated_with_key_paths(tmp_path):
    config = parse_config(BASE + '[sync]\nstate_path = "s.sqlite"\nrevoked = "delete"\npage_size = 7\n',
                          base_dir=tmp_path)
    settings = SyncSettings.from_config(config)
    assert settings.state_path == tmp_path / "s.sqlite" and settings.revoked == "delete" and settings.page_size == 7
    assert settings.lock_path == tmp_path / "s.sqlite.lock" and settings.every == 900.0
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + '[sync]\nrevoked = "ignore"\npage_size = 0\n', base_dir=tmp_path)
    text = str(caught.value)
    assert "sync.revoked" in text and "sync.page_size" in text
    with pytest.raises(ConfigError, match=r"federation\.collections\[0\]\.password"):
        parse_config(BASE + '[[federation.collections]]\nurl = "https://t.example/api/"\ncollection = "c"\n'
                     'password = "hunter2"\n', base_dir=tmp_path)


def test_quarantine_retry_after_raising_a_limit(tmp_path):
    collection = MemoryStixCollection()
    event = make_event(1, 3)
    event["Attribute"][0]["comment"] = "long " * 400  # makes one object ~2 KB
    event["Attribute"][0]["to_ids"] = True
    strict = settings_for(tmp_path, "b", max_object_bytes=1500)
    with SyncState(settings_for(tmp_path, "a").state_path) as state:
        Publisher(collection, state, "k", settings_for(tmp_path, "a"), lambda e: e).publish([event])
    store = MemoryEventStore()
    with SyncState(strict.state_path) as state:
        stats = Puller(collection, state, "k", strict, store).pull()
        assert stats.quarantined >= 1
        relaxed = SyncSettings(state_path=strict.state_path, lock_path=strict.lock_path, max_object_bytes=100_000)
        resolved, still = retry_quarantine(state, store, relaxed, None)
        assert resolved == stats.quarantined and still == 0
        assert state.quarantine_size() == 0
    assert store.get(event["uuid"]) is not None
