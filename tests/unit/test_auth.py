"""API keys end to end: the hashed store, ``xlt keys``, 401/403, per-key rates and daily character quotas."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.auth.keys import KEYS_DB, KeyStore, parse_key
from service.auth.limits import bucket, rate_limited, seconds_to_utc_midnight, utc_day
from service.cli import main
from service.errors import RateLimited
from tests.fakes import FakeEngine
from tests.unit.conftest import AppClient
from tests.unit.test_errors import assert_error

BODY = {"text": "hello world", "source": "en", "target": "de"}  # 11 characters


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    """The key store the app of ``app_client`` opens (its data dir is ``tmp_path / "data"``)."""
    store = KeyStore(tmp_path / "data" / KEYS_DB)
    yield store
    store.close()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_only_a_salted_hash_is_stored(keys: KeyStore) -> None:
    key, secret = keys.create("ci", rate_per_minute=10, chars_per_day=100)
    parsed = parse_key(secret)
    assert parsed is not None and parsed[0] == key.id
    assert keys.verify(secret) == key
    raw = sqlite3.connect(keys.path).execute("SELECT * FROM api_keys").fetchall()
    assert secret not in repr(raw) and parsed[1] not in repr(raw)
    assert key.hint.startswith(f"xlt_{key.id}_") and len(key.hint) < 25
    keys.create("other")
    salts = sqlite3.connect(keys.path).execute("SELECT salt FROM api_keys").fetchall()
    assert len({s for (s,) in salts}) == 2  # one salt per key


@pytest.mark.parametrize(
    "presented",
    ["", "xlt_", "nonsense", "xlt_000000000000_" + "A" * 43, "Bearer xyz", "xlt_zzzzzzzzzzzz_" + "A" * 43],
)
def test_malformed_or_unknown_keys_do_not_verify(keys: KeyStore, presented: str) -> None:
    keys.create("ci")
    assert keys.verify(presented) is None


def test_a_wrong_secret_for_a_real_id_does_not_verify(keys: KeyStore) -> None:
    _, secret = keys.create("ci")
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert keys.verify(forged) is None


def test_revocation_is_kept_and_idempotent(keys: KeyStore) -> None:
    key, secret = keys.create("ci")
    revoked = keys.revoke(key.id)
    assert revoked is not None and not revoked.active
    again = keys.revoke(key.id)
    assert again is not None and again.revoked_at == revoked.revoked_at
    verified = keys.verify(secret)
    assert verified is not None and not verified.active
    assert keys.revoke("0" * 12) is None


def test_charges_stop_at_the_limit_and_refunds_give_back(keys: KeyStore) -> None:
    key, _ = keys.create("ci", chars_per_day=10)
    assert keys.charge(key.id, "2030-01-01", 6, 10) == 6
    assert keys.charge(key.id, "2030-01-01", 5, 10) is None  # would pass the limit: nothing charged
    assert keys.charge(key.id, "2030-01-01", 4, 10) == 10
    assert keys.charge(key.id, "2030-01-02", 10, 10) == 10  # a new day
    keys.refund(key.id, "2030-01-01", 4)
    assert keys.usage(key.id, "2030-01-01") == 6
    assert keys.charge(key.id, "2030-01-03", 11, 10) is None


def test_concurrent_charges_never_pass_the_limit(tmp_path: Path) -> None:
    """Two stores on one file (two workers): the check and the charge are one statement."""
    first, second = KeyStore(tmp_path / KEYS_DB), KeyStore(tmp_path / KEYS_DB)
    key, _ = first.create("ci", chars_per_day=100)
    accepted: list[int] = []

    def spend(store: KeyStore) -> None:
        for _ in range(60):
            if store.charge(key.id, "2030-01-01", 3, 100) is not None:
                accepted.append(3)

    threads = [threading.Thread(target=spend, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(accepted) == first.usage(key.id, "2030-01-01") == 99
    first.close()
    second.close()


def test_token_bucket_allows_a_burst_then_the_rate(keys: KeyStore) -> None:
    def check(store: KeyStore, key: str, per_minute: int, now: float) -> None:
        wait = store.take_token(key, *bucket(per_minute), now)
        if wait > 0:
            raise rate_limited(key, per_minute, wait)

    for _ in range(10):  # 60/min: a bucket of 10 seconds' worth
        check(keys, "k", 60, 1000.0)
    with pytest.raises(RateLimited) as refused:
        check(keys, "k", 60, 1000.0)
    assert refused.value.headers() == {"Retry-After": "1"}
    check(keys, "k", 60, 1001.0)  # one more token a second later
    check(keys, "other", 60, 1001.0)  # buckets are per key
    check(keys, "slow", 1, 1001.0)
    with pytest.raises(RateLimited) as waiting:
        check(keys, "slow", 1, 1001.0)
    assert waiting.value.retry_after_s == 60


def test_workers_share_a_bucket(tmp_path: Path) -> None:
    """Two stores on one file, as two ``--workers`` processes: together they get the key's rate, not twice it."""
    first, second = KeyStore(tmp_path / KEYS_DB), KeyStore(tmp_path / KEYS_DB)
    try:
        capacity, per_second = bucket(30)  # a bucket of 5
        allowed = [store.take_token("k", capacity, per_second, 50.0) == 0.0 for store in (first, second) * 5]
        assert allowed == [True] * 5 + [False] * 5
    finally:
        first.close()
        second.close()


