"""Password hashing with argon2id, and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

MIN_PASSWORD_LENGTH = 10


def make_hasher(profile: str = "standard") -> PasswordHasher:
    """argon2id hasher; ``profile="fast"`` is for test suites only (weak by design)."""
    params = CHEAPEST if profile == "fast" else RFC_9106_LOW_MEMORY
    return PasswordHasher.from_parameters(params)


def password_problem(password: str, *, username: str) -> str | None:
    """Why ``password`` is unacceptable, or ``None`` if it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if password.strip().lower() == username.strip().lower():
        return "must not be the same as the username"
    return None


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash of a random string, verified against when the user does not exist so that
# response time does not reveal which usernames exist.
def dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("no-such-user-placeholder")
