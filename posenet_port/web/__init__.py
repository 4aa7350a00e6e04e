"""The browser page (index.html, app.js) and its server."""
