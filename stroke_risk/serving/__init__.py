"""The HTTP service's assessor (band, peers, drivers, what-ifs, warnings) and request guards."""
