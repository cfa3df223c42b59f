__version__ = "0.1.0"

#: The name to ``pip install`` (the import package is ``lineage_sdk``).
DISTRIBUTION = "feature-lineage-sdk"
#: The project's home: OpenLineage producer URI and custom facet schemas point here.
HOMEPAGE = "https://github.com/feature-lineage-sdk/feature-lineage-sdk"
