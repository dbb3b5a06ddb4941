"""Identity primitives: password policy and hashing, TOTP second factor."""
