"""Django admin for researchers. Writes that carry rules go through labeling.services: creating a study,
changing its scheme (a used version is frozen: a change makes the next one), uploading clips, withdrawing
a participant. Queue state and submitted labels are read-only here. Staff who are not superusers see only
the studies they are researchers of. One module per area;
labeling/admin/base.py holds the scoped admin they all build on."""

from labeling.admin import clips, labels, people, studies  # noqa: F401  (each registers its admins)
