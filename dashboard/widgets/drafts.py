"""A page's unsaved work, kept in a draft file in the data directory and named in the address (`?draft=<id>`), so
that a reload of the page brings it back.

Streamlit cannot stop a reload or a navigation away, so a page keeps its draft as it goes: `keep(page, content)` at
the end of every run writes the content when it changed (atomically; nothing at all for a page still as it starts),
and `restore(page)` in the session's first run reads the draft the address names. The content is plain JSON that
the page checks as it reads it back. Drafts not touched for MAX_AGE_DAYS are removed when a new one is made.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any

import streamlit as st

from core.files import atomic_write_text, path_inside
from dashboard import components, state

logger = logging.getLogger(__name__)

PARAM = "draft"
FOLDER = "drafts"
MAX_AGE_DAYS = 30
_DRAFT_ID = re.compile(r"[0-9a-f]{16}")


def restore(page: str) -> dict[str, Any] | None:
    """The content of the draft the address names, in the session's first run of `page` (later runs keep their
    own state); a draft that is gone or unreadable is said so, and the page starts afresh."""
    if _id_key(page) in st.session_state:
        return None
    st.session_state[_id_key(page)] = None
    wanted = st.query_params.get(PARAM)
    if wanted is None:
        return None
    problem, content = _read(page, wanted)
    if problem is not None:
        st.warning(f"{problem} This page starts afresh.", icon=":material/history:")
        st.query_params.pop(PARAM, None)
        return None
    st.session_state[_id_key(page)] = wanted
    st.session_state[_written_key(page)] = content
    return content


def keep(page: str, content: dict[str, Any], *, fresh: dict[str, Any]) -> None:
    """Write `content` to the page's draft when it changed, and name the draft in the address; `fresh` is the
    content of the page as it starts, which needs no draft."""
    draft_id = st.session_state.get(_id_key(page))
    if draft_id is None:
        if content == fresh:
            return
        draft_id = st.session_state[_id_key(page)] = secrets.token_hex(8)
        _remove_old(page)
    if st.session_state.get(_written_key(page)) != content:
        try:
            atomic_write_text(_path(page, draft_id), json.dumps(content, ensure_ascii=False))
        except OSError as exc:  # e.g. a full disk: the page still works, but a reload would lose its work
            st.warning(
                components.plain_markdown(
                    f"This page's draft could not be written ({state.explain_error(exc)}): a reload would lose "
                    "what is not saved."
                ),
                icon=":material/save:",
            )
            return
        st.session_state[_written_key(page)] = content
    st.query_params[PARAM] = draft_id


def _read(page: str, draft_id: str) -> tuple[str | None, dict[str, Any]]:
    if not _DRAFT_ID.fullmatch(draft_id):
        return "The draft named in the address is not one this studio made.", {}
    try:
        content = json.loads(_path(page, draft_id).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"The draft named in the address is gone (drafts are kept for {MAX_AGE_DAYS} days).", {}
    except (OSError, ValueError) as exc:
        logger.warning("draft %s of %s unreadable: %s", draft_id, page, exc)
        return "The draft named in the address could not be read.", {}
    if not isinstance(content, dict):
        return "The draft named in the address could not be read.", {}
    return None, content


def _remove_old(page: str) -> None:
    cutoff = time.time() - MAX_AGE_DAYS * 24 * 3600
    for old in _folder().glob(f"{page}-*.json"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError as exc:  # another session removed it first, or the folder is read-only: not this page's work
            logger.info("old draft %s left in place: %s", old, exc)


def _folder() -> Path:
    return path_inside(state.studio().settings.data_dir, FOLDER)


def _path(page: str, draft_id: str) -> Path:
    return path_inside(state.studio().settings.data_dir, FOLDER, f"{page}-{draft_id}.json")


def _id_key(page: str) -> str:
    return f"{page}_draft_id"


def _written_key(page: str) -> str:
    return f"{page}_draft_written"
