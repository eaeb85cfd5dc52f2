"""Pages an annotator touches: entry (log-in, invite, crowd link), consent, the queue, rating, the end."""

from .entry import crowd_entry, home, invite_entry
from .study import consent, declined, done, queue, rate

__all__ = ["consent", "crowd_entry", "declined", "done", "home", "invite_entry", "queue", "rate"]
