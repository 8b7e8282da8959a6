"""The one unique-name rule (name, name-2, name-3...) and the names built on it."""

from pathlib import Path

from core.datasets.library import DatasetInfo, DatasetLibrary
from core.naming import default_dataset_name, unique_name
from core.routers.reference import ReferenceTeacher
from core.store import Store
from core.synth import DataMix
from core.synth.pipeline import synthesise


def saved(library: DatasetLibrary, name: str) -> DatasetInfo:
    made = synthesise(DataMix(total=100, seed=3), ReferenceTeacher(), teacher_id="Local reference teacher")
    return library.save(name, made.records, made.tags, made.manifest_fields)


def test_a_free_name_is_kept_and_a_taken_one_gets_the_first_free_number():
    taken = {"run", "run-2", "run-4"}

    assert unique_name("fresh", taken.__contains__) == "fresh"
    assert unique_name("run", taken.__contains__) == "run-3"


def test_the_default_dataset_name_follows_the_mix_and_skips_names_in_use_ignoring_case(tmp_path: Path):
    library = DatasetLibrary(Store(tmp_path / "studio.db"), tmp_path)

    def in_use(name: str) -> bool:  # the library's own rule: names are compared ignoring case
        return library.find(name) is not None

    assert default_dataset_name(120, 3, in_use) == "mix-120-seed3"
    saved(library, "MIX-120-seed3")
    assert default_dataset_name(120, 3, in_use) == "mix-120-seed3-2"


def test_names_that_clean_to_the_same_folder_get_numbered_folders(tmp_path: Path):
    library = DatasetLibrary(Store(tmp_path / "studio.db"), tmp_path)

    first, second = saved(library, "router set"), saved(library, "router/set")

    assert (first.folder.name, second.folder.name) == ("router-set", "router-set-2")
