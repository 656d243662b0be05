"""Encryption at rest for secrets and tokens (Fernet, key rotation through MultiFernet)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    # The first key encrypts; all keys decrypt, so old keys can be retired gradually.
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    return _fernet().decrypt(ciphertext.encode()).decode()
