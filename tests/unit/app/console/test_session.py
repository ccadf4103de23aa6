"""Console session cookies: signed, expiring, never holding the key."""


from app.console.session import SessionSigner
from core.keyfile import load_or_create


def test_round_trip_and_tamper(tmp_path):
    """A cookie reads back; a changed byte, another key or no cookie reads as no session."""
    key = load_or_create(tmp_path / "k")
    assert load_or_create(tmp_path / "k") == key and len(key) == 32
    signer = SessionSigner(key)
    cookie = signer.issue("abc123")
    session = signer.read(cookie)
    assert session is not None and session.key_id == "abc123" and len(session.csrf) > 20
    payload, mac = cookie.rsplit(".", 1)
    assert signer.read(payload + "." + ("0" if mac[0] != "0" else "1") + mac[1:]) is None
    assert SessionSigner(b"x" * 32).read(cookie) is None
    assert signer.read(None) is None and signer.read("garbage") is None


def test_expired_cookie_is_refused(tmp_path):
    """Past its expiry the cookie is no session."""
    signer = SessionSigner(b"k" * 32, ttl_s=-1)
    assert signer.read(signer.issue("abc")) is None
    assert SessionSigner(b"k" * 32, ttl_s=60).read(SessionSigner(b"k" * 32, 60).issue("a"))
