"""Stroke-risk estimation shared by training, the service, the app and population scoring.

Sub-packages, by stage (imports point inwards: every one may use ``core``; ``serving``,
``app`` and ``loadtest`` never import ``training``):

- ``core``: the patient schema, settings, reply models and table reader everything shares.
- ``training``: data set, features, model families, selection, evaluation, reports, store.
- ``scoring``: the trained model as plain numpy (lean model, profile) and reading it back.
- ``serving``: the HTTP service's assessor (band, peers, drivers, what-ifs) and guards.
- ``app``: the clinic app's client, views and batch upload, none of which calls Streamlit.
- ``loadtest``: realistic and deliberately bad requests for the load test.
"""

from stroke_risk._moved_modules import install as _install_moved_modules

# Models pickled before the package was grouped by stage name the old module paths.
_install_moved_modules()
