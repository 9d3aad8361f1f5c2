"""Puts the project root on sys.path, as `pulumi` does when it runs `__main__.py`."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# Fixtures of the engine-level tests (tests/test_engine_*.py, tests/test_component_package.py).
import pytest


@pytest.fixture
def fake_cas():
    """The fake Certificate Management endpoint on 127.0.0.1, accepting the engine tests' access key."""
    from tests.engine.workspace import ACCESS_KEY
    from tests.fake_cas import FakeCas

    with FakeCas(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}) as fake:
        yield fake


@pytest.fixture
def fake_pca(fake_cas):
    """The fake PCA (API 2020-06-30) on 127.0.0.1, accepting the engine tests' access key; its endpoint
    answers Certificate Management's 2020-04-07 calls with `fake_cas`, as the one real `cas` endpoint does."""
    from tests.engine.workspace import ACCESS_KEY
    from tests.fake_pca import FakePca

    with FakePca(credentials={ACCESS_KEY[0]: ACCESS_KEY[1]}, cas=fake_cas) as fake:
        yield fake


@pytest.fixture
def workspace(tmp_path):
    """A throw-away copy of the program on the engine `make engine` builds."""
    from tests.engine.workspace import EngineWorkspace, require_engine

    require_engine()
    return EngineWorkspace(tmp_path)
