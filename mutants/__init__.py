"""The suite's own mutation score (``tox -e mutants``; not part of the installed package).

``python -m mutants.run`` serves each mutant of the reference (``mutants.table``) through
``iamconf serve`` on loopback, runs the conformance suites against it through the
``aws-simulator`` target's code with the ``ci`` profile, and prints the score.
"""