def test_quota_days_are_utc() -> None:
    assert utc_day(0) == "1970-01-01" and utc_day(86399.5) == "1970-01-01" and utc_day(86400) == "1970-01-02"
    assert seconds_to_utc_midnight(86400 - 30) == 30 and seconds_to_utc_midnight(86400 - 0.2) == 1


async def test_required_keys(app_client: AppClient, keys: KeyStore) -> None:
    _, secret = keys.create("ci")
    async with app_client(api_keys_required=True) as client:
        missing = await client.post("/translate", json=BODY)
        assert_error(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        assert_error(await client.post("/translate", json=BODY, headers=bearer("xlt_nope")), 401, "unauthorized")
        assert_error(await client.get("/memories"), 401, "unauthorized")
        assert (await client.post("/translate", json=BODY, headers=bearer(secret))).status_code == 200
        assert (await client.post("/translate", json=BODY, headers={"X-API-Key": secret})).status_code == 200
        assert (await client.get("/memories", headers={"X-API-Key": secret})).status_code == 200
        for open_route in ("/health/live", "/health/ready", "/languages", "/models", "/openapi.json"):
            assert (await client.get(open_route)).status_code == 200, open_route


async def test_revocation_takes_effect_without_a_restart(app_client: AppClient, keys: KeyStore) -> None:
    key, secret = keys.create("ci")
    async with app_client(api_keys_required=True) as client:
        assert (await client.post("/translate", json=BODY, headers=bearer(secret))).status_code == 200
        assert main(["keys", "revoke", key.id, "--data-dir", str(keys.path.parent)]) == 0
        response = await client.post("/translate", json=BODY, headers=bearer(secret))
        assert_error(response, 401, "unauthorized")
        assert "revoked" in response.json()["error"]["message"]


async def test_optional_keys_still_check_a_presented_key(app_client: AppClient, keys: KeyStore) -> None:
    _, secret = keys.create("ci")
    async with app_client() as client:  # XLT_API_KEYS_REQUIRED=false (the default)
        assert (await client.post("/translate", json=BODY)).status_code == 200
        assert (await client.post("/translate", json=BODY, headers=bearer(secret))).status_code == 200
        assert_error(await client.post("/translate", json=BODY, headers=bearer("wrong")), 401, "unauthorized")


async def test_admin_routes_need_an_admin_key(app_client: AppClient, keys: KeyStore) -> None:
    _, user = keys.create("user")
    _, admin = keys.create("ops", admin=True)
    async with app_client(api_keys_required=True) as client:
        assert_error(await client.post("/models/reload"), 401, "unauthorized")
        assert_error(await client.post("/models/reload", headers=bearer(user)), 403, "forbidden")
        assert (await client.post("/models/reload", headers=bearer(admin))).status_code == 200


async def test_rate_limit_per_key(app_client: AppClient, keys: KeyStore) -> None:
    _, limited = keys.create("limited", rate_per_minute=6)  # a bucket of one request
    _, free = keys.create("free")
    async with app_client(api_keys_required=True) as client:
        assert (await client.post("/translate", json=BODY, headers=bearer(limited))).status_code == 200
        refused = await client.post("/translate", json=BODY, headers=bearer(limited))
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        assert (await client.post("/translate", json=BODY, headers=bearer(free))).status_code == 200


async def test_character_quota_with_refunds(app_client: AppClient, keys: KeyStore) -> None:
    key, secret = keys.create("ci", chars_per_day=30)
    engine = FakeEngine()
    async with app_client([engine], api_keys_required=True) as client:
        assert (await client.post("/translate", json=BODY, headers=bearer(secret))).status_code == 200  # 11
        failing = {**BODY, "target": "xx"}  # refused by the pipeline: the characters come back
        assert_error(await client.post("/translate", json=failing, headers=bearer(secret)), 422, "unsupported_language")
        assert (await client.post("/translate", json=BODY, headers=bearer(secret))).status_code == 200  # 22
        over = await client.post("/translate", json=BODY, headers=bearer(secret))  # 33 > 30
        assert_error(over, 429, "quota_exceeded")
        assert 1 <= int(over.headers["retry-after"]) <= 86400
        fits = {**BODY, "text": "12345678"}  # 30: exactly the quota
        assert (await client.post("/translate", json=fits, headers=bearer(secret))).status_code == 200
        for _ in range(100):  # the refund is written in the background
            if keys.usage(key.id, utc_day(time.time())) == 30:
                break
            await asyncio.sleep(0.01)
        assert keys.usage(key.id, utc_day(time.time())) == 30
    assert len(engine.calls) == 3


async def test_required_keys_with_an_unusable_data_dir_fail_at_start(app_client: AppClient, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data dir should be")
    with pytest.raises(Exception, match="key store is unavailable"):
        async with app_client(api_keys_required=True, data_dir=blocker):
            pass


def test_cli_create_list_revoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert main(["keys", "create", "--name", "ci", "--rate-per-minute", "60", "--chars-per-day", "1000", *data]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    assert parse_key(secret) is not None and secret not in out.err
    key_id = secret.split("_")[1]
    assert main(["keys", "list", *data]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "active" in listing and secret not in listing and "60/min" in listing
    assert main(["keys", "revoke", key_id, *data]) == 0
    assert main(["keys", "list", "--json", *data]) == 0
    assert '"active": false' in capsys.readouterr().out
    assert main(["keys", "revoke", "../../etc", *data]) == 2
    assert main(["keys", "revoke", "0" * 12, *data]) == 1
    assert main(["keys", "create", "--chars-per-day", "0", *data]) == 2


async def test_memories_belong_to_the_key_that_created_them(app_client: AppClient, keys: KeyStore) -> None:
    _, alice = keys.create("alice")
    _, bob = keys.create("bob")
    _, ops = keys.create("ops", admin=True)
    pairs = {"source_lang": "en", "target_lang": "de", "pairs": [{"source": "hello world", "target": "Hallo Welt"}]}
    async with app_client(api_keys_required=True) as client:
        created = await client.post("/memories", json={"name": "alice's"}, headers=bearer(alice))
        memory_id = created.json()["id"]
        assert (
            await client.post(f"/memories/{memory_id}/entries", json=pairs, headers=bearer(alice))
        ).status_code == 200
        use = {**BODY, "memory": memory_id}
        mine = await client.post("/translate", json=use, headers=bearer(alice))
        assert mine.json()["translations"][0]["text"] == "Hallo Welt"

        # another key cannot tell the memory exists: every route answers as for a missing one
        assert_error(await client.get(f"/memories/{memory_id}", headers=bearer(bob)), 404, "memory_not_found")
        assert_error(await client.post("/translate", json=use, headers=bearer(bob)), 404, "memory_not_found")
        entries = await client.post(f"/memories/{memory_id}/entries", json=pairs, headers=bearer(bob))
        assert_error(entries, 404, "memory_not_found")
        assert_error(await client.delete(f"/memories/{memory_id}", headers=bearer(bob)), 404, "memory_not_found")
        assert (await client.get("/memories", headers=bearer(bob))).json() == {"memories": []}

        # an admin key sees every memory; the owner still has it
        listed = (await client.get("/memories", headers=bearer(ops))).json()["memories"]
        assert [m["id"] for m in listed] == [memory_id]
        assert (await client.get(f"/memories/{memory_id}", headers=bearer(alice))).status_code == 200
        assert (await client.delete(f"/memories/{memory_id}", headers=bearer(alice))).status_code == 204
