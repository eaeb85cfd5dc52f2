"""Signals that other apps answer, so that labeling never imports them (tests/test_import_rules.py).

- ``data_withdrawn``: a participant was withdrawn, or an annotator's labels were, with ``kind``
  ("participant" or "annotator"), ``study_id``, ``subject_id`` (the participant's id, or the annotator's user
  id) and ``at`` (the withdrawal's time). Sent inside the withdrawal's transaction, after its writes: what a
  receiver writes commits with the withdrawal or not at all, and a receiver that fails refuses the
  withdrawal (nothing changed). Not after commit: a process dying between the two commits would leave
  exports unmarked for good, and a download could slip in between. The exports app marks the exports that
  hold the data (exports/receivers.py): a quick UPDATE of a few rows; a receiver must stay that quick.
- ``annotator_reinstating``: sent by annotator_labels_reinstate inside its transaction, before anything
  changes, with ``study_id``, ``annotator_id`` and ``withdrawn_at``. A receiver refuses the reinstatement by
  raising a labeling.errors.ServiceError (Conflict); the service then changes nothing. The exports app
  refuses once an export has been built since the withdrawal (it left those labels out, and a dataset
  released without them cannot take them back).
"""

from django.dispatch import Signal

data_withdrawn = Signal()
annotator_reinstating = Signal()

PARTICIPANT = "participant"
ANNOTATOR = "annotator"
PARTICIPANT_SCOPE = "participant_scope"
