"""Stroke-risk estimation shared by training, the service and the app."""
