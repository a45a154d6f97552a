"""The tokenizer of the memory index: one function for documents and queries.

Steps, in order:

1. NFKC (full-width letters, ligatures and compatibility forms become plain
   ones), then case folding (``Straße`` -> ``strasse``).
2. Accents are stripped: NFKD, every combining mark (category ``Mn``) except
   the Japanese voicing marks is dropped, then NFC again (so Hangul
   syllables are recomposed). ``Café`` and ``CAFE`` give the same token;
   ``が`` stays ``が``.
3. The text is split on everything that is not a letter or a digit
   (underscores split too: ``order_id`` -> ``order``, ``id``).
4. Runs of CJK characters (Han, kana, Hangul) are written without spaces, so
   each such run yields its character bigrams and its single ideographs and
   Hangul syllables (not single kana, which are mostly grammar):
   ``東京タワー`` -> ``東京``, ``京タ``, ``タワ``, ``ワー``, ``東``, ``京``. Latin text
   inside a CJK run is a word of its own (``私はpythonを`` -> ``python``).
5. A short stop word list (English function words, the pieces apostrophes
   leave, as in ``user's`` and ``don't``, and single-character CJK
   particles) is dropped, as are tokens longer than 64 characters.
6. Plain ASCII words get a light plural stemmer (Harman's S-stemmer:
   ``flights`` -> ``flight``, ``cities`` -> ``city``).

Every token is a non-empty run of letters and digits: it never holds
whitespace, ``:``, ``{`` or ``}``, so it can be used as the last component of
a key and be stored space-separated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

__all__ = ["MAX_TOKEN_CHARS", "STOP_WORDS", "query_terms", "tokenize"]

#: Longer tokens (base64 blobs, hashes) are dropped, not indexed.
MAX_TOKEN_CHARS = 64

_STOP_WORD_TEXT = """
    a an and are as at be been but by can could did do does for from had has
    have he her him his how i if in into is it its me my no not of on or our
    she so than that the their them then there these they this those to us
    was we were what when where which who whom why will with would you your
    s t d m ll re ve
    の は が を に へ で と も や か ね よ な た て だ し
    的 了 是 在 和 也 就 都 而 及 与 着 吗 呢 吧
    이 가 은 는 을 를 에 의 도
"""
#: Words too common to help ranking; dropped from documents and queries.
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())

# Letters and digits; "_" is a word character to `re` but splits here.
_WORD = re.compile(r"[^\W_]+")
# Japanese voicing marks: dropping them would turn が into か.
_KEPT_MARKS = frozenset("\u3099\u309a")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # Hiragana, Katakana
        or 0x31F0 <= code <= 0x31FF  # Katakana phonetic extensions
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= code <= 0x3134F  # CJK extensions B-G
        or 0x1100 <= code <= 0x11FF  # Hangul Jamo
        or 0x3130 <= code <= 0x318F  # Hangul compatibility Jamo
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
    )


def _normalize(text: str) -> str:
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(
        c for c in decomposed if c in _KEPT_MARKS or unicodedata.category(c) != "Mn"
    )
    return unicodedata.normalize("NFC", stripped)


def _stem(word: str) -> str:
    """Harman's S-stemmer, for plain ASCII words of four letters or more."""
    if len(word) < 4 or not word.isascii() or not word.isalpha():
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def _is_kana(char: str) -> bool:
    code = ord(char)
    return 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF


def _cjk_tokens(run: str) -> Iterator[str]:
    if len(run) == 1:
        yield run
        return
    for i in range(len(run) - 1):
        yield run[i : i + 2]
    # Single ideographs and Hangul syllables are words on their own (猫, 물);
    # single kana are mostly grammar and only add noise.
    for char in run:
        if not _is_kana(char):
            yield char


def _split_scripts(word: str) -> Iterator[tuple[bool, str]]:
    """Splits a word into maximal CJK / non-CJK runs."""
    if word.isascii():
        yield False, word
        return
    start = 0
    cjk = _is_cjk(word[0])
    for i in range(1, len(word)):
        now = _is_cjk(word[i])
        if now != cjk:
            yield cjk, word[start:i]
            start, cjk = i, now
    yield cjk, word[start:]


def _raw_tokens(text: str) -> Iterator[str]:
    for word in _WORD.findall(_normalize(text)):
        for cjk, run in _split_scripts(word):
            if cjk:
                yield from _cjk_tokens(run)
            else:
                yield run


def tokenize(text: str, *, limit: int | None = None) -> list[str]:
    """Splits text into index terms, repeats included, in text order.

    Args:
        text: Any text.
        limit: Keep at most this many tokens (the first ones).

    Returns:
        The terms; their count is the document length BM25 uses.
    """
    tokens: list[str] = []
    for token in _raw_tokens(text):
        if len(token) > MAX_TOKEN_CHARS or token in STOP_WORDS:
            continue
        tokens.append(_stem(token))
        if limit is not None and len(tokens) >= limit:
            break
    return tokens


def query_terms(query: str, *, limit: int = 64) -> list[str]:
    """Returns the distinct terms of a query, in first-seen order.

    Args:
        query: The search text.
        limit: Keep at most this many distinct terms.
    """
    return list(dict.fromkeys(tokenize(query)))[:limit]
