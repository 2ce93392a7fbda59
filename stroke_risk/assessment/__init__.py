"""The clinical reply: estimate, band, interval, peers, drivers, what-ifs and warnings."""
