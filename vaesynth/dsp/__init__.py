"""Pure functions on arrays (the ground floor): spectral analysis and features, phase reconstruction, f0."""
