"""Settings: the backend, the AWS profile and region, a credentials check, token prices and the data directory."""

import streamlit as st

from core.aws.names import check_bucket_name, check_role_arn
from core.settings import Settings, save_settings
from dashboard import components, state
from dashboard.widgets import notices, prices, rates
from dashboard.widgets.checks import Checks
from dashboard.widgets.preflight import preflight_panel

BACKEND_LABELS = {"local": "Local (offline, free)", "bedrock": "Amazon Bedrock"}
CHECK_KEY = "settings_credentials_check"

st.title("Settings")
notices.show(notices.PAGE)
current = state.studio()
settings = current.settings
pinned = settings.pinned_by_environment()


def pinned_help(field: str, help_text: str) -> str:
    if field in pinned:
        return f"Pinned by the VSRS_{field.upper()} environment variable; change it there and restart the app."
    return help_text


st.subheader("Backend and AWS account")
# Checked as typed against core's own settings rules: Save stays off, with the reason beside it, while a value
# cannot be saved.
form = Checks()
with st.container(border=True):
    backend = st.radio(
        "Backend",
        list(BACKEND_LABELS),
        index=list(BACKEND_LABELS).index(settings.backend),
        format_func=BACKEND_LABELS.get,
        horizontal=True,
        key="settings_backend",
        disabled="backend" in pinned,
        help=pinned_help("backend", "Local runs everything on this machine; Amazon Bedrock uses your AWS account."),
    )
    profile_column, region_column = st.columns(2)
    with profile_column:
        profile = form.text(
            "AWS profile",
            Settings,
            "aws_profile",
            key="settings_aws_profile",
            problem=state.FIELD_HINTS["aws_profile"],
            value=settings.aws_profile or "",
            placeholder="default credential chain",
            disabled="aws_profile" in pinned,
            help=pinned_help("aws_profile", "A profile from ~/.aws/config; leave empty for the default chain."),
        )
    with region_column:
        region = form.text(
            "AWS region",
            Settings,
            "aws_region",
            key="settings_aws_region",
            problem=state.FIELD_HINTS["aws_region"],
            value=settings.aws_region,
            disabled="aws_region" in pinned,
            help=pinned_help("aws_region", "Deployments of distilled models exist in us-east-1 and us-west-2."),
        )
    st.markdown("**Amazon Bedrock work**")
    bucket_column, role_column, pool_column = st.columns([2, 3, 1])
    with bucket_column:
        bucket = form.text(
            "S3 bucket",
            Settings,
            "bedrock_bucket",
            key="settings_bedrock_bucket",
            problem=state.FIELD_HINTS["bedrock_bucket"],
            value=settings.bedrock_bucket or "",
            placeholder="my-studio-bucket",
            disabled="bedrock_bucket" in pinned,
            help=pinned_help("bedrock_bucket", "Where datasets are uploaded and jobs write their output."),
        )
    with role_column:
        role = form.text(
            "IAM service role ARN",
            Settings,
            "bedrock_role_arn",
            key="settings_bedrock_role_arn",
            problem=state.FIELD_HINTS["bedrock_role_arn"],
            value=settings.bedrock_role_arn or "",
            placeholder="arn:aws:iam::123456789012:role/BedrockDistillation",
            disabled="bedrock_role_arn" in pinned,
            help=pinned_help("bedrock_role_arn", "The role distillation and batch jobs run as (trusts Bedrock)."),
        )
    with pool_column:
        pool = form.number(
            "Pool size",
            Settings,
            "bedrock_concurrency",
            key="settings_bedrock_concurrency",
            default=settings.bedrock_concurrency,
            disabled="bedrock_concurrency" in pinned,
            help=pinned_help(
                "bedrock_concurrency", "Teacher calls in flight at once when labelling or writing queries."
            ),
        )
    # The names' own checks (Settings validates them with these too), so the sentence says what is wrong.
    form.require(check_bucket_name(bucket) if bucket else None)
    form.require(check_role_arn(role) if role else None)
    save = form.button("Save settings", key="settings_save", type="primary", icon=":material/save:")
if save:
    chosen = {
        "backend": backend,
        "aws_profile": profile or "",
        "aws_region": region,
        "bedrock_bucket": bucket or None,
        "bedrock_role_arn": role or None,
        "bedrock_concurrency": pool,
    }
    try:
        save_settings(settings, **{field: value for field, value in chosen.items() if field not in pinned})
    except Exception as exc:
        components.show_error(exc)
    else:
        notices.success(notices.PAGE, "Settings saved.")
        st.rerun()

st.subheader("AWS credentials")
st.caption(
    "The studio signs in through the standard AWS credential chain for the profile above. Nothing secret is "
    "typed, shown or stored here: the check asks AWS STS only who the credentials belong to."
)
if st.button("Check credentials", key="settings_check_credentials", icon=":material/key:"):
    with st.spinner("Asking AWS who these credentials belong to…"):
        status = state.credentials_status(recheck=True)
    st.session_state[CHECK_KEY] = (settings.aws_profile, settings.aws_region, status)
    st.rerun()  # the sidebar was drawn before the check: draw it again with the fresh status
# A check made for another profile or region says nothing about this one.
checked_profile, checked_region, checked = st.session_state.get(CHECK_KEY, (None, None, None))
if (checked_profile, checked_region) != (settings.aws_profile, settings.aws_region):
    checked = None
if checked is not None and checked.ready:
    st.success("These credentials work.", icon=":material/check_circle:")
    for name in ("account", "identity", "profile", "region"):
        st.text(f"{name}: {checked.details.get(name, '')}")
elif checked is not None:
    st.warning(
        components.plain_markdown(checked.message or "The credentials could not be checked."), icon=":material/key:"
    )

st.subheader("Preflight")
st.caption(
    "What Amazon Bedrock work needs, checked before any runs: credentials, region, access to the teacher and "
    "student, how the teacher is called, the bucket and the service role, each green, amber or red with what to do."
)
preflight_panel(current.backend, "settings_preflight")

st.subheader("Token prices")
st.caption(
    "USD per 1 million tokens, on-demand, US regions, used by every cost estimate in the studio. The defaults "
    "come from copies of the AWS pricing pages; batch inference costs about half. Edit a cell, then save."
)
prices.price_editor(current.store)

st.subheader("Billing rates")
st.caption(
    "What AWS bills by the hour, per training token or per month, which the studio cannot look up: enter them from "
    "the Amazon Bedrock pricing page or your agreement. Until a rate is entered, the estimates and the provisioned "
    'throughput cost meter say "price unknown".'
)
rates.rate_editor(current.store)

st.subheader("Data directory")
st.code(str(settings.data_dir), language=None)  # a path scrolls rather than break a word
st.caption(
    "Datasets, models, jobs, prices and these settings live here. To use another directory, set VSRS_DATA_DIR "
    "before starting the app:"
)
st.code("VSRS_DATA_DIR=/path/to/studio-data .venv/bin/python -m streamlit run dashboard/app.py", language="bash")
