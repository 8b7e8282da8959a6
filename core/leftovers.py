"""What killed processes leave in the data directory, found and removed when the studio starts.

A worker killed inside a model save leaves its staging folder (`.<id>.*.tmp`, or a retired `.*.old`); one killed
between the save and the registration leaves a complete model folder with no registry row; a killed delete leaves
a `.deleting-*` tombstone; a killed dataset save its `.staging-*` folder or a folder with no library row. None of
them is anything the user can see or use. Each removal is logged with what it was.

A save in progress looks the same as a leftover for a moment, so only what is older than LEFTOVER_GRACE_S is
removed, or, for model folders (only job workers write them), anything once no local job is running.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from core.store import Store

log = logging.getLogger(__name__)

# Far longer than any save takes; what is older than this and unlisted was left by a process that died.
LEFTOVER_GRACE_S = 600.0
# Only names the studio itself gives (core.model_registry.new_model_id, core.distill.artifact's staging): any
# other folder someone keeps there is left alone.
_MODEL_FOLDER = re.compile(r"model-[0-9a-f]{12}")
_MODEL_SAVE_LEFTOVER = re.compile(r"\.model-[0-9a-f]{12}\..+\.(tmp|old)")
_MODEL_TOMBSTONE = re.compile(r"\.deleting-model-[0-9a-f]{12}")


def clean_leftovers(store: Store, data_dir: Path) -> list[Path]:
    """Remove the leftovers of killed saves and deletes (models and datasets); returns what was removed."""
    from core.datasets.library import DatasetLibrary

    removed = _clean_models(store, Path(data_dir))
    removed += DatasetLibrary(store, data_dir).clean_leftovers(LEFTOVER_GRACE_S)
    return removed


def remove_leftover(path: Path, why: str) -> bool:
    """Remove one leftover folder (or file), saying so in the log."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not remove %s (%s): %s", path, why, exc.strerror or exc)
        return False
    log.warning("removed %s: %s", path, why)
    return True


def older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def _clean_models(store: Store, data_dir: Path) -> list[Path]:
    from core.distill.jobs import ACTIVE_SQL, JOBS_FOLDER, LOCAL_BACKEND
    from core.distill.outcome import read_outcome_file
    from core.model_registry import MODELS_FOLDER

    folder = data_dir / MODELS_FOLDER
    if not folder.is_dir():
        return []
    running = store.query_one(f"SELECT 1 FROM jobs WHERE backend = ? AND status IN {ACTIVE_SQL}", (LOCAL_BACKEND,))
    grace = LEFTOVER_GRACE_S if running else 0.0
    registered = {Path(row["path"]).name for row in store.query("SELECT path FROM models WHERE path IS NOT NULL")}
    # A model a dead worker kept in its outcome file is registered by the next reconcile: never a leftover.
    jobs = data_dir / JOBS_FOLDER
    kept = {
        Path(outcome.model.folder).name
        for job in (jobs.iterdir() if jobs.is_dir() else [])
        if (outcome := read_outcome_file(job)) is not None and outcome.model is not None
    }
    removed = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if _MODEL_TOMBSTONE.fullmatch(name):
            why = "the rest of a deleted model"
        elif _MODEL_SAVE_LEFTOVER.fullmatch(name):
            why = "the staging folder of a model save that never finished"
        elif _MODEL_FOLDER.fullmatch(name) and entry.is_dir() and name not in registered and name not in kept:
            why = "a model saved by a job that died before registering it"
        else:
            continue
        if older_than(entry, grace) and remove_leftover(entry, why):
            removed.append(entry)
    return removed
