"""``import-reference phones``: a Kaldi lang dir (the published lang_nosp layout) becomes a phone tokenizer
option whose ids are the ones the published LM was trained on, and the LM import translates through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uniaudio.errors import UserFacingError

# A miniature lang_nosp: phones.txt (Kaldi "SYMBOL ID", <eps> and disambiguation symbols included, as the
# published phone table is read in file order), phones/align_lexicon.txt ("WORD WORD PHONES"), oov.txt.
PHONES = ["<eps>", "SIL", "SIL_B", "SIL_E", "SIL_I", "SIL_S", "SPN", "SPN_S", "HH_B", "AH0_I", "L_I", "OW1_E",
          "DH_B", "EH1_I", "R_E", "N_B", "OW1_I", "AH0_S", "#0", "#1"]
ALIGN = ["HELLO HELLO HH_B AH0_I L_I OW1_E", "THERE THERE DH_B EH1_I R_E", "A A AH0_S", "<UNK> <UNK> SPN_S"]


def lang_dir(root: Path) -> Path:
    d = root / "lang_nosp"
    (d / "phones").mkdir(parents=True)
    (d / "phones.txt").write_text("".join(f"{p} {i}\n" for i, p in enumerate(PHONES)))
    (d / "phones" / "align_lexicon.txt").write_text("\n".join(ALIGN) + "\n")
    (d / "oov.txt").write_text("<UNK>\n")
    return d


def published_ids(symbols: list[str]) -> list[int]:
    """What the published phone tokenizer gives: index in the table (file order), <UNK> appended."""
    return [PHONES.index(s) for s in symbols]


def test_tokenization_produces_the_published_ids(tmp_path):
    from uniaudio.cli import main
    from uniaudio.tokenizers.phone_table import published_to_local
    from uniaudio.tokenizers.phones import PhoneConfig, PhoneTokenizer

    out = tmp_path / "phones"
    assert main(["import-reference", "phones", str(lang_dir(tmp_path)), "--out", str(out)]) == 0
    tok = PhoneTokenizer(PhoneConfig(backend="lexicon", lexicon=str(out), inventory=str(out / "phones.json")))
    seq = tok.tokenize("Hello, there a zorgle.")
    assert seq.symbols == ("SIL", "HH_B", "AH0_I", "L_I", "OW1_E", "SIL", "DH_B", "EH1_I", "R_E", "AH0_S", "SPN_S", "SIL")
    assert seq.n_words == 4 and seq.n_oov_words == 1 and seq.n_unk == 0
    # local ids here -> published ids through the import's own map: exactly the published tokenizer's ids
    to_local = published_to_local(out)
    back = {local: pub for pub, local in enumerate(to_local)}
    assert [back[int(i)] for i in seq.ids] == published_ids(list(seq.symbols))
    assert to_local[len(PHONES)] == 0  # the published <UNK> (appended last) is <unk> here


def test_plain_lexicon_gets_position_suffixes(tmp_path):
    from uniaudio.tokenizers.phone_table import import_lang_dir

    d = lang_dir(tmp_path)
    (d / "phones" / "align_lexicon.txt").unlink()
    (d / "lexicon.txt").write_text("HELLO HH AH0 L OW1\nA AH0\n<UNK> SPN\n")
    out = import_lang_dir(d, tmp_path / "phones")
    lines = (out / "lexicon.txt").read_text().splitlines()
    assert "HELLO HH_B AH0_I L_I OW1_E" in lines and "A AH0_S" in lines and "<UNK> SPN" in lines


def test_lexicon_phone_outside_the_table_is_named(tmp_path):
    from uniaudio.tokenizers.phone_table import import_lang_dir

    d = lang_dir(tmp_path)
    (d / "phones" / "align_lexicon.txt").write_text("CAT CAT K_B AE1_I T_E\n")
    with pytest.raises(UserFacingError, match=r"align_lexicon.txt:1: phone 'K_B' of 'CAT' is not in the phone table"):
        import_lang_dir(d, tmp_path / "phones")


def test_lm_import_translates_phones_through_the_table(tmp_path, mlflow_uri):
    """A published LM whose phone ids are those of this table: <phone_i> -> the table's phone i here."""
    import torch
    import yaml

    from tests.reference.ref_helpers import published_exp
    from uniaudio.reference.lm_import import import_lm
    from uniaudio.tokenizers.phone_table import import_lang_dir
    from uniaudio.vocab import load_vocab

    phones = import_lang_dir(lang_dir(tmp_path), tmp_path / "phones")
    exp = published_exp(tmp_path / "exp")
    args = yaml.safe_load((exp / "config.yaml").read_text())
    names = args["token_list"]
    # the golden LM has 110 phone ids; a table of 21 (20 + <UNK>) does not fit it
    with pytest.raises(UserFacingError, match="the token_list has 110 phones but the imported phone table has 21"):
        import_lm(exp, tmp_path / "bad", phones=phones, tracking_uri=mlflow_uri)
    # keep the first 21 phone rows: the token list and the weights shrink together
    def dropped(n: str) -> bool:
        return n.startswith("<phone_") and n[7:-1].isdigit() and int(n[7:-1]) >= len(PHONES) + 1

    keep = [i for i, n in enumerate(names) if not dropped(n)]
    args["token_list"] = [names[i] for i in keep]
    (exp / "config.yaml").write_text(yaml.safe_dump(args))
    ck = torch.load(exp / "ep1.checkpoint", weights_only=False)  # our own file, written just above
    for key in ("module.g_emb.weight", "module.l_emb.weight", "module.lm_head.weight"):
        ck["model"][key] = ck["model"][key][keep].clone()
    torch.save({"model": ck["model"]}, exp / "ep1.checkpoint")
    result = import_lm(exp, tmp_path / "out", phones=phones, tracking_uri=mlflow_uri)
    v = load_vocab()
    id_map = {int(k): val for k, val in result.report["id_map"].items()}
    by_name = {args["token_list"][i]: here for i, here in id_map.items()}
    inventory = json.loads((phones / "phones.json").read_text())
    assert by_name["<phone_11>"] == v.range("phone").start + inventory.index("OW1_E")
    assert by_name[f"<phone_{len(PHONES)}>"] == v.range("phone").start  # published <UNK> -> <unk>
    lineage = json.loads((tmp_path / "out" / "lineage.json").read_text())
    assert lineage["tokenizers"]["phone"] == {"backend": "lexicon", "lexicon": str(phones.resolve()),
                                              "inventory": str(phones.resolve() / "phones.json"), "dedup": True}
