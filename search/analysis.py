"""Whoosh analyzers per language: the same chain serves the index and the query.

A registry keyed by ISO 639-1 code (:data:`ANALYZERS`, :func:`analyzer_for`), with a
language-neutral fallback. Each analyzer is composed with ``|`` from module-level classes whose
state is plain data, because Whoosh pickles the schema (and so every stage) into the index:

1. :class:`CareTokenizer`: ``textnorm.clean`` then ``textnorm.tokenize`` (words for scripts
   written with spaces), with Han, kana and Hangul runs as overlapping bigrams ("乳腺癌" ->
   乳腺, 腺癌; a one-character run stays a unigram). Offsets (``chars=True``) refer to the
   cleaned text. Marks a word written right before an apostrophe, and one right after;
2. :class:`ElisionFilter`: drops the elided article or preposition of fr and it (l', d', qu',
   dell', nell', all'...) - only before an apostrophe, so "hépatite C" keeps its C; the English
   clitics after one ('s, 't, 'll...); and in Turkish every suffix written after an apostrophe
   on a name ("İstanbul'da", "Paris'te");
3. :class:`FoldFilter`: ``textnorm.fold``, the one folding shared with the lexicon: case, and
   accents for Latin script only (unidecode), which also settles Turkish dotted/dotless i
   (İ, I, ı, i -> i) and German ß (-> ss); Greek and Cyrillic case and accents; Arabic-script
   letter variants, tashkeel and the article ال (Arabic and Persian); Hebrew points; katakana
   to hiragana; Devanagari nukta. Russian and Ukrainian are lowercased (:class:`LowerFilter`)
   and stemmed *before* folding, because folding turns й into и, which the Russian stemmer
   needs; every other language is folded first, so that a word typed without its accents
   ("chimiotherapie", "καρκινος") gets the same stem as the word written in full;
4. :class:`StopFilter`: Whoosh's stop list where one exists (da de en es fi fr hu it nl no pt ru
   sv tr), a short list of function words for the other languages, and a small domain list of
   words that carry no signal in this corpus (cancer, tumour, treatment in each language:
   :data:`DOMAIN_STOPWORDS`). All lists are folded like the text. Because the same analyzer
   parses the query, these words are out of the text query path too: "cancer du sein" searches
   the text field for "sein" only (the pathology itself goes through the concept field);
5. :class:`SnowballStem`: PyStemmer's C Snowball stemmers where one exists (ar de el en es fa fr
   hi id it nl pl pt ro ru tr). PyStemmer objects are not picklable and not thread-safe, so the
   class keeps only the algorithm name and makes one stemmer per thread on first use.

zh, ja, ko, he, uk and vi have no stemmer; zh/ja/ko rely on the bigrams.
:data:`ANALYSIS_VERSION` changes whenever any analyzer's output can change (an index built with
another version must be rebuilt); :func:`describe` goes into the index manifest.
"""
from __future__ import annotations

import re
import threading

import Stemmer
from whoosh.analysis import Filter, Tokenizer
from whoosh.analysis.acore import Token as WhooshToken
from whoosh.lang.stopwords import stoplists as _WHOOSH_STOPLISTS

from .textnorm import CJK_SCRIPTS, WORD_PATTERN, clean, fold, has_cjk, tokenize

ANALYSIS_VERSION = "1"

_APOSTROPHES = frozenset("'’ʼ‘`´")
_WORD_IN_CONTEXT = re.compile(rf"([{''.join(sorted(_APOSTROPHES))}]?)({WORD_PATTERN})(?=([{''.join(sorted(_APOSTROPHES))}]?))")


