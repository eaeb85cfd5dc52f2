import pytest


@pytest.fixture
def exports_root(settings, tmp_path):
    """Exports are built into a folder of this test's own."""
    settings.EXPORTS_ROOT = tmp_path / "exports"
    return settings.EXPORTS_ROOT
