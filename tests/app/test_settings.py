"""Settings: the backend switch persists, Bedrock without credentials explains itself, prices are edited safely."""

import pytest

from core.aws import credentials
from core.aws.credentials import CallerIdentity
from core.aws.errors import NO_CREDENTIALS_MESSAGE, PROFILE_PLACEHOLDER
from core.pricing import DEFAULT_PRICES_PER_MILLION, load_price_table
from core.settings import load_settings, save_settings
from core.store import Store
from dashboard.components import plain_markdown
from tests.app.helpers import alerts, open_page, reasons, texts

# AWS text is shown as written (escaped), never as markdown.
NO_CREDENTIALS = plain_markdown(NO_CREDENTIALS_MESSAGE.format(profile=PROFILE_PLACEHOLDER))


@pytest.fixture
def on_bedrock():
    save_settings(load_settings(), backend="bedrock")


def settings_page(app):
    return open_page(app, "settings.py")


def test_bedrock_without_credentials_shows_how_to_in_sidebar_overview_and_settings(on_bedrock, app):
    assert not app.exception
    assert NO_CREDENTIALS in [w.value for w in app.sidebar.warning]
    assert any("Amazon Bedrock is not ready" in text for text in alerts(app))

    at = settings_page(app)
    at = at.button(key="settings_check_credentials").click().run()
    assert not at.exception
    assert NO_CREDENTIALS in [w.value for w in at.main.warning]


def test_check_credentials_rechecks_and_shows_account_and_arn(on_bedrock, app, monkeypatch):
    identity = CallerIdentity(account="123456789012", arn="arn:aws:iam::123456789012:user/demo")
    monkeypatch.setattr(credentials, "check_credentials", lambda session: identity)
    at = settings_page(app)
    assert NO_CREDENTIALS in [w.value for w in at.sidebar.warning], "the first check is cached until re-checked"

    at = at.button(key="settings_check_credentials").click().run()
    assert not at.exception
    assert "These credentials work." in alerts(at)
    assert {"account: 123456789012", "identity: arn:aws:iam::123456789012:user/demo"} <= set(texts(at))
    assert "123456789012" in [t.value for t in at.sidebar.text]
    assert not at.sidebar.warning


def test_backend_switch_is_saved_and_shown_in_the_sidebar(app):
    at = settings_page(app)
    at.radio(key="settings_backend").set_value("bedrock")
    at = at.button(key="settings_save").click().run()

    assert not at.exception
    assert load_settings().backend == "bedrock"
    assert "Settings saved." in alerts(at)
    assert "Amazon Bedrock" in [m.value.strip("*") for m in at.sidebar.markdown]


def test_profile_and_region_are_saved(app):
    at = settings_page(app)
    at.text_input(key="settings_aws_profile").input("studio-demo")
    at.text_input(key="settings_aws_region").input("us-west-2")
    at.button(key="settings_save").click().run()

    saved = load_settings()
    assert (saved.aws_profile, saved.aws_region) == ("studio-demo", "us-west-2")


@pytest.mark.parametrize("typed", ["mars", "../../x", "us-east-1 ; rm"])
def test_bad_input_an_invalid_region_turns_save_off_with_the_reason_beside_it(app, typed):
    at = settings_page(app)
    as_drawn = at.button(key="settings_save")
    at.text_input(key="settings_aws_region").input(typed)
    at = as_drawn.click().run()  # a click that reaches the same run as the edit

    assert not at.exception
    assert at.button(key="settings_save").disabled
    assert reasons(at) == [":red[:material/block: The AWS region must look like us-east-1.]"]
    assert load_settings().aws_region == "us-east-1"

    at = at.text_input(key="settings_aws_region").input(" eu-west-2 ").run()
    assert not reasons(at)
    at.button(key="settings_save").click().run()
    assert load_settings().aws_region == "eu-west-2"


def test_a_backend_pinned_by_the_environment_cannot_be_switched(monkeypatch, app):
    monkeypatch.setenv("VSRS_BACKEND", "local")
    at = settings_page(app)

    radio = at.radio(key="settings_backend")
    assert radio.disabled
    assert "VSRS_BACKEND" in radio.help


def _edit_price(at, model_key: str, column: str, value):
    editor = at.data_editor[0]
    row = list(editor.value["model_key"]).index(model_key)
    at.session_state[editor.key] = {"edited_rows": {row: {column: value}}, "added_rows": [], "deleted_rows": []}
    return at.run()


def _price(model_key: str):
    return load_price_table(Store(load_settings().store_path)).get(model_key)


def test_a_price_edit_is_saved_and_reset_restores_the_defaults(app):
    at = settings_page(app)
    at = _edit_price(at, "nova-micro", "input_per_million", 0.5)
    at = at.button(key="price_editor_save").click().run()

    assert not at.exception
    assert _price("nova-micro").input_per_million == 0.5
    assert "Saved 1 changed price." in alerts(at)
    assert at.data_editor[0].value.set_index("model_key").loc["nova-micro", "source"] == "edited"

    at = at.button(key="price_editor_reset").click().run()
    assert _price("nova-micro").input_per_million == DEFAULT_PRICES_PER_MILLION["nova-micro"][0]
    assert "Prices reset to the defaults." in alerts(at)


@pytest.mark.parametrize(("value", "problem"), [(-1.0, "cannot be negative"), (None, "is empty")])
def test_bad_input_a_negative_or_empty_price_turns_save_off_with_the_reason_beside_it(app, value, problem):
    at = settings_page(app)
    as_drawn = at.button(key="price_editor_save")
    at = _edit_price(at, "nova-pro", "output_per_million", value)
    at = as_drawn.click().run()  # a click drawn before the edit

    assert not at.exception
    assert at.button(key="price_editor_save").disabled
    assert reasons(at) == [f":red[:material/block: Prices cannot be saved: Amazon Nova Pro, output price {problem}.]"]
    assert _price("nova-pro").output_per_million == DEFAULT_PRICES_PER_MILLION["nova-pro"][1]


def test_data_directory_and_how_to_change_it_are_shown(studio_env, app):
    at = settings_page(app)

    assert str(studio_env) in [code.value for code in at.main.code]
    assert any("VSRS_DATA_DIR=" in code.value for code in at.code)