class CareTokenizer(Tokenizer):
    """``textnorm`` tokens, CJK runs as overlapping bigrams."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __hash__(self):
        return hash(self.__class__.__name__)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        t = WhooshToken(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            t.elided = t.suffix = False
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        text = clean(value)
        pos = start_pos
        for piece, start, end, elided, suffix in _pieces(text):
            t.text = piece
            t.boost = 1.0
            t.stopped = False
            t.elided = elided
            t.suffix = suffix
            if keeporiginal:
                t.original = piece
            if positions:
                t.pos = pos
            if chars:
                t.startchar, t.endchar = start_char + start, start_char + end
            pos += 1
            yield t


def _pieces(text: str):
    """(text, start, end, elided, suffix) for each token of cleaned text (elided: an apostrophe
    follows; suffix: one precedes); CJK runs as bigrams."""
    toks = tokenize(text)
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        if tok.script in CJK_SCRIPTS:
            j = i + 1
            while j < n and toks[j].script in CJK_SCRIPTS and toks[j].start == toks[j - 1].end:
                j += 1
            run = toks[i:j]
            if len(run) == 1:
                yield tok.text, tok.start, tok.end, False, False
            else:
                for a, b in zip(run, run[1:]):
                    yield a.text + b.text, a.start, b.end, False, False
            i = j
            continue
        elided = tok.end < len(text) and text[tok.end] in _APOSTROPHES
        suffix = tok.start > 0 and text[tok.start - 1] in _APOSTROPHES
        yield tok.text, tok.start, tok.end, elided, suffix
        i += 1


class ElisionFilter(Filter):
    """Drops elided words written right before an apostrophe (``articles``: l', dell'), clitics
    written right after one (``suffixes``: 's), or every word after one (``any_suffix``)."""

    def __init__(self, articles=(), suffixes=(), any_suffix=False):
        self.articles = frozenset(articles)
        self.suffixes = frozenset(suffixes)
        self.any_suffix = bool(any_suffix)

    def __eq__(self, other):
        return (other.__class__ is self.__class__ and self.articles == other.articles
                and self.suffixes == other.suffixes and self.any_suffix == other.any_suffix)

    def __hash__(self):
        return hash((self.__class__.__name__, self.articles, self.suffixes, self.any_suffix))

    def __call__(self, tokens):
        articles, suffixes, any_suffix = self.articles, self.suffixes, self.any_suffix
        for t in tokens:
            if getattr(t, "elided", False) and t.text.lower() in articles:
                continue
            if getattr(t, "suffix", False) and (any_suffix or t.text.lower() in suffixes):
                continue
            yield t


class _StatelessFilter(Filter):
    """A filter with no settings: equal to any other of its class (Whoosh compares analyzers)."""

    def __eq__(self, other):
        return other.__class__ is self.__class__

    def __hash__(self):
        return hash(self.__class__.__name__)


class FoldFilter(_StatelessFilter):
    """``textnorm.fold``: the matching key of each token (empty keys are dropped)."""

    def __call__(self, tokens):
        for t in tokens:
            key = fold(t.text)
            if key:
                t.text = key
                yield t


class LowerFilter(_StatelessFilter):
    """Lowercase only (for stemmers that need the letters folding would change)."""

    def __call__(self, tokens):
        for t in tokens:
            t.text = t.text.lower()
            yield t


class StopFilter(Filter):
    """Removes (or, with ``removestops=False``, marks) words of a stop list; positions are not
    renumbered, so phrase distances stay those of the text."""

    def __init__(self, stops=()):
        self.stops = frozenset(stops)

    def __eq__(self, other):
        return other.__class__ is self.__class__ and self.stops == other.stops

    def __hash__(self):
        return hash((self.__class__.__name__, self.stops))

    def __call__(self, tokens):
        stops = self.stops
        for t in tokens:
            if t.text in stops:
                if not t.removestops:
                    t.stopped = True
                    yield t
                continue
            t.stopped = False
            yield t


_local = threading.local()


class SnowballStem(Filter):
    """A PyStemmer (C Snowball) stemmer, kept by name so the analyzer pickles; one stemmer object
    per thread, created on first use."""

    is_morph = True

    def __init__(self, algorithm: str):
        if algorithm not in Stemmer.algorithms():
            raise ValueError(f"no Snowball stemmer {algorithm!r}")
        self.algorithm = algorithm

    def __eq__(self, other):
        return other.__class__ is self.__class__ and self.algorithm == other.algorithm

    def __hash__(self):
        return hash((self.__class__.__name__, self.algorithm))

    def __getstate__(self):
        return {"algorithm": self.algorithm}

    def __setstate__(self, state):
        self.algorithm = state["algorithm"]

    def _stemmer(self):
        cache = getattr(_local, "stemmers", None)
        if cache is None:
            cache = _local.stemmers = {}
        stemmer = cache.get(self.algorithm)
        if stemmer is None:
            stemmer = cache[self.algorithm] = Stemmer.Stemmer(self.algorithm)
        return stemmer

    def stem(self, word: str) -> str:
        return self._stemmer().stemWord(word) or word

    def __call__(self, tokens):
        stem = self._stemmer().stemWord
        for t in tokens:
            if not t.stopped and len(t.text) > 2 and not t.text.isdigit():
                t.text = stem(t.text) or t.text
            yield t


# --- language data ----------------------------------------------------------------------------

STEMMERS = {
    "ar": "arabic", "de": "german", "el": "greek", "en": "english", "es": "spanish", "fa": "persian",
    "fr": "french", "hi": "hindi", "id": "indonesian", "it": "italian", "nl": "dutch", "pl": "polish",
    "pt": "portuguese", "ro": "romanian", "ru": "russian", "tr": "turkish",
}
STEM_BEFORE_FOLD = frozenset({"ru", "uk"})

ELISIONS = {
    "fr": {"articles": ("l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu")},
    "it": {"articles": ("l", "d", "c", "m", "t", "s", "v", "un", "dell", "nell", "all", "dall", "sull",
                        "coll", "pell", "quell", "quest", "anch", "dov", "com")},
    "en": {"suffixes": ("s", "t", "d", "m", "ll", "re", "ve")},
    "tr": {"any_suffix": True},
}

# Function words for languages Whoosh has no stop list for (short, certain lists).
FUNCTION_WORDS = {
    "pl": "a ale czy dla do i jak jest lub ma mam mnie moja moje mojego mojej mój na nie o od oraz "
          "po przez przy się to u w we z ze że",
    "ro": "a ai al ale care cu de din este la mea meu nu o pe pentru sau și în un",
    "uk": "або в від для до з й з із мій мого моя на не по при про та у це що і",
    "el": "από για είναι ένα ή η και με μια μου ο οι σε στα στη στην στο στον τα την της το τον του των",
    "ar": "أو إلى ذلك على عن عند في لا ما مع من هذا هذه و",
    "fa": "آن از است این با برای به تا در را که هم و یا",
    "he": "או אל אני גם זה זו יש כי לא על עם של את",
    "hi": "और का की के को पर भी मेरा मेरी मेरे में या लिए से है हैं",
    "id": "adalah dan dari dengan di ini itu ke pada saya untuk yang atau",
}

# Words that occur in nearly every offer and so carry no signal for ranking (the pathology goes
# through the concept field). Kept out of the index and, by the same analyzer, out of the query.
DOMAIN_STOPWORDS = {
    "fr": "cancer cancers tumeur tumeurs traitement traitements",
    "en": "cancer cancers tumour tumours tumor tumors treatment treatments",
    "es": "cáncer cánceres tumor tumores tratamiento tratamientos",
    "de": "krebs tumor tumoren behandlung behandlungen",
    "it": "cancro cancri tumore tumori trattamento trattamenti",
    "pt": "câncer cânceres cancro cancros tumor tumores tratamento tratamentos",
    "nl": "kanker tumor tumoren behandeling behandelingen",
    "pl": "rak raka nowotwór nowotwory nowotworu guz guza leczenie leczenia",
    "ro": "cancer cancerul tumoră tumori tratament tratamentul",
    "tr": "kanser kanseri tümör tümörü tedavi tedavisi",
    "ru": "рак рака раком опухоль опухоли лечение лечения",
    "uk": "рак раку пухлина пухлини лікування",
    "el": "καρκίνος καρκίνου όγκος όγκου θεραπεία",
    "ar": "سرطان ورم أورام علاج",
    "fa": "سرطان تومور درمان",
    "he": "סרטן גידול טיפול",
    "hi": "कैंसर ट्यूमर इलाज उपचार",
    "id": "kanker tumor pengobatan perawatan",
}

NEUTRAL = "neutral"


def _fold_words(words, lang: str) -> set[str]:
    out = set()
    for w in words:
        key = w.lower() if lang in STEM_BEFORE_FOLD else fold(w)
        if key:
            out.add(key)
    return out


def _single_consonant(word: str) -> bool:
    return len(word) == 1 and word.isascii() and word.isalpha() and word.lower() not in "aeiouy"


def stopwords_for(lang: str) -> frozenset[str]:
    """The (folded) stop list the analyzer of ``lang`` applies. Single Latin consonants of
    Whoosh's lists (the elided l' d' c' s' t') are left out: elision removes those, and alone they
    are meaningful here (hepatitis C, vitamin D, T-cell lymphoma)."""
    whoosh_words = [w for w in _WHOOSH_STOPLISTS.get(lang, ()) if not _single_consonant(w)]
    words = set(_fold_words(whoosh_words, lang))
    words |= _fold_words(FUNCTION_WORDS.get(lang, "").split(), lang)
    if lang == NEUTRAL:
        for lst in DOMAIN_STOPWORDS.values():
            words |= _fold_words(lst.split(), lang)
    else:
        words |= _fold_words(DOMAIN_STOPWORDS.get(lang, "").split(), lang)
    return frozenset(words)


def _build(lang: str):
    chain = CareTokenizer()
    if lang in ELISIONS:
        chain = chain | ElisionFilter(**ELISIONS[lang])
    stops = StopFilter(stopwords_for(lang))
    if lang in STEM_BEFORE_FOLD:
        chain = chain | LowerFilter() | stops
        if lang in STEMMERS:
            chain = chain | SnowballStem(STEMMERS[lang])
        return chain | FoldFilter()
    chain = chain | FoldFilter() | stops
    if lang in STEMMERS:
        chain = chain | SnowballStem(STEMMERS[lang])
    return chain


LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl", "pl", "ro", "tr", "ru",
             "uk", "ar", "fa", "he", "zh", "ja", "ko", "vi", "hi", "el", "id")

