"""The HTTP door: request guards, keys at the edge, body parsing, admission, drain and respawn."""
