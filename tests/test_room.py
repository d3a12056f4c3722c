"""For a room: the share link names an address other laptops can reach, and says when it cannot."""

from __future__ import annotations

from ui.presenter import share_base


def test_the_operator_address_wins():
    assert share_base("http://localhost:8501/", "localhost", 8501, "http://10.0.0.5:8501/") == \
        ("http://10.0.0.5:8501", False)


def test_streamlit_server_address_is_used_when_it_names_a_host():
    assert share_base("http://localhost:8501/", "lab-pc.school.example", 8501) == \
        ("http://lab-pc.school.example:8501", False)


def test_a_localhost_link_is_flagged():
    base, local = share_base("http://localhost:8765/train", "localhost", 8765)
    assert base == "http://localhost:8765" and local
    assert share_base("http://192.168.1.20:8501/", "localhost", 8501) == ("http://192.168.1.20:8501", False)


def test_the_deploy_button_is_hidden():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("minimal", "viewer")
