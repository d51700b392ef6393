"""Chart tooling: helm lint/template over every profile (chart.py) and the values schema and
docs generated from the annotated values files (schema.py). `python -m ci.chart --help`."""
