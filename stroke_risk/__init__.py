"""Stroke-risk estimation shared by training, the service, the app and population scoring.

Sub-packages, by stage (imports point inwards: every one may use ``core``; ``assessment``,
``serving``, ``fhir``, ``population``, ``app`` and ``loadtest`` never import ``training`` or
``validation``; only ``service.py`` imports ``serving``):

- ``core``: the patient schema, settings, reply models, key ring and table reader, shared.
- ``training``: data set, features, model families, selection, bootstrap refits, store.
- ``validation``: how good the chosen model is and for whom, and the model card saying so.
- ``scoring``: the trained model as plain numpy (lean model, profile) and reading it back.
- ``assessment``: the clinical reply (band, interval, peers, drivers, what-ifs, warnings).
- ``serving``: the HTTP door: request guards, body parsing, admission, drain, respawn.
- ``fhir``: FHIR R4 in, a RiskAssessment and CDS Hooks cards out, scored by ``assessment``.
- ``population``: population worklists on Spark, scored by ``assessment``.
- ``app``: the clinic app's client, views and batch upload, none of which calls Streamlit.
- ``loadtest``: realistic and deliberately bad requests for the load test.
"""

from stroke_risk._moved_modules import install as _install_moved_modules

# Models pickled before the package was grouped by stage name the old module paths.
_install_moved_modules()