#: Language code -> Whoosh analyzer; ``"neutral"`` is the fallback (tokenize, fold, domain stops).
ANALYZERS = {lang: _build(lang) for lang in (*LANGUAGES, NEUTRAL)}


def analyzer_for(lang: str | None):
    """The analyzer of a language ("pt-BR" -> pt), or the language-neutral one."""
    if lang:
        base = lang.replace("_", "-").split("-")[0].lower()
        found = ANALYZERS.get(base)
        if found is not None:
            return found
    return ANALYZERS[NEUTRAL]


_INDEX_MEMO: dict[int, dict] = {}  # id(analyzer) of ANALYZERS -> (word, elided, suffix) -> term or None
_INDEX_MEMO_MAX = 500_000


def index_terms(text: str, lang: str | None) -> list[str]:
    """The terms ``analyzer_for(lang)`` indexes for ``text``, in order: what Whoosh makes of the
    text in index mode, handed to it as a list (which it takes as already analysed). The filters
    after the tokenizer work on one word at a time, so each distinct (word, elided, suffix) goes
    through them once and its term is kept; words are read without making a token object for
    each. Building an index spent a third of its time in the analyzers."""
    analyzer = analyzer_for(lang)
    memo = _INDEX_MEMO.setdefault(id(analyzer), {})  # ANALYZERS live as long as the module
    if len(memo) > _INDEX_MEMO_MAX:
        memo.clear()
    filters = analyzer.items[1:]
    out = []
    text = clean(text)
    pieces = ((p, e, s) for p, _, _, e, s in _pieces(text)) if has_cjk(text) else _word_pieces(text)
    for key in pieces:
        term = memo.get(key, _UNSEEN)
        if term is _UNSEEN:
            t = WhooshToken(removestops=True, mode="index")
            t.text, t.elided, t.suffix, t.boost = key[0], key[1], key[2], 1.0
            tokens = iter([t])
            for f in filters:
                tokens = f(tokens)
            kept = [k.text for k in tokens]  # no filter makes two tokens of one
            term = memo[key] = kept[0] if kept else None
        if term is not None:
            out.append(term)
    return out


