import pytest

from labeling.tasks import compute_agreement


@pytest.fixture
def sent(monkeypatch):
    """Messages the services send to the broker (report ids), instead of sending them."""
    calls = []
    monkeypatch.setattr(compute_agreement, "apply_async", lambda args, **kw: calls.append(args[0]))
    return calls
