from smartapp.lib.env import env_bool, env_int, env_list, env_str


def test_it_reads_a_secret_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    monkeypatch.setenv("SOME_SECRET", "from-env")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env_str("SOME_SECRET") == "from-file"


def test_it_falls_back_to_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("UNSET_FLAG", raising=False)
    assert env_bool("UNSET_FLAG", True) is True
    assert env_int("UNSET_FLAG", 7) == 7
    assert env_list("UNSET_FLAG", "a, b,") == ["a", "b"]


def test_it_understands_common_spellings_of_true_and_false(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "0")
    assert env_bool("FLAG", True) is False
