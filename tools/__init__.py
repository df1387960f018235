"""Scripts the project runs on itself (CI, tox), not part of the wheel."""
