import pytest
from cryptography.fernet import Fernet

from smartapp.lib import crypto


@pytest.fixture
def fresh_keys(settings):
    def use(keys):
        settings.FIELD_ENCRYPTION_KEYS = keys
        crypto._fernet.cache_clear()

    yield use
    crypto._fernet.cache_clear()


def test_it_round_trips_and_hides_the_plaintext(fresh_keys):
    fresh_keys([Fernet.generate_key().decode()])
    token = crypto.encrypt("eyJhbGciOi.secret-access-token")
    assert "secret-access-token" not in token
    assert crypto.decrypt(token) == "eyJhbGciOi.secret-access-token"


def test_it_still_decrypts_with_a_retired_key_after_rotation(fresh_keys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    fresh_keys([old])
    stored = crypto.encrypt("refresh-token")
    fresh_keys([new, old])
    assert crypto.decrypt(stored) == "refresh-token"


def test_it_refuses_ciphertext_from_an_unknown_key(fresh_keys):
    fresh_keys([Fernet.generate_key().decode()])
    stored = crypto.encrypt("refresh-token")
    fresh_keys([Fernet.generate_key().decode()])
    with pytest.raises(crypto.InvalidToken, match="FIELD_ENCRYPTION_KEYS does not include"):
        crypto.decrypt(stored)
