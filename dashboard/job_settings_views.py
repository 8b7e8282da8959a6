"""The launch form's settings of a job that a cloud service runs (the fields of the job service's settings model
for the chosen student, core.aws.jobs.BedrockDistillParams on Amazon Bedrock): only the fields the model has are
drawn, and what they hold is passed to the service exactly as typed. The service checks them (names and ARNs
against the API's patterns) before any call: JobService.problem.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping

import streamlit as st
from pydantic import BaseModel

from core.key_values import parse_key_values
from dashboard.widgets.checks import Checks

ROLE_KEY = "distill_role_arn"
TRAINING_DATA_KEY = "distill_training_data"
LOGS_URI_KEY = "distill_logs_uri"
LOG_FILTER_KEY = "distill_log_filter"
PROMPT_RESPONSE_KEY = "distill_use_prompt_response"
OUTPUT_KEY = "distill_output_uri"
MAX_RESPONSE_KEY = "distill_max_response_length"
SUBNETS_KEY = "distill_subnets"
SECURITY_GROUPS_KEY = "distill_security_groups"
KMS_KEY = "distill_kms_key"
JOB_TAGS_KEY = "distill_job_tags"
MODEL_TAGS_KEY = "distill_model_tags"
MODEL_NAME_KEY = "distill_model_name"
TRAINING_DATA_WORDS = {
    "dataset": "The dataset above (its upload to S3)",
    "invocation-logs": "Invocation logs of calls made earlier",
}
# The output default names the job: it follows the name until the user types an output of their own.
OUTPUT_DEFAULT_KEY = "distill_output_default"
_LIST_SEPARATORS = re.compile(r"[\s,]+")


def uses_dataset(params: Mapping[str, object]) -> bool:
    """Whether the job trains on the dataset picked above (not on invocation logs)."""
    return params.get("training_data", "dataset") == "dataset"


def cloud_settings(model: type[BaseModel], defaults: Mapping[str, object], checks: Checks) -> dict[str, object]:
    """The fields of `model` a cloud job takes, as widgets; returns the settings they hold (empty ones left out,
    so the service's defaults apply). A box that cannot be read (a tag that is not key=value) is a check."""
    fields = model.model_fields
    params: dict[str, object] = {}
    if "role_arn" in fields:
        st.session_state.setdefault(ROLE_KEY, str(defaults.get("role_arn") or ""))
        _keep(
            params,
            "role_arn",
            st.text_input(
                "IAM service role ARN",
                key=ROLE_KEY,
                placeholder="arn:aws:iam::123456789012:role/BedrockDistillation",
                help="The role the job runs as: it must trust bedrock.amazonaws.com and read the training data and "
                "write the output in S3. The default is the role saved in Settings.",
            ),
        )
    if "training_data" in fields:
        choices = list(typing.get_args(fields["training_data"].annotation)) or list(TRAINING_DATA_WORDS)
        training_data = st.radio(
            "Training data",
            choices,
            key=TRAINING_DATA_KEY,
            format_func=lambda key: TRAINING_DATA_WORDS.get(key, key),
            horizontal=True,
        )
        params["training_data"] = training_data
        if training_data == "invocation-logs":
            _invocation_logs(fields, params, checks)
    if "output_s3_uri" in fields:
        _output(defaults, params)
    if "max_response_length" in fields:
        longest = checks.number(
            "Longest teacher answer (tokens)",
            model,
            "max_response_length",
            key=MAX_RESPONSE_KEY,
            default=int(str(defaults.get("max_response_length") or 1000)),
            help="maxResponseLengthForInference: the most tokens the teacher may write for one prompt. A router's "
            "answer is about 60 tokens; the published run used 1000.",
        )
        if longest is not None:
            params["max_response_length"] = longest
    with st.expander("Network, encryption, tags and model name (optional)"):
        _advanced(fields, params, checks)
    return params


def _invocation_logs(fields: Mapping[str, object], params: dict[str, object], checks: Checks) -> None:
    st.caption("The dataset above is not used: the logged calls that match the filter are the training data.")
    _keep(
        params,
        "invocation_logs_s3_uri",
        st.text_input(
            "Invocation logs S3 URI",
            key=LOGS_URI_KEY,
            placeholder="s3://my-bucket/bedrock-invocation-logs/",
            help="Where Bedrock's model invocation logging writes the logs.",
        ),
    )
    if "log_filter" in fields:
        pairs = _pairs(
            st.text_area(
                "Request-metadata filter (one key=value a line; a call must carry all of them)",
                key=LOG_FILTER_KEY,
                placeholder="app=video-search-router\nrouter=teacher",
                height=90,
                help="The studio tags its teacher calls with app, router, mode and prompt (docs/ARCHITECTURE.md, "
                "section 12).",
            ),
            "The request-metadata filter",
            checks,
        )
        params["log_filter"] = pairs
    if "use_prompt_response" in fields:
        params["use_prompt_response"] = st.checkbox(
            "Train on the logged answers as written (the teacher is not asked again)", key=PROMPT_RESPONSE_KEY
        )


def _output(defaults: Mapping[str, object], params: dict[str, object]) -> None:
    suggested = str(defaults.get("output_s3_uri") or "")
    # Follow the job name while the box still holds the last suggestion (or nothing).
    if st.session_state.get(OUTPUT_KEY, "") in ("", st.session_state.get(OUTPUT_DEFAULT_KEY)):
        st.session_state[OUTPUT_KEY] = suggested
    st.session_state[OUTPUT_DEFAULT_KEY] = suggested
    _keep(
        params,
        "output_s3_uri",
        st.text_input(
            "Output S3 URI",
            key=OUTPUT_KEY,
            placeholder="s3://my-bucket/video-search-router/jobs/<job name>/",
            help="Where the job writes its metrics and reports; the default is in the bucket saved in Settings.",
        ),
    )


def _advanced(fields: Mapping[str, object], params: dict[str, object], checks: Checks) -> None:
    if "subnet_ids" in fields:
        subnet_column, group_column = st.columns(2)
        subnets = _items(subnet_column.text_input("VPC subnet ids", key=SUBNETS_KEY, placeholder="subnet-0abc…, …"))
        groups = _items(
            group_column.text_input("Security group ids", key=SECURITY_GROUPS_KEY, placeholder="sg-0abc…, …")
        )
        if subnets or groups:
            params["subnet_ids"], params["security_group_ids"] = subnets, groups
    if "kms_key_id" in fields:
        _keep(
            params,
            "kms_key_id",
            st.text_input(
                "KMS key for the custom model", key=KMS_KEY, placeholder="arn:aws:kms:us-east-1:123456789012:key/…"
            ),
        )
    tag_column, model_tag_column = st.columns(2)
    for column, field, key, label in (
        (tag_column, "job_tags", JOB_TAGS_KEY, "Job tags"),
        (model_tag_column, "model_tags", MODEL_TAGS_KEY, "Model tags"),
    ):
        if field in fields:
            text = column.text_area(f"{label} (one key=value a line)", key=key, height=90, placeholder="team=search")
            found = _pairs(text, label, checks)
            if found:
                params[field] = found
    if "model_name" in fields:
        _keep(
            params,
            "model_name",
            st.text_input(
                "Custom model name",
                key=MODEL_NAME_KEY,
                placeholder="from the job name",
                help="1 to 63 letters and digits with single '-' or '_' between them.",
            ),
        )


def _keep(params: dict[str, object], field: str, text: str) -> None:
    if text.strip():
        params[field] = text.strip()


def _items(text: str) -> list[str]:
    return [item for item in _LIST_SEPARATORS.split(text.strip()) if item]


def _pairs(text: str, label: str, checks: Checks) -> dict[str, str]:
    try:
        return parse_key_values(text.splitlines())
    except ValueError as exc:
        checks.require(f"{label}: {exc}, for example team=search.")
        return {}
