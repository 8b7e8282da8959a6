"""How the studio reads query text: words, quotations and sentence ends (shared by the teacher and the student)."""

import re

# Words, numbers and letters of any script; an apostrophe may join parts ("dog's", "don't").
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# A quotation in straight, curly or French quotes, up to 300 characters on one line.
QUOTE_RE = re.compile(r'"[^"\n]{1,300}"|“[^”\n]{1,300}”|«[^»\n]{1,300}»')
SENTENCE_ENDS = ".!?;:\n"
