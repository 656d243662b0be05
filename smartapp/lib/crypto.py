"""Encryption at rest for secrets and tokens (Fernet, key rotation through MultiFernet)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "WrongEncryptionKey", "decrypt", "encrypt"]


class WrongEncryptionKey(InvalidToken):
    """Stored ciphertext that none of FIELD_ENCRYPTION_KEYS opens."""

    def __str__(self) -> str:
        return (
            "A stored secret could not be decrypted: FIELD_ENCRYPTION_KEYS does not include the key "
            "it was written with. Add the old key after the new one (keys rotate, they are not replaced)."
        )


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    # The first key encrypts; all keys decrypt, so old keys can be retired gradually.
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise WrongEncryptionKey from None
