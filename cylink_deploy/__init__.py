"""Cylink's deploy tool: build and lint the templates, then ship them through reviewed change sets.

Every AWS step is a function that takes its boto3 client(s) as arguments and returns data or raises a
named error from ``errors``; printing lives in ``report``; ``cli`` wires the two together.
"""
