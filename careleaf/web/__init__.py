"""The front desk's web app (careleaf serve): see app.py for its routes."""
