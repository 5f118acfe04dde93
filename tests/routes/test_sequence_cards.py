"""The sequence list's cards are rendered once per distinct content (app/fragments.py): a card
kept from an earlier view must be exactly what a fresh render gives, change when its row
changes, and escape what it prints like any template."""

import re

import pytest

from app.main import make_templates
from app.routes.sequences import Card, Suspicion
from tests.support.ckplus import SeqSpec, import_specs
from tests.support.web import login

CARD = Card(id=7, queue="label=happy&sort=-onset", name="S005_001", status="mine",
            status_title="Reviewed by me", subject="S005", code="001", frame_count=12,
            apex_frame_id=40, original="happy", label="sadness", label_changed=True,
            disagreement=False, label_source="reviewers", onset=3, reviewers=2,
            suspect=Suspicion("the model gives 'sadness' 0.91", 1, "sadness"))


def _seq_card():
    return make_templates().env.globals["seq_card"]


def test_a_card_is_rendered_once_and_kept_for_the_same_content():
    seq_card = _seq_card()
    first = seq_card(CARD)
    assert seq_card.cache_info().misses == 1
    again = seq_card(CARD._replace())  # an equal card built anew: the kept render
    assert again == first and seq_card.cache_info().hits == 1
    assert 'href="/sequences/7?queue=label%3Dhappy%26sort%3D-onset"' in first
    assert "suspect #1: model says sadness" in first and "2 reviewers" in first
    assert 'class="chip chip-sadness changed"' in first


@pytest.mark.parametrize("field, value, shows", [
    ("status_title", "Excluded", ">Excluded<"), ("onset", 9, "onset 9"),
    ("reviewers", 1, ">1 reviewer<"), ("suspect", None, None), ("queue", "", None)])
def test_any_changed_field_renders_a_new_card(field, value, shows):
    seq_card = _seq_card()
    before, after = seq_card(CARD), seq_card(CARD._replace(**{field: value}))
    assert after != before and seq_card.cache_info().misses == 2
    if shows:
        assert shows in after and shows not in before
    if field == "suspect":
        assert "suspect-tag" not in after
    if field == "queue":
        assert 'href="/sequences/7"' in after


def test_card_text_is_escaped():
    html = str(_seq_card()(CARD._replace(subject='<img src=x onerror="alert(1)">')))
    assert "<img src=x" not in html and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


def test_the_list_shows_a_sequence_s_new_state_after_a_save(client, make_user,
                                                           session_factory, tmp_path):
    ids = import_specs(session_factory, tmp_path / "ck", [SeqSpec("S005", "001", label=5.0)])
    make_user("rev1")
    token = login(client, "rev1")
    sequence_id = next(iter(ids.values()))

    def card() -> str:
        page = client.get("/sequences").text
        return re.search(r'<a class="seq-card.*?</a>', page, re.S)[0]

    before = card()
    assert "Unreviewed" in before and "no onset" in before and card() == before
    saved = client.post(f"/sequences/{sequence_id}/review", follow_redirects=False, data={
        "csrf_token": token, "version": "0", "label": "3", "onset_frame": "2"})
    assert saved.status_code == 303, saved.text
    after = card()
    assert "Reviewed by me" in after and "onset 2" in after and "1 reviewer" in after
    assert 'class="chip chip-disgust changed">disgust<' in after  # CK+ said 5, happy
