"""The policy file: schema, loading, layering over the org default, waivers."""
