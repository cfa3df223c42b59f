"""Helpers for compute engines. Each lives in its own module and imports its engine only when used.

- :mod:`lineage_sdk.integrations.spark`: runs recorded on Spark executors with the driver's run as
  parent, and the datasets a DataFrame reads (``pip install 'feature-lineage-sdk[spark]'``).
"""
