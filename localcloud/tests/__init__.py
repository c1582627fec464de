"""Tests of the local cloud; run with `PYTHONPATH=localcloud python3 -m unittest discover -s localcloud/tests`."""
