"""Webhook signatures as the Standard Webhooks specification computes them, so any of its libraries verifies ours."""

import time

from services.notifications import webhooks


def test_the_signature_of_the_specifications_example_is_the_one_it_gives():
    # The example of the Standard Webhooks specification: its secret, message id, timestamp and body.
    signature = webhooks.signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_signature_verifies_with_its_secret_and_not_with_another_a_changed_body_or_an_old_timestamp():
    secret = webhooks.new_secret()
    body = b'{"type":"alert.changed"}'
    headers = webhooks.signed_headers(secret, "msg-1", int(time.time()), body)
    assert headers["webhook-signature"].startswith("v1,")
    assert webhooks.verify(secret, headers, body)
    assert not webhooks.verify(webhooks.new_secret(), headers, body)
    assert not webhooks.verify(secret, headers, body + b" ")
    assert not webhooks.verify(secret, headers | {"webhook-id": "msg-2"}, body)
    assert not webhooks.verify(secret, headers, body, now=time.time() + 3600)


def test_a_new_secret_is_a_whsec_key_of_32_random_bytes():
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(webhooks._key(first)) == 32
