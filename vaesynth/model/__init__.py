"""A trained model, on disk and in memory: bundles (validated), the catalog of models, the nn.Modules."""
