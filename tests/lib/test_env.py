"""Settings from the environment: every reader takes NAME_FILE, and refuses what it cannot read."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from smartapp.lib.env import FALSE, TRUE, env_bool, env_float, env_int, env_list, env_str, env_url


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    monkeypatch.setenv("SOME_SECRET", "from-env")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env_str("SOME_SECRET") == "from-file"


@pytest.mark.parametrize(
    ("reader", "text", "value"),
    [
        (env_bool, "on\n", True),
        (env_int, " 42\n", 42),
        (env_float, "0.5", 0.5),
        (env_list, "a, b", ["a", "b"]),
        (env_url, "redis://r:6379/1\n", "redis://r:6379/1"),
    ],
)
def test_every_reader_takes_its_value_from_NAME_FILE(monkeypatch, tmp_path, reader, text, value):
    path = tmp_path / "value"
    path.write_text(text)
    monkeypatch.setenv("SOME_SETTING", "not this")
    monkeypatch.setenv("SOME_SETTING_FILE", str(path))

    assert (reader("SOME_SETTING") if reader is not env_int and reader is not env_float else reader("SOME_SETTING", 0)) == value  # fmt: skip


def test_a_missing_secret_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SOME_SECRET_FILE", str(tmp_path / "absent"))

    with pytest.raises(ImproperlyConfigured, match="SOME_SECRET_FILE"):
        env_str("SOME_SECRET")


def test_it_falls_back_to_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("UNSET_FLAG", raising=False)
    assert env_bool("UNSET_FLAG", True) is True
    assert env_int("UNSET_FLAG", 7) == 7
    assert env_float("UNSET_FLAG", 1.5) == 1.5
    assert env_list("UNSET_FLAG", "a, b,") == ["a", "b"]
    assert env_url("UNSET_FLAG") == ""


def test_it_understands_common_spellings_of_true_and_false(monkeypatch):
    monkeypatch.setenv("FLAG", "Yes")
    assert env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", True) is False


@given(
    word=st.text(
        st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        min_size=1,
        max_size=12,
    ).filter(lambda w: w.strip() and w.strip().lower() not in TRUE | FALSE)
)
def test_anything_else_is_not_a_yes_or_no_and_says_which_variable(word):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SECURE_COOKIES", word)
        with pytest.raises(ImproperlyConfigured, match="SECURE_COOKIES"):
            env_bool("SECURE_COOKIES")


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (lambda: env_int("N", 1), "ten"),
        (lambda: env_int("N", 1), "-3"),
        (lambda: env_float("N", 1.0), "nan"),
        (lambda: env_float("N", 1.0), "-1"),
        (lambda: env_url("N"), "not a url"),
        (lambda: env_url("N", schemes=("redis",)), "http://x/"),
        (lambda: env_url("N"), "redis://host:port/"),
    ],
)
def test_numbers_and_urls_it_cannot_read_stop_the_process(monkeypatch, reader, value):
    monkeypatch.setenv("N", value)

    with pytest.raises(ImproperlyConfigured, match="N"):
        reader()


def test_a_typo_in_a_setting_stops_django_from_starting():
    env = {"DJANGO_DEBUG": "1", "SECURE_COOKIES": "ture", "PATH": "/usr/bin:/bin"}
    started = subprocess.run(
        [sys.executable, "-c", "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'smartapp.settings'); django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip

    assert started.returncode != 0 and "SECURE_COOKIES='ture'" in started.stderr
