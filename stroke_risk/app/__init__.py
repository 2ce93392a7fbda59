"""The clinic app's helpers: the service client, the form and result views, batch upload."""
