"""Django admin for researchers. Writes that carry rules go through labeling.services: creating a study,
changing its scheme (a used version is frozen: a change makes the next one), uploading clips, withdrawing
a participant, importing self-reports. Queue state and submitted labels are read-only here; self-reports
too, except that a study's researchers may delete them (how a wrong import is undone). Staff who are not
superusers see only the studies they are researchers of. One module per area; labeling/admin/base.py holds
the scoped admin they all build on."""

from labeling.admin import clips, labels, people, self_reports, studies  # noqa: F401  (each registers its admins)
