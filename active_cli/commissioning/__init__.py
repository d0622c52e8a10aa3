"""The guided power-on sequence (`active commission`) and the session record it writes.

`session` holds the record's dataclasses and its file format; the steps
themselves (one module each) fill it, one step at a time.
"""
