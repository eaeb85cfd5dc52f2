"""Video files: probe.py checks and probes untrusted uploads (no Django imports: it also runs as the child
process that decodes them), views.py serves clips and posters to the members of their study, urls.py routes
those views."""
