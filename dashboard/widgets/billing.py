"""What keeps billing while idle: a banner naming each resource billed by the hour (provisioned throughput), with
its meter so far and where to tear it down, and the meter's figures for a deployment's own card.

The meter is core's (core.deployments.IdleBilling: hours so far x the hourly rate entered in Settings, or "price
unknown"); this module only lays it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import streamlit as st

from core.backends import CapabilityUnavailable
from dashboard import components, state
from dashboard.widgets.formatting import format_usd
from dashboard.widgets.layout import Figure, figure_row

if TYPE_CHECKING:
    from core.deployments import Deployment, IdleBilling

DEPLOYMENTS_PAGE = state.PAGES_DIR / "deployments.py"
PRICE_UNKNOWN = "price unknown"


def idle_billing_banner() -> None:
    """A warning while anything bills by the hour, naming each with its cost so far; nothing otherwise."""
    try:
        billing = state.deployments().billing_while_idle()
    except CapabilityUnavailable:
        return  # a backend without deployments has nothing that bills while idle
    except Exception as exc:  # e.g. a locked database: say so rather than hide what may be billing
        components.show_error(exc)
        return
    if billing:
        billing_warning(billing)
        components.page_link_if_listed(DEPLOYMENTS_PAGE, "Tear it down on Deployments", ":material/rocket_launch:")


def billing_warning(billing: Sequence[Deployment]) -> None:
    count = len(billing)
    heading = components.plain_markdown(
        f"{count} resource{'s' if count != 1 else ''} on Amazon Bedrock bill{'' if count != 1 else 's'} by the hour "
        "whether used or not:"
    )
    items = [
        "- " + components.plain_markdown(f"{deployment.name}: {deployment.billing.describe()}")
        for deployment in billing
        if deployment.billing
    ]
    st.warning("\n".join([heading, *items]), icon=":material/payments:")


def meter_figures(billing: IdleBilling) -> None:
    """Hours so far, the hourly rate for all its units, and the cost so far (or "price unknown")."""
    cost = billing.cost_so_far_usd()
    units = f"{billing.model_units} model unit{'s' if billing.model_units != 1 else ''}"
    figure_row(
        [
            Figure("Billed hours so far", f"{billing.hours():,.2f} h", "Since it was created on Amazon Bedrock."),
            Figure(
                "Hourly rate",
                PRICE_UNKNOWN if billing.hourly_usd is None else f"{format_usd(billing.hourly_usd)}/h",
                f"For {units}: the provisioned throughput rate entered in Settings x the model units.",
            ),
            Figure("Cost so far", PRICE_UNKNOWN if cost is None else format_usd(cost)),
            Figure("Commitment", billing.commitment or "none (hourly)"),
        ],
        border=True,
    )
