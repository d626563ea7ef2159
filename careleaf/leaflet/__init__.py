"""One leaflet put together from the catalog and drawn as HTML, with its timeline picture and QR code."""
