"""The JSON/REST API (DRF): the annotation client's calls, researchers' endpoints, accounts.

Routes are in labeling/api/urls.py (mounted at /api/); OpenAPI at /api/schema/, Swagger UI at /api/docs/.
"""
