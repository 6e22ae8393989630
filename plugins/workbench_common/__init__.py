"""The `common` built-in plugin: generic components every study needs (scikit-learn models,
standard metrics, raw/concatenated representations, a CSV dataset, generic figures)."""