def _word_pieces(text: str) -> list[tuple[str, bool, bool]]:
    """(word, elided, suffix) of cleaned text without Han, kana or Hangul: ``_pieces`` without
    offsets, in one ``findall`` (an apostrophe right before a word, one right after)."""
    return [(word, after != "", before != "") for before, word, after in _WORD_IN_CONTEXT.findall(text)]


_UNSEEN = object()


def analyze(text: str, lang: str | None = None, mode: str = "query") -> list[str]:
    """The terms ``analyzer_for(lang)`` makes of ``text`` (stop words removed)."""
    return [t.text for t in analyzer_for(lang)(text, mode=mode)]


def describe() -> dict:
    """What built the index, for its manifest: version, libraries and each analyzer's stages."""
    from importlib.metadata import PackageNotFoundError, version

    import whoosh

    try:
        pystemmer = version("PyStemmer")
    except PackageNotFoundError:  # pragma: no cover - installed without metadata
        pystemmer = "unknown"
    out = {"version": ANALYSIS_VERSION, "whoosh": whoosh.versionstring(), "pystemmer": pystemmer,
           "analyzers": {}}
    for lang, analyzer in ANALYZERS.items():
        stages = []
        for item in analyzer.items:
            name = type(item).__name__
            if isinstance(item, SnowballStem):
                name += f"({item.algorithm})"
            elif isinstance(item, StopFilter):
                name += f"({len(item.stops)})"
            stages.append(name)
        out["analyzers"][lang] = {"name": f"carematch-{lang}-v{ANALYSIS_VERSION}", "stages": stages}
    return out
