"""The lowest layer: what every other layer shares.

Rules with no dependency at all (booleans, errors, context) import nothing of sharebackup;
runtime.py, the one object a process hands around, ties config, database and policy together
and may import just those three (tests/unit/test_layering.py).
"""
