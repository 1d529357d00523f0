"""Infrastructure: loopback services for tests and the demo (``infra.local``) and deployable templates.

Only ``infra.local`` is Python; the other folders hold YAML manifests and a Dockerfile. Import it
from the repository root (``python -m infra.local.cluster ...``); tests reach it through
``tests/conftest_infra.py``.
"""
