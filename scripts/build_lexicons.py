"""Regenerate the WordNet-derived cue lists of the local teacher: core/routers/lexicons/wordnet.txt and verbs.txt.

Run by hand, from the repository root, where Debian's `wordnet-base` is installed (WordNet 3.0 in
/usr/share/wordnet):

    python scripts/build_lexicons.py            # writes the two files
    python scripts/build_lexicons.py --check    # exit 1 if the committed files differ from a fresh build

The output is committed; nothing is read from WordNet at run time. Each section of wordnet.txt is one
cue category filled from named WordNet synsets: every word of the hyponym closure of the roots whose
*first* (most frequent) sense lies in that closure, so a word is only taken in its usual meaning
("bass" the low voice, not the fish; "colour" the hue, not a timbre). Words the hand-written lists
(visual.txt, audio.txt, transcription.txt, metadata.txt) already file somewhere keep their hand-written
category. verbs.txt holds every one-word WordNet verb, which the teacher uses to tell a character in a
scene ("Anna sits down", "Ben tells Anna") from a name in a catalogue query ("films with Anna Karina").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from wordnet import WORDNET_DIR, Synset, WordNet, read_wordnet  # noqa: E402

from core.routers.lexicon import CUE_FILES, LEXICON_DIR, _read_sections, _tokens_of, stem  # noqa: E402

WORDNET_FILE = "wordnet.txt"
VERBS_FILE = "verbs.txt"
VEHICLES_FILE = "vehicles.txt"
# Machines that move people or goods make their sound as they go: what one does is heard ("a tractor idling").
VEHICLE_ROOTS = [
    ("n", "self-propelled_vehicle", 1),
    ("n", "aircraft", 1),
    ("n", "train", 1),
    ("n", "ship", 1),
    ("n", "locomotive", 1),
    ("n", "motorboat", 1),
    ("n", "tramcar", 1),
]
MIN_LENGTH = 3
# Short verbs of speech are mostly other words first ("out", "air", "gab"): a generated speech verb has 4+ letters.
MIN_LENGTH_OF = {"speech verb": 4}

# (category, [(pos, lemma, sense), ...] roots, [(pos, lemma, sense), ...] subtrees left out).
# The sense numbers are WordNet 3.0's; the gloss of each root is written into the file's header.
SECTIONS: list[tuple[str, list[tuple[str, str, int]], list[tuple[str, str, int]]]] = [
    ("sound event", [("v", "sound", 2), ("v", "make_noise", 1), ("n", "noise", 1), ("n", "sound", 2)], []),
    (
        "vocal sound",
        [
            ("v", "utter", 2),
            ("v", "cry", 2),
            ("v", "laugh", 1),
            ("v", "breathe", 1),
            ("v", "cough", 1),
            ("v", "sneeze", 1),
            ("v", "snore", 1),
            ("v", "burp", 1),
        ],
        [("v", "talk", 1), ("v", "say", 1)],
    ),
    ("instrument", [("n", "musical_instrument", 1)], []),
    (
        "music",
        [
            ("n", "musical_composition", 1),
            ("n", "melody", 1),
            ("n", "rhythm", 1),
            ("n", "tempo", 1),
            ("n", "chord", 1),
            ("n", "musical_notation", 1),
            ("n", "harmony", 1),
            ("v", "play", 3),
            ("v", "sing", 2),
            ("n", "singing", 1),
        ],
        [],
    ),
    (
        "sound source",
        [
            ("n", "machine", 1),
            ("n", "motor", 1),
            ("n", "power_tool", 1),
            ("n", "precipitation", 3),
            ("n", "wind", 1),
            ("n", "storm", 1),
            ("n", "thunder", 1),
            ("n", "alarm", 2),
            ("n", "acoustic_device", 1),
            ("n", "clock", 1),
            ("n", "firearm", 1),
        ],
        [("n", "computer", 1), ("n", "web_site", 1), ("n", "calculator", 2)],
    ),
    (
        "speech verb",
        [
            ("v", "communicate", 1),
            ("v", "communicate", 2),
            ("v", "express", 2),
            ("v", "state", 1),
            ("v", "tell", 2),
            ("v", "talk", 1),
            ("v", "talk", 2),
            ("v", "ask", 1),
            ("v", "ask", 2),
            ("v", "request", 1),
            ("v", "inform", 1),
            ("v", "order", 1),
            ("v", "declare", 1),
            ("v", "admit", 1),
            ("v", "evaluate", 1),
            ("v", "apologize", 1),
            ("v", "complain", 1),
            ("v", "thank", 1),
            ("v", "greet", 1),
            ("v", "propose", 1),
        ],
        # Signs, gestures and writing communicate without speech; animal calls are sounds.
        [
            ("v", "gesticulate", 1),
            ("v", "write", 1),
            ("v", "write", 2),
            ("v", "sign", 1),
            ("v", "indicate", 1),
            ("v", "utter", 2),
            ("v", "signal", 1),
            ("v", "show", 4),
            ("v", "publish", 1),
            ("v", "print", 1),
            ("v", "telecommunicate", 1),
            ("v", "certify", 1),
        ],
    ),
]
# A speech verb must be a communication verb in its first sense and in at least half of its senses (WordNet's
# verb.communication file), and not a verb made from a thing ("to radio", "to ink": the noun is not a message).
LEXNAME_OF = {"speech verb": "verb.communication"}
# A musical noun that is first of all another kind of verb ("lay", "air", "spell") is left out.
NOUNS_NOT_VERBS = ("music", "instrument")
SOUND_VERB_LEXNAMES = ("verb.creation", "verb.perception", "verb.communication")
NOUN_LEXNAMES_OF = {"speech verb": ("noun.communication", "noun.act", "noun.feeling")}


def _closure(wordnet: WordNet, roots: list[tuple[str, str, int]]) -> set[str]:
    keys: set[str] = set()
    for pos, lemma, sense in roots:
        keys.update(s.key for s in wordnet.hyponym_closure(wordnet.synset(pos, lemma, sense)))
    return keys


def _is_other_verb(wordnet: WordNet, key: str) -> bool:
    return wordnet.synsets[key].lexname not in SOUND_VERB_LEXNAMES


def _mostly(wordnet: WordNet, pos: str, lemma: str, lexname: str) -> bool:
    kinds = [wordnet.synsets[key].lexname for key in wordnet.senses[(pos, lemma)]]
    return kinds[0] == lexname and 2 * kinds.count(lexname) >= len(kinds)


def _hand_stems() -> set[tuple[str, ...]]:
    stems = set()
    for name in CUE_FILES:
        if name == WORDNET_FILE or not (LEXICON_DIR / name).exists():
            continue
        for _category, term in _read_sections(LEXICON_DIR / name):
            stems.add(tuple(stem(t) for t in _tokens_of(term)))
    return stems


def build(wordnet: WordNet) -> tuple[str, str, str]:
    taken = _hand_stems()
    lines = [
        "# GENERATED by scripts/build_lexicons.py from WordNet 3.0 (Debian wordnet-base, /usr/share/wordnet);",
        "# do not edit by hand: change the script and run it again. WordNet 3.0 Copyright 2006 by Princeton",
        "# University, used under the WordNet licence. Per section: the root synsets, and what is left out.",
        "# A word is taken only when its first WordNet sense lies under the roots; hand-listed words are skipped.",
    ]
    for category, roots, excluded in SECTIONS:
        keep = _closure(wordnet, roots) - _closure(wordnet, excluded)
        wanted_lexname = LEXNAME_OF.get(category)
        terms = []
        for pos in sorted({p for p, _, _ in roots}):
            for lemma in wordnet.lemmas(pos):
                if not (
                    lemma.replace("_", "").isalpha()
                    and lemma.isascii()
                    and len(lemma) >= MIN_LENGTH_OF.get(category, MIN_LENGTH)
                ):
                    continue
                first = wordnet.senses[(pos, lemma)][0]
                if first not in keep:
                    continue
                if wanted_lexname and not _mostly(wordnet, pos, lemma, wanted_lexname):
                    continue
                verb = wordnet.senses.get(("v", lemma))
                if pos == "n" and category in NOUNS_NOT_VERBS and verb and _is_other_verb(wordnet, verb[0]):
                    continue
                noun = wordnet.senses.get(("n", lemma))
                allowed = NOUN_LEXNAMES_OF.get(category)
                if pos == "v" and noun and allowed and wordnet.synsets[noun[0]].lexname not in allowed:
                    continue
                term = lemma.replace("_", " ")
                if term.count(" ") > 1:
                    continue
                key = tuple(stem(t) for t in _tokens_of(term))
                if key in taken:
                    continue
                taken.add(key)
                terms.append(term)
        lines.append("")
        lines.append(f"# roots: {_describe(wordnet, roots)}")
        if excluded:
            lines.append(f"# left out: {_describe(wordnet, excluded)}")
        lines.append(f"[{category}]")
        lines.extend(sorted(terms))
    verbs = sorted(
        lemma for lemma in wordnet.lemmas("v") if lemma.isalpha() and lemma.isascii() and len(lemma) >= MIN_LENGTH
    )
    verb_lines = [
        "# GENERATED by scripts/build_lexicons.py: every one-word verb of WordNet 3.0 (Debian wordnet-base).",
        "# Used to read a name followed by a verb as a character in a scene, not as catalogue metadata.",
        *verbs,
    ]
    vehicle_keys = _closure(wordnet, VEHICLE_ROOTS)
    vehicles = sorted(
        {
            lemma
            for lemma in wordnet.lemmas("n")
            if lemma.isalpha() and lemma.isascii() and wordnet.senses[("n", lemma)][0] in vehicle_keys
        }
    )
    vehicle_lines = [
        "# GENERATED by scripts/build_lexicons.py: one-word nouns of WordNet 3.0 (Debian wordnet-base) whose first",
        f"# sense is under {_describe(wordnet, VEHICLE_ROOTS)}.",
        "# Used by the teacher's heard rule only: the verb after a vehicle is a sound (a vehicle stays a sight).",
        *vehicles,
    ]
    return "\n".join(lines) + "\n", "\n".join(verb_lines) + "\n", "\n".join(vehicle_lines) + "\n"


def _describe(wordnet: WordNet, roots: list[tuple[str, str, int]]) -> str:
    parts = []
    for pos, lemma, sense in roots:
        synset: Synset = wordnet.synset(pos, lemma, sense)
        parts.append(f"{lemma}.{pos}.{sense:02d} ({synset.gloss.split(';')[0][:50]})")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=WORDNET_DIR)
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args(argv)
    cues, verbs, vehicles = build(read_wordnet(args.wordnet))
    outputs = {LEXICON_DIR / WORDNET_FILE: cues, LEXICON_DIR / VERBS_FILE: verbs, LEXICON_DIR / VEHICLES_FILE: vehicles}
    if args.check:
        stale = [p.name for p, text in outputs.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        print("up to date" if not stale else f"out of date: {', '.join(stale)}")
        return 1 if stale else 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
