"""Text measures the instruction checkers share: words, sentences, language.

No run-time downloads: IFEval counts sentences with NLTK's punkt model, a data
download; rewardkit uses the rule below instead, and `langdetect` (which ships
its language profiles) for languages.

Sentence rule: a sentence ends at a run of ".", "!" or "?" (closing quotes or
brackets may follow) that is followed by whitespace or the end of the text, and
at a paragraph break (a blank line); except that a single "." after a known
abbreviation (Mr., Dr., e.g., etc., ...) or a single letter (an initial) does
not end one, nor does any terminator followed by a lower-case letter (punkt's
orthographic heuristic). Text without a letter or digit is not a sentence.
"""

from __future__ import annotations

import re
import threading

ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "inc", "ltd", "co", "no",
    "fig", "mt", "capt", "lt", "col", "gen", "gov", "sen", "rep", "dept", "approx", "ph.d", "u.s", "u.k", "a.m", "p.m",
})
_CLOSERS = "\"'”’)]"
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w+")
_HYPHENATED_WORD = re.compile(r"\w+(?:-\w+)*")
_NEXT_CHAR = re.compile(r"\s*(\S)")


def _is_abbreviation(block: str, start: int, stop: int) -> bool:
    """Whether the word ending at `stop` (just before a ".") is a known abbreviation or an initial."""
    begin = stop
    while begin > start and not block[begin - 1].isspace():  # back to the previous space only: linear overall
        begin -= 1
    word = block[begin:stop].lower().lstrip("(\"'“‘")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, by the rule in this module's docstring."""
    sentences: list[str] = []
    for block in _PARAGRAPH_BREAK.split(text):
        start = 0
        for end in _END.finditer(block):
            if end.group().rstrip(_CLOSERS) == "." and _is_abbreviation(block, start, end.start()):
                continue
            following = _NEXT_CHAR.match(block, end.end())
            if following and following.group(1).islower():
                continue
            sentences.append(block[start:end.end()])
            start = end.end()
        sentences.append(block[start:])
    return [s.strip() for s in sentences if _WORD.search(s)]


def count_sentences(text: str) -> int:
    return len(split_sentences(text))


def count_words(text: str) -> int:
    """Runs of letters, digits and underscores, as IFEval's RegexpTokenizer(r"\\w+") counts them."""
    return len(_WORD.findall(text))


def words_with_hyphens(text: str) -> list[str]:
    """Words, a hyphenated word counting as one (as NLTK's word tokenizer keeps them); an apostrophe splits."""
    return _HYPHENATED_WORD.findall(text)


_LANGDETECT_LOCK = threading.Lock()


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code langdetect finds for `text`, or None when it finds none (no letters, ...)."""
    import langdetect  # lazily: only processes that check languages load its profiles
    from langdetect.lang_detect_exception import LangDetectException

    with _LANGDETECT_LOCK:
        langdetect.DetectorFactory.seed = 0  # langdetect samples at random; a reward must be deterministic
        try:
            return str(langdetect.detect(text))
        except LangDetectException:
            return None
