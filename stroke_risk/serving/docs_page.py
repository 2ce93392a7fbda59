"""The Swagger UI page at ``/``, without third-party scripts.

BentoML's own page (``_bentoml_impl/server/main-openapi.html``) loads Google Tag Manager,
a tracker a clinical tool must not send its users to. This one is the same page without
it, using the Swagger UI files BentoML ships and serves itself (``/static_content/``), and
it is sent with a Content-Security-Policy that lets the browser load scripts, styles and
the document from this service only.
"""

from __future__ import annotations

PAGE = b"""<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>Stroke-risk service API</title>
    <link rel="stylesheet" type="text/css" href="./static_content/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="./static_content/index.css" />
    <link rel="icon" type="image/png" href="./static_content/favicon-light-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="./static_content/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
"""

# Swagger UI sets inline styles and shows schema images as data: URLs; nothing else.
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    b"frame-ancestors 'none'"
)

HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(PAGE)).encode()),
    (b"content-security-policy", CONTENT_SECURITY_POLICY),
    (b"x-content-type-options", b"nosniff"),
]
