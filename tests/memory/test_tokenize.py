# ruff: noqa: RUF001 (full-width and CJK punctuation are the test data)
"""The tokenizer: one function for documents and queries (no server)."""

from __future__ import annotations

import random
import re

import pytest

from adk_redis_session._tokenize import MAX_TOKEN_CHARS, query_terms, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café CAFE cafe", ["cafe", "cafe", "cafe"]),
        ("Straße", ["strasse"]),
        ("ＦＵＬＬ ｗｉｄｔｈ", ["full", "width"]),
        ("naïve résumé Zürich İstanbul", ["naive", "resume", "zurich", "istanbul"]),
        ("order_id=A-17", ["order", "id", "17"]),
        ("e-mail: bob@example.com", ["e", "mail", "bob", "example", "com"]),
    ],
)
def test_normalizes_case_accents_and_width(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_chinese_gives_bigrams_and_single_ideographs() -> None:
    assert tokenize("我的猫叫小白") == [
        "我的", "的猫", "猫叫", "叫小", "小白", "我", "猫", "叫", "小", "白",
    ]  # fmt: skip


def test_japanese_kana_are_bigrams_only_and_keep_voicing_marks() -> None:
    assert tokenize("東京タワー") == ["東京", "京タ", "タワ", "ワー", "東", "京"]
    assert tokenize("がっこう") != tokenize("かっこう")
    assert tokenize("ﾀﾜｰ") == tokenize("タワー")  # half-width katakana


def test_a_single_cjk_character_is_a_token() -> None:
    assert tokenize("猫") == ["猫"]
    assert tokenize("a 猫 b") == ["猫", "b"]


def test_korean_hangul_is_bigrammed_and_recomposed() -> None:
    assert tokenize("고양이") == ["고양", "양이", "고", "양"]  # 이: a particle


def test_latin_inside_cjk_is_its_own_word() -> None:
    assert "python" in tokenize("私はPythonを使う")
    assert "thon" not in tokenize("私はPythonを使う")


def test_stop_words_and_apostrophe_pieces_are_dropped() -> None:
    assert tokenize("What is the name of the user's cat? I don't know") == [
        "name",
        "user",
        "cat",
        "don",
        "know",
    ]
    assert tokenize("the of and") == []


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("flights", "flight"),
        ("cities", "city"),
        ("boxes", "boxe"),
        ("glass", "glass"),
        ("status", "status"),
        ("was", "was"),  # too short (and a stop word anyway)
        ("trees", "tree"),
        ("vélos", "velo"),
    ],
)
def test_light_plural_stemming(word: str, stem: str) -> None:
    assert tokenize(word) in ([stem], [])


def test_long_tokens_are_dropped_and_limit_applies() -> None:
    assert tokenize("x" * (MAX_TOKEN_CHARS + 1) + " ok") == ["ok"]
    assert tokenize("x" * MAX_TOKEN_CHARS) == ["x" * MAX_TOKEN_CHARS]
    assert tokenize("one two three four", limit=2) == ["one", "two"]


def test_query_terms_are_distinct_in_first_seen_order() -> None:
    assert query_terms("Tea, tea and TEA with milk") == ["tea", "milk"]
    assert query_terms(" ".join(f"w{i}" for i in range(100)), limit=3) == [
        "w0",
        "w1",
        "w2",
    ]
    assert query_terms("?!") == []


def test_tokens_are_safe_key_components() -> None:
    rng = random.Random(4)
    alphabet = "aZé猫タ한_:{}*?[] \t\n%|\\\"'-.,😀\u0301\u3099"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        for token in tokenize(text):
            assert token
            assert re.fullmatch(r"[^\W_]+", token), (text, token)
