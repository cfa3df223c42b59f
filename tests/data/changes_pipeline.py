"""The seed pipeline, small, for the history tests: run as a script inside a temp git repository.

    python jobs/pipeline.py counts ctr     # run these jobs, in this order

``clicks`` lands a new batch of raw clicks (re-produces the counts job's clicks input);
``fail-ctr`` runs the CTR job so that it fails.
"""

import contextlib
import sys

import lineage_sdk
from lineage_sdk import DataSource, Feature, log_lineage

raw_impressions = DataSource("raw_impressions_kafka_topic", type="kafka_topic")
raw_clicks = DataSource("raw_clicks_kafka_topic", type="kafka_topic")
user_impressions_7d = Feature("user_impressions_7d", value_type="int", entity="user")
user_clicks_7d = Feature("user_clicks_7d", value_type="int", entity="user")
user_ctr_7d = Feature("user_ctr_7d", value_type="float", entity="user")


def make_events(n):
    """Synthetic (user, ad) events."""
    return [(i % 7, i % 3) for i in range(n)]


@log_lineage(inputs=[], outputs=[raw_clicks], name="land_raw_clicks", version="1.0")
def land_raw_clicks():
    return make_events(30)


@log_lineage(
    inputs=[raw_impressions, raw_clicks],
    outputs={user_impressions_7d: [raw_impressions], user_clicks_7d: [raw_clicks]},
    name="calculate_user_counts_7d",
    version="1.0",
    compute_framework="Spark",
)
def calculate_user_counts_7d(impressions, clicks):
    shown = {}
    for user, _ in impressions:
        shown[user] = shown.get(user, 0) + 1
    clicked = {}
    for user, _ in clicks:
        clicked[user] = clicked.get(user, 0) + 1
    return shown, clicked


@log_lineage(
    inputs=[user_impressions_7d, user_clicks_7d],
    outputs=[user_ctr_7d],
    name="calculate_user_ctr",
    version="1.0",
    compute_framework="pandas",
)
def calculate_user_ctr(shown, clicked, fail=False):
    if fail:
        raise ZeroDivisionError("no impressions at all")
    return {user: clicked.get(user, 0) / n for user, n in shown.items()}


def main(stages):
    shown, clicked = {1: 2}, {1: 1}
    for stage in stages:
        if stage == "clicks":
            land_raw_clicks()
        elif stage == "counts":
            shown, clicked = calculate_user_counts_7d(make_events(100), make_events(10))
        elif stage == "ctr":
            calculate_user_ctr(shown, clicked)
        elif stage == "fail-ctr":
            with contextlib.suppress(ZeroDivisionError):
                calculate_user_ctr(shown, clicked, fail=True)
    lineage_sdk.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
