"""A small reader of the WordNet 3.0 database files (Debian's `wordnet-base`, /usr/share/wordnet).

Only what the lexicon build needs: synsets with their lexicographer file, words and hyponym/hypernym links,
and each lemma's senses in WordNet's frequency order. The file format is WordNet's `wndb(5WN)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

WORDNET_DIR = Path("/usr/share/wordnet")
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# The lexicographer files, in lex_filenum order (WordNet's lexnames(5WN)).
LEXNAMES_TEXT = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location noun.motive "
    "noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process noun.quantity "
    "noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change verb.cognition "
    "verb.communication verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
)
LEXNAMES = tuple(LEXNAMES_TEXT.split())


@dataclass
class Synset:
    key: str  # "n:02084071"
    lexname: str
    words: list[str]
    gloss: str
    hypernyms: list[str] = field(default_factory=list)
    hyponyms: list[str] = field(default_factory=list)


@dataclass
class WordNet:
    synsets: dict[str, Synset]
    senses: dict[tuple[str, str], list[str]]  # (pos, lemma) -> synset keys, most frequent sense first
    tagged: dict[tuple[str, str], int]  # (pos, lemma) -> senses of it tagged in WordNet's sense-tagged corpora
    exceptions: dict[tuple[str, str], list[str]]  # (pos, inflected form) -> base forms

    def synset(self, pos: str, lemma: str, sense: int = 1) -> Synset:
        return self.synsets[self.senses[(pos, lemma)][sense - 1]]

    def hyponym_closure(self, root: Synset) -> Iterator[Synset]:
        seen = {root.key}
        stack = [root.key]
        while stack:
            synset = self.synsets[stack.pop()]
            yield synset
            for child in synset.hyponyms:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)

    def lemmas(self, pos: str) -> list[str]:
        return sorted(lemma for p, lemma in self.senses if p == pos)


def read_wordnet(directory: Path = WORDNET_DIR) -> WordNet:
    synsets: dict[str, Synset] = {}
    senses: dict[tuple[str, str], list[str]] = {}
    tagged: dict[tuple[str, str], int] = {}
    exceptions: dict[tuple[str, str], list[str]] = {}
    for pos, name in POS_FILES.items():
        for line in (directory / f"data.{name}").read_text(encoding="utf-8").splitlines():
            if line.startswith("  "):
                continue  # the licence header
            body, _, gloss = line.partition(" | ")
            fields = body.split()
            offset, lex_filenum, n_words = fields[0], int(fields[1]), int(fields[3], 16)
            words = [fields[4 + 2 * i].lower() for i in range(n_words)]
            at = 4 + 2 * n_words
            synset = Synset(f"{pos}:{offset}", LEXNAMES[lex_filenum], words, gloss.strip())
            for i in range(int(fields[at])):
                symbol, target, target_pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                target_key = f"{'a' if target_pos == 's' else target_pos}:{target}"
                if symbol == "@":
                    synset.hypernyms.append(target_key)
                elif symbol == "~":  # instance hyponyms ("~i": people, places) are proper names, left out
                    synset.hyponyms.append(target_key)
            synsets[synset.key] = synset
        for line in (directory / f"index.{name}").read_text(encoding="utf-8").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, synset_cnt, p_cnt = fields[0], int(fields[2]), int(fields[3])
            offsets = fields[4 + p_cnt + 2 : 4 + p_cnt + 2 + synset_cnt]
            senses[(pos, lemma)] = [f"{pos}:{o}" for o in offsets]
            tagged[(pos, lemma)] = int(fields[4 + p_cnt + 1])
        for line in (directory / f"{name}.exc").read_text(encoding="utf-8").splitlines():
            inflected, *bases = line.split()
            exceptions[(pos, inflected)] = bases
    return WordNet(synsets, senses, tagged, exceptions)
