"""What the tests share, in one package: building data through the service's own functions and
API (``api``, ``lifecycle``, ``stores``), running the real service and its databases
(``servers``, ``databases``, ``clusters``, ``ops``, ``load``), the route table (``routes``) and
the OpenAPI document (``openapi``). Test modules import from here, never from each other."""

from pathlib import Path

# The repository's root (README.md, Makefile, scripts/).
ROOT = Path(__file__).resolve().parents[2]
