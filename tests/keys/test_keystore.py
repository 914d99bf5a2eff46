"""The keystore keeps private keys sealed at rest, private on disk, and recoverable by backup."""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import nacl.bindings
import nacl.pwhash.argon2id
import pytest

from keys import keystore as keystore_module
from keys import randomness
from keys.armor import IDENTITY, KEY_BACKUP, armor, dearmor
from keys.encoding import b64u_encode
from keys.errors import ArmorError, KeystoreError, LimitError, WrongPassphraseError
from keys.keystore import (
    FORMAT,
    KEYSTORE_FILENAME,
    MEMLIMIT_INTERACTIVE,
    MEMLIMIT_MAX,
    MEMLIMIT_MIN,
    OPSLIMIT_INTERACTIVE,
    OPSLIMIT_MAX,
    OPSLIMIT_MIN,
    DamagedKeystoreError,
    Keystore,
    KeystoreLimitError,
    default_home,
    write_private_file,
)

FAST = {"opslimit": OPSLIMIT_MIN, "memlimit": MEMLIMIT_MIN}
PASSPHRASE = b"correct horse battery staple"
SEED = bytes(range(1, 33))
DEVICE = bytes(range(101, 133))
SECRETS = {"identity": SEED, "device:" + b64u_encode(bytes(32)): DEVICE}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "profile"


@pytest.fixture
def path(home: Path) -> Path:
    return home / KEYSTORE_FILENAME


@pytest.fixture
def store(path: Path) -> Iterator[Keystore]:
    with Keystore.create(path, PASSPHRASE, SECRETS, **FAST) as opened:
        yield opened


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- profile directory -----------------------------------------------------------------------------


def test_home_comes_from_closedset_home_when_set(tmp_path: Path) -> None:
    assert default_home({"CLOSEDSET_HOME": str(tmp_path)}) == tmp_path


def test_home_falls_back_to_the_platform_data_directory() -> None:
    home = default_home({})
    assert home.name == "closedset"
    assert default_home({"CLOSEDSET_HOME": ""}) == home


# -- create and open -------------------------------------------------------------------------------


def test_secrets_round_trip_through_create_and_open(path: Path) -> None:
    Keystore.create(path, PASSPHRASE, SECRETS, **FAST).close()
    with Keystore.open(path, PASSPHRASE) as opened:
        assert dict(opened.secrets) == SECRETS
        assert (opened.opslimit, opened.memlimit) == (OPSLIMIT_MIN, MEMLIMIT_MIN)


