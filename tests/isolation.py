"""A process environment with a private data directory and no AWS credentials or network anywhere.

Every test runs in it (tests/conftest.py), and so do the servers the browser tests start: a developer's own
VSRS_* settings or AWS credentials must never make a test call Bedrock, let alone bill for it.
"""

from __future__ import annotations

import os
from pathlib import Path

AWS_CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)


def isolated_environment(data_dir: Path, aws_dir: Path) -> dict[str, str]:
    """The process environment for a studio with its own data and no AWS credentials anywhere.

    Instance metadata is off and the credential and config files are empty, so "no credentials" is
    certain and nothing reaches the network.
    """
    aws_dir.mkdir(parents=True, exist_ok=True)
    (aws_dir / "credentials").write_text("", encoding="utf-8")
    (aws_dir / "config").write_text("", encoding="utf-8")
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in AWS_CREDENTIAL_VARIABLES and not name.startswith("VSRS_")
    }
    env.update(
        {
            "VSRS_DATA_DIR": str(data_dir),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_SHARED_CREDENTIALS_FILE": str(aws_dir / "credentials"),
            "AWS_CONFIG_FILE": str(aws_dir / "config"),
        }
    )
    return env
