"""From the data set to a calibrated model in the store: features, families, selection, reports."""
