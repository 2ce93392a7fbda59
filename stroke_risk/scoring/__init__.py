"""The trained model as plain numpy (lean model, training profile) and reading it back."""
