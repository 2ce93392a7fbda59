"""Requests for load-testing the service: realistic patients, batches and bad requests."""