def test_default_cost_is_libsodium_interactive(path: Path) -> None:
    with Keystore.create(path, PASSPHRASE, {"identity": SEED}) as created:
        assert (created.opslimit, created.memlimit) == (OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE)
    kdf = json.loads(path.read_bytes())["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == (OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE)


def test_secrets_view_is_read_only(store: Keystore) -> None:
    with pytest.raises(TypeError):
        store.secrets["identity"] = b"x"  # type: ignore[index]


def test_wrong_passphrase_is_one_clear_sentence(store: Keystore, path: Path) -> None:
    with pytest.raises(WrongPassphraseError) as info:
        Keystore.open(path, b"wrong horse")
    assert str(info.value) == "The passphrase does not open this keystore."


def test_create_refuses_to_overwrite_an_existing_keystore(store: Keystore, path: Path) -> None:
    before = path.read_bytes()
    with pytest.raises(KeystoreError, match="A keystore already exists at"):
        Keystore.create(path, b"other", {}, **FAST)
    assert path.read_bytes() == before


def test_missing_keystore_names_the_path_and_the_command(path: Path) -> None:
    with pytest.raises(KeystoreError) as info:
        Keystore.open(path, PASSPHRASE)
    assert str(info.value) == (
        f"There is no keystore at {path}; run `closedset id new` to create one."
    )


def test_empty_passphrase_is_refused_for_new_keystores(path: Path) -> None:
    with pytest.raises(KeystoreError, match="passphrase is empty"):
        Keystore.create(path, b"", SECRETS, **FAST)
    assert not path.exists()


@pytest.mark.parametrize("name", ["", "has space", "-leading", "x" * 129, "n\u00e9e", "a/b"])
def test_invalid_secret_names_are_refused(path: Path, name: str) -> None:
    with pytest.raises(KeystoreError, match="is not a valid secret name"):
        Keystore.create(path, PASSPHRASE, {name: SEED}, **FAST)


@pytest.mark.parametrize("value", [b"", bytes(256 * 1024 + 1)])
def test_secret_values_must_be_1_to_262144_bytes(store: Keystore, value: bytes) -> None:
    with pytest.raises(KeystoreError, match="must be 1 to 262144 bytes"):
        store.put("other", value)


# -- what is on disk -------------------------------------------------------------------------------


def test_keystore_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / KEYSTORE_FILENAME
    Keystore.create(path, PASSPHRASE, SECRETS, **FAST).close()
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700


def test_file_follows_the_documented_format(store: Keystore, path: Path) -> None:
    data = path.read_bytes()
    document = json.loads(data)
    assert data == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert sorted(document) == ["ciphertext", "format", "kdf", "nonce"]
    assert document["format"] == FORMAT == "closedset/keystore/v1"
    assert sorted(document["kdf"]) == ["alg", "memlimit", "opslimit", "salt"]
    assert document["kdf"]["alg"] == "argon2id13"


def test_file_opens_with_plain_libsodium_following_the_docstring(
    store: Keystore, path: Path
) -> None:
    # An independent reading of the format, so the docstring and the code cannot drift apart.
    document = json.loads(path.read_bytes())
    kdf = document["kdf"]

    def unb64u(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    key = nacl.pwhash.argon2id.kdf(
        32, PASSPHRASE, unb64u(kdf["salt"]), kdf["opslimit"], kdf["memlimit"]
    )
    ad = (
        '{"format":"closedset/keystore/v1","kdf":{"alg":"argon2id13",'
        f'"memlimit":{kdf["memlimit"]},"opslimit":{kdf["opslimit"]},"salt":"{kdf["salt"]}"}}}}'
    ).encode()
    plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        unb64u(document["ciphertext"]), ad, unb64u(document["nonce"]), key
    )
    assert json.loads(plaintext) == {
        "secrets": {name: b64u_encode(value) for name, value in SECRETS.items()}
    }


def test_sealing_with_fixed_randomness_gives_the_known_vector(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ciphertext below was computed with PyNaCl directly from the documented layout.
    monkeypatch.setattr(randomness, "random_bytes", lambda size: bytes(range(size)))
    Keystore.create(path, b"passphrase", {"identity": bytes(32)}, **FAST).close()
    assert path.read_bytes() == (
        b'{"ciphertext":"Y-OykO9vIKt-3BWvCgJ8hwfayo3D6FeHFl_gTZKLOmDt6mRIROpmH4Xd5op6zBCQvtNijqsm0fwn'
        b'jCNj4-byLIRcDNsnf_1eNJobBUBdH-dCnKng83U","format":"closedset/keystore/v1","kdf":{"alg":"argon2id13","memlimit":8192,'
        b'"opslimit":1,"salt":"AAECAwQFBgcICQoLDA0ODw"},"nonce":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"}'
    )


def test_no_secret_bytes_appear_anywhere_in_the_profile(home: Path, path: Path) -> None:
    seed, device = os.urandom(32), os.urandom(32)
    with Keystore.create(path, PASSPHRASE, {"identity": seed}, **FAST) as created:
        created.put("device:x", device)
        created.save()
        created.change_passphrase(b"new passphrase")
    forms = []
    for secret in (seed, device):
        forms += [
            secret,
            secret.hex().encode(),
            secret.hex().upper().encode(),
            base64.b64encode(secret),
            base64.b64encode(secret).rstrip(b"="),
            base64.urlsafe_b64encode(secret),
            b64u_encode(secret).encode(),
        ]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files == [path]
    for file in files:
        content = file.read_bytes()
        for form in forms:
            assert form not in content


# -- damage ----------------------------------------------------------------------------------------


def test_every_flipped_byte_in_the_file_is_refused(store: Keystore, path: Path) -> None:
    original = path.read_bytes()
    for index in range(len(original)):
        damaged = bytearray(original)
        damaged[index] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(KeystoreError):
            Keystore.open(path, PASSPHRASE)


def test_a_damaged_file_is_called_damaged(store: Keystore, path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DamagedKeystoreError) as info:
        Keystore.open(path, PASSPHRASE)
    assert str(info.value) == (
        f"The keystore at {path} is damaged: it is not canonical JSON; restore it from a backup."
    )


def test_a_flipped_ciphertext_byte_cannot_open(store: Keystore, path: Path) -> None:
    document = json.loads(path.read_bytes())
    ciphertext = bytearray(base64.urlsafe_b64decode(document["ciphertext"] + "=="))
    ciphertext[0] ^= 0x80
    document["ciphertext"] = b64u_encode(bytes(ciphertext))
    path.write_bytes(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(WrongPassphraseError):
        Keystore.open(path, PASSPHRASE)


def _rewrite_kdf(path: Path, **changes: object) -> None:
    document = json.loads(path.read_bytes())
    document["kdf"].update(changes)
    path.write_bytes(json.dumps(document, sort_keys=True, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    "changes",
    [{"opslimit": OPSLIMIT_MAX + 1}, {"memlimit": MEMLIMIT_MAX + 1}, {"memlimit": 10**12}],
)
def test_absurd_argon2id_cost_is_refused_before_deriving(
    store: Keystore, path: Path, changes: dict[str, int]
) -> None:
    _rewrite_kdf(path, **changes)
    with pytest.raises(LimitError, match="is over the cap"):
        Keystore.open(path, PASSPHRASE)


@pytest.mark.parametrize("changes", [{"opslimit": 0}, {"memlimit": MEMLIMIT_MIN - 1}])
def test_argon2id_cost_below_libsodiums_minimum_is_damage(
    store: Keystore, path: Path, changes: dict[str, int]
) -> None:
    _rewrite_kdf(path, **changes)
    with pytest.raises(DamagedKeystoreError, match="below libsodium's minimum"):
        Keystore.open(path, PASSPHRASE)


@pytest.mark.parametrize(
    "changes",
    [{"alg": "argon2i13"}, {"opslimit": "1"}, {"opslimit": True}, {"salt": "AAAA"}, {"x": 1}],
)
def test_malformed_kdf_fields_are_refused_as_damage(
    store: Keystore, path: Path, changes: dict[str, object]
) -> None:
    _rewrite_kdf(path, **changes)
    with pytest.raises(DamagedKeystoreError, match="is damaged"):
        Keystore.open(path, PASSPHRASE)


def test_a_newer_format_asks_for_an_upgrade(store: Keystore, path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"keystore/v1", b"keystore/v2"))
    with pytest.raises(KeystoreError, match="cannot read; upgrade Closed Set"):
        Keystore.open(path, PASSPHRASE)


def test_an_oversize_file_is_refused_before_parsing(path: Path) -> None:
    path.parent.mkdir()
    path.write_bytes(b" " * (keystore_module.MAX_KEYSTORE_BYTES + 1))
    with pytest.raises(KeystoreLimitError, match="over the limit"):
        Keystore.open(path, PASSPHRASE)


def test_requested_cost_out_of_range_is_refused(path: Path) -> None:
    with pytest.raises(LimitError, match="below libsodium's minimum"):
        Keystore.create(path, PASSPHRASE, SECRETS, opslimit=0, memlimit=MEMLIMIT_MIN)
    with pytest.raises(LimitError, match="over the cap"):
        Keystore.create(path, PASSPHRASE, SECRETS, opslimit=OPSLIMIT_MAX + 1, memlimit=8192)


# -- changing what is stored -----------------------------------------------------------------------


def test_put_remove_and_save_persist_under_the_same_passphrase(store: Keystore, path: Path) -> None:
    before = json.loads(path.read_bytes())
    store.put("device:new", b"\x07" * 32)
    store.remove("identity")
    store.save()
    after = json.loads(path.read_bytes())
    assert after["kdf"]["salt"] != before["kdf"]["salt"]
    assert after["nonce"] != before["nonce"]
    with Keystore.open(path, PASSPHRASE) as reopened:
        assert set(reopened.secrets) == {"device:new", *SECRETS} - {"identity"}
        assert reopened.secrets["device:new"] == b"\x07" * 32


def test_changes_are_not_written_until_saved(store: Keystore, path: Path) -> None:
    store.put("device:new", b"\x07" * 32)
    with Keystore.open(path, PASSPHRASE) as reopened:
        assert "device:new" not in reopened.secrets


def test_removing_an_unknown_secret_is_refused(store: Keystore) -> None:
    with pytest.raises(KeystoreError, match="holds no secret named 'nope'"):
        store.remove("nope")


def test_change_passphrase_retires_the_old_one(store: Keystore, path: Path) -> None:
    store.change_passphrase(b"new passphrase")
    with pytest.raises(WrongPassphraseError):
        Keystore.open(path, PASSPHRASE)
    with Keystore.open(path, b"new passphrase") as reopened:
        assert dict(reopened.secrets) == SECRETS
    store.put("later", b"x")
    store.save()
    with Keystore.open(path, b"new passphrase") as reopened:
        assert reopened.secrets["later"] == b"x"


def test_a_closed_keystore_forgets_and_refuses_to_save(path: Path) -> None:
    store = Keystore.create(path, PASSPHRASE, SECRETS, **FAST)
    store.close()
    assert dict(store.secrets) == {}
    with pytest.raises(KeystoreError, match="has been closed"):
        store.save()


def test_repr_shows_no_secret(store: Keystore) -> None:
    text = repr(store)
    assert SEED.hex() not in text and repr(SEED) not in text and "2 secrets" in text


# -- backup ----------------------------------------------------------------------------------------


def test_backup_round_trips_into_a_new_profile(store: Keystore, tmp_path: Path) -> None:
    armored = store.export_backup(b"backup passphrase")
    assert armored.startswith("-----BEGIN CLOSEDSET KEY BACKUP-----\r\n")
    target = tmp_path / "restored" / KEYSTORE_FILENAME
    with Keystore.import_backup(armored, b"backup passphrase", target, b"new machine") as restored:
        assert dict(restored.secrets) == SECRETS
        assert (restored.opslimit, restored.memlimit) == (OPSLIMIT_MIN, MEMLIMIT_MIN)
    with Keystore.open(target, b"new machine") as reopened:
        assert dict(reopened.secrets) == SECRETS
    assert _mode(target) == 0o600


def test_backup_survives_being_quoted_in_an_email(store: Keystore, tmp_path: Path) -> None:
    armored = store.export_backup(b"backup passphrase")
    quoted = "On Monday you wrote:\n> " + armored.replace("\r\n", "\n> ")
    target = tmp_path / "restored" / KEYSTORE_FILENAME
    with Keystore.import_backup(quoted, b"backup passphrase", target, b"p") as restored:
        assert dict(restored.secrets) == SECRETS


def test_wrong_backup_passphrase_is_refused(store: Keystore, tmp_path: Path) -> None:
    armored = store.export_backup(b"backup passphrase")
    target = tmp_path / "restored" / KEYSTORE_FILENAME
    with pytest.raises(WrongPassphraseError) as info:
        Keystore.import_backup(armored, b"guess", target, b"p")
    assert str(info.value) == "The backup passphrase does not open this backup."
    assert not target.exists()


def test_backup_is_the_keystore_format_armored(store: Keystore) -> None:
    sealed = dearmor(store.export_backup(b"backup passphrase"), KEY_BACKUP)
    assert json.loads(sealed)["format"] == FORMAT


def test_import_refuses_other_armor_and_existing_keystores(store: Keystore, path: Path) -> None:
    with pytest.raises(ArmorError, match="IDENTITY block, not the CLOSEDSET KEY BACKUP"):
        Keystore.import_backup(armor(b"x", IDENTITY), b"b", path.with_name("k2"), b"p")
    armored = store.export_backup(b"backup passphrase")
    with pytest.raises(KeystoreError, match="already exists"):
        Keystore.import_backup(armored, b"backup passphrase", path, b"p")


# -- atomic, private writes ------------------------------------------------------------------------


def test_write_private_file_replaces_atomically_with_mode_0600(tmp_path: Path) -> None:
    target = tmp_path / "contacts.json"
    write_private_file(target, b"one")
    write_private_file(target, b"two")
    assert target.read_bytes() == b"two"
    assert _mode(target) == 0o600
    assert list(tmp_path.iterdir()) == [target]


def test_exclusive_write_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "x"
    write_private_file(target, b"one", exclusive=True)
    with pytest.raises(KeystoreError, match="already exists; refusing to overwrite it"):
        write_private_file(target, b"two", exclusive=True)
    assert target.read_bytes() == b"one"
    assert list(tmp_path.iterdir()) == [target]


def test_failed_replace_leaves_the_old_keystore_and_no_temp_file(
    store: Keystore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    store.put("device:new", b"\x07" * 32)
    with pytest.raises(KeystoreError, match=r"Could not write .*: Input/output error\."):
        store.save()
    assert path.read_bytes() == before
    assert list(path.parent.iterdir()) == [path]


def test_a_crash_before_cleanup_leaves_only_a_private_sealed_temp_file(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = os.urandom(32)
    with Keystore.create(path, PASSPHRASE, {"identity": seed}, **FAST) as store:
        before = path.read_bytes()

        def crash(src: object, dst: object) -> None:
            raise KeyboardInterrupt  # the process dies between writing and renaming

        monkeypatch.setattr(os, "replace", crash)
        monkeypatch.setattr(os, "unlink", lambda *args, **kwargs: None)  # no cleanup runs
        with pytest.raises(KeyboardInterrupt):
            store.change_passphrase(b"new passphrase")
    monkeypatch.undo()
    assert path.read_bytes() == before
    leftovers = [p for p in path.parent.iterdir() if p != path]
    assert len(leftovers) == 1
    assert _mode(leftovers[0]) == 0o600
    assert seed not in leftovers[0].read_bytes()
    assert binascii.hexlify(seed) not in leftovers[0].read_bytes()
    with Keystore.open(path, PASSPHRASE) as reopened:
        assert reopened.secrets["identity"] == seed
