"""What every stage shares: patient schema, settings, age bands, reply models, table reader."""
