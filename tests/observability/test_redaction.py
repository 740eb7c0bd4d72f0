"""The redactor masks secret keys, credential-shaped values and registered secrets."""

from __future__ import annotations

from tokenhub.observability.redaction import REDACTED, Redactor


def test_secret_keys_are_masked_at_any_depth():
    """Values under authorization/api_key/password/token keys are replaced."""
    redactor = Redactor()
    data = {
        "Authorization": "Bearer abc",
        "nested": {"api_key": "k", "x-api-key": "k2", "password": "p", "list": [{"token": "t"}]},
        "plain": "ok",
    }
    assert redactor.value(data) == {
        "Authorization": REDACTED,
        "nested": {
            "api_key": REDACTED,
            "x-api-key": REDACTED,
            "password": REDACTED,
            "list": [{"token": REDACTED}],
        },
        "plain": "ok",
    }


def test_credential_shaped_values_are_masked_in_free_text():
    """Bearer tokens and sk-/th- keys inside messages are masked."""
    redactor = Redactor()
    text = "upstream said: Incorrect API key provided: sk-proj-abcdef123456; use Bearer xyz.123"
    masked = redactor.text(text)
    assert "sk-proj-abcdef123456" not in masked
    assert "xyz.123" not in masked
    assert masked.count(REDACTED) == 2


def test_registered_secrets_are_masked_anywhere():
    """An exact secret registered at run time is masked even without a telltale shape."""
    redactor = Redactor()
    redactor.add_secret("correct horse battery staple")
    assert redactor.text("pw=correct horse battery staple!") == f"pw={REDACTED}!"
    redactor.add_secret("abc")  # too short to be a secret: ignored, not over-masking
    assert redactor.text("abc") == "abc"


def test_passwords_in_urls_are_masked():
    """A proxy or database URL in free text keeps its user and host, never its password."""
    redactor = Redactor()
    text = "via http://alice:pr0xy-s3cret@proxy.corp:3128 to postgresql://app:hunter22@db/x"
    assert redactor.text(text) == (
        f"via http://alice:{REDACTED}@proxy.corp:3128 to postgresql://app:{REDACTED}@db/x"
    )
    assert redactor.text("mail alice@example.com") == "mail alice@example.com"
