"""Data Mix in a real browser: generate a small set, see it, save and download it; validate a broken upload."""

import json
from pathlib import Path

from core.datasets.files import encode_records, make_record
from core.schema import RoutingDecision
from tests.e2e.browser import BROWSER_TEST_MARKS, screenshot_whole_page
from tests.e2e.ui import (
    FIRST_LOAD_MS,
    STEP_MS,
    charts,
    exceptions,
    file_input,
    grid_cells,
    main_area,
    metrics,
    open_from_sidebar,
    shown,
    tables,
    wait_until_drawn,
)

pytestmark = BROWSER_TEST_MARKS
TOTAL = 200
# Four weight histograms, focus, difficulty, query length and domain.
CHART_COUNT = 8


def open_data_mix(page, url: str):
    from playwright.sync_api import expect

    main = open_from_sidebar(page, url, "Data Mix", "Data Mix")
    expect(main.get_by_text("Focus", exact=True)).to_be_visible(timeout=STEP_MS)
    # Type only once the first run has drawn everything: a box filled mid-run can be redrawn as another widget.
    return wait_until_drawn(page, STEP_MS)


def test_generate_see_save_and_download_a_small_mix(studio, page, artifacts):
    from playwright.sync_api import expect

    main = open_data_mix(page, studio.url)
    expect(main.get_by_text("Nothing generated yet", exact=False)).to_be_visible()
    expect(main.get_by_text("No datasets yet: generate a mix above and save it", exact=False)).to_be_visible()

    total = main.get_by_role("textbox", name="Queries to generate")
    total.fill(str(TOTAL))
    total.press("Enter")
    wait_until_drawn(page, STEP_MS)
    generate = main.get_by_role("button", name=f"Generate and label {TOTAL} queries")
    expect(generate).to_be_visible(timeout=STEP_MS)
    generate.click()

    expect(main.get_by_text(f"the first {TOTAL} of {TOTAL}", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(charts(main)).to_have_count(CHART_COUNT, timeout=STEP_MS)
    expect(metrics(main).filter(has_text="Queries").first).to_contain_text(str(TOTAL))
    preview = tables(main).filter(has_text="transcription")
    expect(preview.locator("td[role=gridcell]").first).not_to_be_empty()

    name = main.get_by_label("Dataset name")
    name.fill("browser-mix")
    main.get_by_role("button", name="Save dataset").click()
    expect(main.get_by_text(f"Saved: {TOTAL} labelled records", exact=False)).to_be_visible(timeout=STEP_MS)
    listed = tables(main).filter(has_text="s3 uri")
    expect(listed.locator("td[role=gridcell]").first).to_have_text("browser-mix")
    expect(main.get_by_text("Uploading to S3 needs the Amazon Bedrock backend", exact=False)).to_be_visible()

    with page.expect_download(timeout=STEP_MS) as download_info:
        main.get_by_role("button", name="Download JSONL").click()
    download = download_info.value
    assert download.suggested_filename == "browser-mix.jsonl"
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == TOTAL
    assert all(record["schemaVersion"] == "bedrock-conversation-2024" for record in records)
    assert all(
        set(json.loads(record["messages"][1]["content"][0]["text"])) >= {"visual", "audio"} for record in records
    )
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "data-mix.png")


def broken_file(path: Path) -> Path:
    decision = RoutingDecision(visual=0.7, audio=0.1, transcription=0.1, metadata=0.1, reasoning="seen")
    lines = encode_records([make_record(f"red car number {i}", decision) for i in range(120)]).decode().splitlines()
    lines[1] = "{not json"
    lines[6] = lines[6].replace('"messages"', '"mesages"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_broken_upload_lists_its_problems_by_line(studio, page, artifacts, tmp_path):
    from playwright.sync_api import expect

    main = open_data_mix(page, studio.url)
    file_input(main).set_input_files(broken_file(tmp_path / "broken.jsonl"))

    expect(main.get_by_text("Invalid:", exact=False)).to_be_visible(timeout=STEP_MS)
    problems = grid_cells(main, "problem")
    expect(problems.filter(has_text="line 2").first).to_be_attached(timeout=STEP_MS)
    expect(problems.filter(has_text="line 7").first).to_be_attached()
    expect(problems.filter(has_text="not valid JSON").first).to_be_attached()
    expect(main.get_by_role("button", name="Import into the library")).to_have_count(0)
    expect(exceptions(page)).to_have_count(0)
    screenshot_whole_page(page, artifacts / "data-mix-validate.png")


def test_a_prompt_without_the_query_placeholder_shows_the_error(studio, page):
    from playwright.sync_api import expect

    main = open_data_mix(page, studio.url)
    main.get_by_text("Teacher prompt", exact=True).click()
    template = main.get_by_label("Prompt template")
    template.fill("Route the query, please.")
    template.press("Control+Enter")
    wait_until_drawn(page, STEP_MS)

    # Under the prompt, and beside the Generate button it turns off.
    problem = shown(main, "The teacher prompt must contain {query}", exact=False)
    expect(problem).to_have_count(2, timeout=STEP_MS)
    expect(main.get_by_role("button", name="Generate and label", exact=False)).to_be_disabled()
    main.get_by_role("button", name="Reset to the default prompt").click()
    expect(main.get_by_text("Prompt version: teacher-v1", exact=True)).to_be_visible(timeout=STEP_MS)
    expect(main.get_by_role("button", name="Generate and label", exact=False)).to_be_enabled()


def test_bad_input_a_total_out_of_range_turns_generate_off_and_never_shows_the_old_total(studio, page):
    from playwright.sync_api import expect

    main = open_data_mix(page, studio.url)
    total = main.get_by_role("textbox", name="Queries to generate")
    for typed in ("0", "-5", "99999999"):
        total.fill(typed)
        total.press("Enter")
        wait_until_drawn(page, STEP_MS)
        generate = main.get_by_role("button", name="Generate and label queries", exact=True)
        expect(generate).to_be_disabled(timeout=STEP_MS)
        expect(shown(main, f"the box holds '{typed}'", exact=False)).to_be_visible()
        expect(main.get_by_role("button", name="Generate and label 1,000 queries")).to_have_count(0)

    total.fill("300")
    total.press("Enter")
    wait_until_drawn(page, STEP_MS)
    expect(main.get_by_role("button", name="Generate and label 300 queries")).to_be_enabled(timeout=STEP_MS)
    expect(exceptions(page)).to_have_count(0)


def test_fault_a_reload_keeps_the_mix_and_brings_the_unsaved_set_back(studio, page):
    from playwright.sync_api import expect

    main = open_data_mix(page, studio.url)
    total = main.get_by_role("textbox", name="Queries to generate")
    total.fill("250")
    total.press("Enter")
    wait_until_drawn(page, STEP_MS)
    main.get_by_role("button", name="Generate and label 250 queries").click()
    expect(main.get_by_text("the first 200 of 250", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(shown(main, "This set is not saved yet.", exact=False)).to_be_visible()
    assert "draft=" in page.url

    page.reload()

    main = main_area(page)
    expect(main.get_by_role("button", name="Generate and label 250 queries")).to_be_visible(timeout=FIRST_LOAD_MS)
    expect(main.get_by_text("the first 200 of 250", exact=False)).to_be_visible(timeout=STEP_MS)
    expect(shown(main, "generated before the reload is back", exact=False)).to_be_visible()
    expect(shown(main, "This set is not saved yet.", exact=False)).to_be_visible()
    expect(exceptions(page)).to_have_count(0)
